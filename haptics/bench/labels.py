"""`haptics bench labels`: agreement time over a large log, and append latency under 8 writers.

- Agreement: 1,000 sessions × 3 annotators × 20 interval answers (nominal phases, 20 s
  sessions, boundaries jittered and some labels swapped) written to a SQLite store, then the
  log read back and Krippendorff's alpha computed per key, per pair and per 1 s window on the
  10 ms grid. Target ≤ 5 s (load + compute).
- Append: 8 writer processes append one answer per transaction as fast as they can; the
  latency of every append (call to return, retries included) → p50 / p99 / max. Target p99
  ≤ 10 ms on SQLite; the same figure on PostgreSQL (a server by `--pg URL`, or a throwaway
  one started from the local PostgreSQL binaries).

`python -m haptics.bench.labels writer URL PERSON N` is one writer: it prints each committed
answer's id and latency, one JSON line per answer, as soon as the commit returns.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from haptics.dataset import schema
from haptics.dataset.agreement import agreement
from haptics.dataset.store import LabelStore, NewAnswer, SessionRecord, now_utc
from haptics.dataset.taxonomy import builtin_taxonomies
from haptics.errors import StoreError

PHASES = ("approach", "contact", "insertion", "puncture", "retraction")
BENCH_SESSION = "bench-session"


# -- agreement -----------------------------------------------------------------------------------
def synthetic_log(
    sessions: int, annotators: int, intervals: int, seed: int = 0
) -> tuple[list[SessionRecord], list[dict[str, Any]]]:
    """Sessions of `intervals` seconds, each annotator labeling `intervals` 1 s intervals:
    boundaries jittered by up to ±50 ms, one label in ten swapped (answers as table rows)."""
    rng = np.random.default_rng(seed)
    recs, rows = [], []
    stamp = now_utc()
    for s in range(sessions):
        sid = f"s{s:05d}"
        start = 10**12 + s * 10**11
        end = start + intervals * 10**9
        recs.append(
            SessionRecord(
                sid,
                sid,
                "needle",
                "simulated",
                "simulated",
                start,
                end,
                float(intervals),
                True,
                stamp,
            )
        )
        truth = rng.integers(0, len(PHASES), intervals)
        for a in range(annotators):
            cuts = start + np.arange(intervals + 1) * 10**9
            cuts[1:-1] += rng.integers(-50, 51, intervals - 1) * 10**6
            labels = truth.copy()
            swap = rng.random(intervals) < 0.1
            labels[swap] = rng.integers(0, len(PHASES), int(swap.sum()))
            for i in range(intervals):
                rows.append(
                    {
                        "session_id": sid,
                        "target": "interval",
                        "t0_ns": int(cuts[i]),
                        "t1_ns": int(cuts[i + 1]),
                        "taxonomy": "needle-phases",
                        "key": "phase",
                        "value": json.dumps(PHASES[labels[i]]),
                        "annotator_id": f"annotator{a}",
                        "role": "annotator",
                        "created_at": stamp,
                    }
                )
    return recs, rows


def bench_agreement(
    workdir: Path, sessions: int = 1000, annotators: int = 3, intervals: int = 20
) -> dict[str, Any]:
    """Write a synthetic log to a SQLite store, then time reading it back and computing
    agreement (per key, per pair, per 1 s window)."""
    store = LabelStore(workdir / "agreement.sqlite")
    try:
        store.add_taxonomy(builtin_taxonomies()["needle-phases"])
        recs, rows = synthetic_log(sessions, annotators, intervals)
        with store._write_engine.begin() as conn:  # bulk set-up, not the measured path
            conn.execute(
                schema.people.insert(),
                [
                    {"person_id": f"annotator{a}", "role": "annotator", "created_at": now_utc()}
                    for a in range(annotators)
                ],
            )
            conn.execute(schema.sessions.insert(), [r.as_dict() for r in recs])
            conn.execute(schema.answers.insert(), rows)
        t0 = time.perf_counter()
        answers, _ = store.log_tables()
        t_load = time.perf_counter() - t0
        catalog = {r.session_id: r for r in store.sessions()}
        tax = store.taxonomy("needle-phases")
        t1 = time.perf_counter()
        stats = agreement([tax], answers, catalog)
        t_compute = time.perf_counter() - t1
    finally:
        store.close()
    ka = stats[0]
    return {
        "sessions": sessions,
        "annotators": annotators,
        "intervals_per_annotator": intervals,
        "answers": len(rows),
        "grid_units": ka.units,
        "windows": len(ka.windows),
        "alpha": ka.alpha,
        "load_s": round(t_load, 3),
        "compute_s": round(t_compute, 3),
        "total_s": round(t_load + t_compute, 3),
        "target_s": 5.0,
    }


# Paced writers: 20 answers a second each (8 writers: 160 a second, far above what a team of
# people labels), the load an annotator's own append sees while the others write. Flat out,
# 8 writers are 8 busy processes on however many cores the machine has: on 2 cores each
# append then also waits for a core (the figure says what the machine can do, not the store).
PACED_INTERVAL_MS = 50.0


# -- append latency -----------------------------------------------------------------------------
def prepare_append_store(url: str, writers: int) -> None:
    """Migrate the store and register one model per writer and the bench session."""
    store = LabelStore(url)
    try:
        store.add_taxonomy(builtin_taxonomies()["tissue-events"])
        store.put_session(SessionRecord(BENCH_SESSION, "-", None, None, None, 0, 10**15, 1e6, None))
        for w in range(writers):
            store.add_person(f"model:writer{w}", "model")
    finally:
        store.close()


def writer(url: str, person: str, n: int, interval_ms: float = 0.0) -> None:
    """Append `n` answers as `person`, printing {"id", "latency_ms"} after each commit.

    Prints "ready" once connected and warmed up, then waits for a line on stdin (so that
    every writer starts appending at the same moment, none still importing).
    `interval_ms` 0: back to back, flat out. Above 0: paced on a fixed schedule (answer i
    due at start + i·interval, a random phase per writer), and the latency counts from when
    the answer was due, so a writer that falls behind reports its queueing too.
    """
    store = LabelStore(url, migrate=False)
    out = sys.stdout
    try:
        store.role_of(person)
        store.taxonomy("tissue-events")
        store.session(BENCH_SESSION)
        out.write("ready\n")
        out.flush()
        sys.stdin.readline()
        start = time.perf_counter() + random.random() * interval_ms / 1e3
        for i in range(n):
            ans = NewAnswer(
                BENCH_SESSION,
                "tissue-events",
                "event",
                "contact",
                t0_ns=(i + 1) * 1_000_000,
                detector="bench",
                confidence=0.5,
            )
            t = time.perf_counter()
            if interval_ms > 0:
                due = start + i * interval_ms / 1e3
                if due > t:
                    time.sleep(due - t)
                t = due
            aid = store.add_answer(ans, person)
            lat = (time.perf_counter() - t) * 1e3
            out.write(json.dumps({"id": aid, "latency_ms": round(lat, 4)}) + "\n")
            out.flush()
    finally:
        store.close()


def start_writers(
    url: str, writers: int, n: int, interval_ms: float = 0.0
) -> list[subprocess.Popen[str]]:
    """Start `writers` writer processes (see `writer`), wait until each is ready, then let
    them all go at once."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "haptics.bench.labels",
                "writer",
                url,
                f"model:writer{w}",
                str(n),
                str(interval_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            err = p.stderr.read() if p.stderr is not None else ""
            for q in procs:
                q.kill()
            raise StoreError(f"a writer failed to start: {line.strip()} {err.strip()}")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def bench_append(
    url: str, writers: int = 8, per_writer: int = 200, interval_ms: float = 0.0
) -> dict[str, Any]:
    """Append latency percentiles with `writers` processes writing at once: flat out
    (`interval_ms` 0), or each paced at one answer per `interval_ms`."""
    prepare_append_store(url, writers)
    procs = start_writers(url, writers, per_writer, interval_ms)
    t0 = time.perf_counter()  # every writer started and ready: from "go" on
    latencies: list[float] = []
    errors: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        latencies += [json.loads(line)["latency_ms"] for line in out.splitlines() if line]
        if p.returncode != 0:
            errors.append(err.strip().splitlines()[-1] if err.strip() else f"exit {p.returncode}")
    wall = time.perf_counter() - t0
    lat = np.array(latencies) if latencies else np.zeros(1)
    return {
        "writers": writers,
        "per_writer_per_s": round(1e3 / interval_ms, 1) if interval_ms > 0 else None,
        "answers": len(latencies),
        "expected": writers * per_writer,
        "errors": errors,
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "max_ms": round(float(lat.max()), 3),
        "answers_per_s": round(len(latencies) / wall, 1),
        "target_p99_ms": 10.0,
    }


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server from the local binaries in a temporary folder, for the length of
    the block; yields its URL. As root, the server runs as the `postgres` user (initdb
    refuses root). Raises StoreError if there are no binaries or it does not start."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    bindir = Path(found[-1]).parent if found else None
    if bindir is None and shutil.which("initdb"):
        bindir = Path(str(shutil.which("initdb"))).parent
    if bindir is None:
        raise StoreError("no PostgreSQL binaries; run scripts/install-postgres.sh or pass --pg")
    base = Path(tempfile.mkdtemp(prefix="haptics-bench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    data = base / "data"
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-o",
                f"-p {port} -k {base} -h 127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise StoreError(f"could not start a throwaway PostgreSQL: {exc}") from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(base, ignore_errors=True)


def run_labels_bench(
    sessions: int = 1000,
    writers: int = 8,
    per_writer: int = 200,
    pg_url: str | None = None,
    postgres: bool = True,
) -> dict[str, Any]:
    """Every figure of `haptics bench labels`."""
    with tempfile.TemporaryDirectory(prefix="haptics-bench-labels-") as tmp:
        work = Path(tmp)
        result: dict[str, Any] = {"agreement": bench_agreement(work, sessions)}
        result["append_sqlite"] = bench_append(str(work / "append.sqlite"), writers, per_writer)
        result["append_sqlite_paced"] = bench_append(
            str(work / "paced.sqlite"), writers, per_writer, PACED_INTERVAL_MS
        )
    if pg_url is not None:
        result["append_postgresql"] = bench_append(pg_url, writers, per_writer)
    elif postgres:
        with throwaway_postgres() as url:
            result["append_postgresql"] = bench_append(url, writers, per_writer)
        with throwaway_postgres() as url:
            result["append_postgresql_paced"] = bench_append(
                url, writers, per_writer, PACED_INTERVAL_MS
            )
    return result


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "writer":
        writer(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit("usage: python -m haptics.bench.labels writer URL PERSON N INTERVAL_MS")
