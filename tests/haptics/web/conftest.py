"""Fixtures of the workbench tests: the real ASGI app over a real dataset, through httpx2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from haptics.web.app import create_app
from tests.haptics.web.workbench_builders import PEOPLE, Bench, login, make_dataset


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return make_dataset(tmp_path / "ds")


@pytest.fixture
def app_client(bench: Bench) -> Iterator[TestClient]:
    """An anonymous client of a fresh app over `bench`."""
    with TestClient(create_app(bench.dir, secret="test-secret")) as c:
        yield c


@pytest.fixture
def clients(bench: Bench) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """One logged-in client (and CSRF token) per person of PEOPLE, over one app."""
    app = create_app(bench.dir, secret="test-secret")
    out: dict[str, tuple[TestClient, str]] = {}
    with TestClient(app) as first:
        out["alice"] = (first, login(first, "alice"))
        for name, _ in PEOPLE[1:]:
            c = TestClient(app)
            out[name] = (c, login(c, name))
        yield out
