"""Builders of the workbench tests: a real dataset (a session written by the recorder
code, the built-in taxonomies, a SQLite label store) with logins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from haptics.dataset.catalog import init_dataset
from haptics.dataset.store import Item
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


def login(client: TestClient, user: str) -> str:
    """Log `client` in as `user`; the CSRF token to send on writes."""
    r = client.post("/api/login", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])
