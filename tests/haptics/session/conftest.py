"""Fixtures for the session tests (builders in session_builders.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from session_builders import write_session


@pytest.fixture
def make_session(tmp_path: Path) -> Callable[..., Path]:
    """write_session into a fresh folder under tmp_path (name it with `name=`)."""

    def make(name: str = "s", **kwargs: object) -> Path:
        return write_session(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make
