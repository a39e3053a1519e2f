"""Fixtures of the label-store tests: a real SQLite file and a real, throwaway PostgreSQL.

PostgreSQL comes from the Debian package `scripts/install-postgres.sh` installs (`make test`
runs it first), started by pytest-postgresql's `PostgreSQLExecutor` (initdb, pg_ctl start,
stop). initdb refuses to run as root, so when the tests run as root the executor is pointed
at a two-line wrapper that runs the real pg_ctl as the `postgres` system user, in a temporary
folder owned by that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql.executors import PostgreSQLExecutor

from haptics.dataset.store import LabelStore, SessionRecord
from haptics.dataset.taxonomy import builtin_taxonomies

BACKENDS = ["sqlite", "postgresql"]


def find_pg_ctl() -> str:
    """The newest Debian pg_ctl, else the one on PATH; fails the run if there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return found[-1]
    on_path = shutil.which("pg_ctl")
    if on_path:
        return on_path
    pytest.fail("no pg_ctl: run scripts/install-postgres.sh (make test does) and retry")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgreSQLExecutor]:
    """A PostgreSQL server of our own for the whole test run (trust auth on 127.0.0.1)."""
    pg_ctl = find_pg_ctl()
    base = Path(tempfile.mkdtemp(prefix="haptics-pg-"))
    executable = pg_ctl
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        wrapper = base / "pg_ctl-as-postgres"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u postgres -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        executable = str(wrapper)
    server = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=_free_port(),
        datadir=str(base / "data"),
        unixsocketdir=str(base),
        logfile=str(base / "server.log"),
        startparams="-w",
        dbname="postgres",
        postgres_options="-c fsync=on -c max_connections=100",
    )
    server.start()
    _wait_until_accepting(server)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_accepting(server: PostgreSQLExecutor, timeout_s: float = 120.0) -> None:
    """pg_ctl may return while the server still says "starting up" (a busy machine)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            psycopg.connect(
                host=server.host, port=server.port, user=server.user, dbname="postgres"
            ).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fresh_postgres_url(server: PostgreSQLExecutor) -> str:
    """A new, empty database on the test server; its postgresql:// URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{server.user}@{server.host}:{server.port}/{name}"


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
    from haptics.dataset.store import Item

    st.assign(
        [Item("s1", "needle-phases", "phase"), Item("s1", "tissue-events", "event")],
        ["alice", "bob"],
        "root",
    )
    try:
        yield st
    finally:
        st.close()
