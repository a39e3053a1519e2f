"""Fixtures of the label-store tests: a real SQLite file and a real, throwaway PostgreSQL
(`tests/pg_server.py`); `store_url` runs a test on both back-ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from haptics.dataset.store import Item, LabelStore, SessionRecord
from haptics.dataset.taxonomy import builtin_taxonomies
from tests.pg_server import fresh_postgres_url, postgres_server

__all__ = ["postgres_server"]

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty label store location on each back-end: a SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "labels.sqlite")
    return fresh_postgres_url(request.getfixturevalue("postgres_server"))


SESSION = SessionRecord(
    session_id="s1",
    path="sessions/s1",
    scene="needle",
    device="simulated",
    provenance="simulated",
    start_ns=1_000_000_000,
    end_ns=4_000_000_000,  # 3 s
    duration_s=3.0,
    qa_passed=True,
)


@pytest.fixture
def store(store_url: str) -> Iterator[LabelStore]:
    """A migrated store with the built-in taxonomies, session s1 (3 s), annotators alice and
    bob, reviewer carol, admin root; alice and bob assigned to s1's needle phase and events."""
    st = LabelStore(store_url)
    for text in builtin_taxonomies().values():
        st.add_taxonomy(text)
    st.put_session(SESSION)
    for person, role in [
        ("alice", "annotator"),
        ("bob", "annotator"),
        ("dave", "annotator"),
        ("carol", "reviewer"),
        ("root", "admin"),
    ]:
        st.add_person(person, role)
    st.assign(
        [Item("s1", "needle-phases", "phase"), Item("s1", "tissue-events", "event")],
        ["alice", "bob"],
        "root",
    )
    try:
        yield st
    finally:
        st.close()
