"""A throwaway PostgreSQL server for the tests that need one (label store, labeling).

PostgreSQL comes from the Debian package `make test` installs (scripts/install-system-deps.sh),
started by pytest-postgresql's `PostgreSQLExecutor` (initdb, pg_ctl start, stop). initdb
refuses to run as root, so when the tests run as root the executor is pointed at a two-line
wrapper that runs the real pg_ctl as the `postgres` system user, in a temporary folder owned
by that user. Import `postgres_server` (a session fixture) into a conftest or test module.
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
        # fsync off: the tests kill clients, never the server or the machine; it saves
        # minutes of disk flushes on a busy machine (the bench keeps fsync on)
        postgres_options="-c fsync=off -c full_page_writes=off -c max_connections=100",
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
