"""A real dataset (a session written by the recorder code, the built-in taxonomies, a
SQLite label store) and logins, served by the real ASGI app through httpx."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from haptics.dataset.catalog import init_dataset
from haptics.dataset.store import Item
from haptics.web.app import create_app
from haptics.web.users import Users
from tests.haptics.session.session_builders import write_session

PASSWORD = "correct horse battery"
PEOPLE = [("alice", "annotator"), ("bob", "annotator"), ("carol", "reviewer"), ("root", "admin")]


@dataclass
class Bench:
    dir: Path
    session_id: str
    start_ns: int
    end_ns: int


def make_dataset(root: Path, n: int = 3000) -> Bench:
    """A dataset with one 1 kHz session of `n` ticks, the users of PEOPLE, and alice and bob
    assigned to its needle phases and tissue events."""
    ds = init_dataset(root)
    try:
        write_session(root / "sessions" / "s1", n=n)
        (rec,), problems = ds.index()
        assert not problems
        users = Users(root, ds.store)
        for name, role in PEOPLE:
            users.add(name, PASSWORD, role)
        ds.store.assign(
            [
                Item(rec.session_id, "needle-phases", "phase"),
                Item(rec.session_id, "tissue-events", "event"),
            ],
            ["alice", "bob"],
            "root",
        )
        return Bench(root, rec.session_id, rec.start_ns, rec.end_ns)
    finally:
        ds.close()


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return make_dataset(tmp_path / "ds")


@pytest.fixture
def app_client(bench: Bench) -> Iterator[TestClient]:
    """An anonymous client of a fresh app over `bench`."""
    with TestClient(create_app(bench.dir, secret="test-secret")) as c:
        yield c


def login(client: TestClient, user: str) -> str:
    """Log `client` in as `user`; the CSRF token to send on writes."""
    r = client.post("/api/login", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])


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
