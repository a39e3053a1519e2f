"""Real writer processes on both back-ends: 8 at once lose nothing and never see "database is
locked"; kill -9 of a writer mid-stream loses nothing it had committed."""

from __future__ import annotations

import json
import os
import signal
import time

import sqlalchemy as sa

from haptics.bench.labels import BENCH_SESSION, prepare_append_store, start_writers
from haptics.dataset.store import LabelStore, NewAnswer


def committed_ids(url: str) -> set[int]:
    store = LabelStore(url, migrate=False)
    try:
        with store.engine.connect() as c:
            return set(c.execute(sa.text("SELECT id FROM answers")).scalars().all())
    finally:
        store.close()


def test_eight_writers_lose_nothing_and_never_see_locked(store_url: str) -> None:
    writers, per_writer = 8, 25
    prepare_append_store(store_url, writers)
    procs = start_writers(store_url, writers, per_writer)
    reported: list[int] = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower(), err
        reported += [json.loads(line)["id"] for line in out.splitlines() if line]
    assert len(reported) == writers * per_writer == len(set(reported))
    assert committed_ids(store_url) == set(reported)


def test_kill_9_of_a_writer_loses_nothing_committed(store_url: str) -> None:
    prepare_append_store(store_url, 2)
    victim, other = start_writers(store_url, 2, 100_000)
    assert victim.stdout is not None
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while len(seen) < 30 and time.monotonic() < deadline:
        line = victim.stdout.readline()
        if line:
            seen.append(json.loads(line)["id"])
    os.kill(victim.pid, signal.SIGKILL)  # mid-stream: almost surely inside a transaction
    rest, _ = victim.communicate(timeout=30)
    seen += [json.loads(line)["id"] for line in rest.splitlines() if line.strip()]
    assert victim.returncode == -signal.SIGKILL
    other.kill()
    other.communicate(timeout=30)
    assert len(seen) >= 30
    ids = committed_ids(store_url)
    assert set(seen) <= ids  # every id the writer was told was committed is there
    # the store is not left locked: a new writer appends at once
    store = LabelStore(store_url, migrate=False)
    try:
        t = time.monotonic()
        new = store.add_answer(
            NewAnswer(
                BENCH_SESSION,
                "tissue-events",
                "event",
                "contact",
                t0_ns=1,
                detector="bench",
                confidence=0.5,
            ),
            "model:writer0",
        )
        assert time.monotonic() - t < 5.0
        assert new not in ids
        if store.dialect == "sqlite":
            with store.engine.connect() as c:
                assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        store.close()
