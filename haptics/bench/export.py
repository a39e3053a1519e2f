"""`haptics bench export`: export and ranking speed.

Sessions are written synthetically exactly as the recorder writes them (same layouts, Arrow
schema and record batches; `synthetic_session`), like `haptics bench read`:
- one hour at 1 kHz exported to Parquet (target ≤ 10 s);
- N ten-second sessions exported on a Dask LocalCluster against the same work serially in
  one process (the speed-up);
- ranking 1,000 sessions by novelty from their features (target ≤ 10 s).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.session.manifest import Manifest, StreamInfo, write_manifest
from haptics.session.recorder import RecorderConfig
from haptics.session.streams import arrow_schema
from haptics.wire.messages import LAYOUTS

RATE_HZ = 1000
BATCH = round(float(RecorderConfig.model_fields["batch_s"].default) * RATE_HZ)


def synthetic_session(
    root: Path,
    seconds: float,
    seed: int = 0,
    press_n: float = 1.0,
    presses: int = 3,
    provenance: str = "simulated",
    session_id: str | None = None,
) -> Path:
    """Write a session folder at `root` with `seconds` of 1 kHz state, command and telemetry:
    a tool pressing `presses` times up to `press_n` newtons, with sensor noise from `seed`."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    t = np.arange(n, dtype=np.int64) * 1_000_000 + 1_000_000_000
    phase = np.linspace(0, presses * np.pi, n)
    press = np.clip(np.sin(phase), 0, None)
    root.mkdir(parents=True, exist_ok=True)
    m = Manifest(loop={"rate_hz": float(RATE_HZ)}, provenance=provenance)
    m.session_id = session_id or uuid.uuid4().hex[:12]
    for name, layout in LAYOUTS.items():
        arr = np.zeros(n, dtype=layout.dtype)
        arr["kind"], arr["version"] = layout.kind, layout.version
        for col in layout.names[2:]:
            if col in ("seq", "tick", "state_seq"):
                arr[col] = np.arange(1, n + 1)
            elif col.endswith("_ns"):
                arr[col] = t
        noise = rng.standard_normal((n, 3)) * 0.002
        if name == "state":
            arr["fz"] = press * press_n + noise[:, 2]
            arr["fx"], arr["fy"] = noise[:, 0], noise[:, 1]
            arr["pz"] = -0.01 * press
            arr["px"] = 0.02 * np.sin(phase / 3)
            arr["vz"] = np.gradient(arr["pz"]) * RATE_HZ
            arr["vx"] = np.gradient(arr["px"]) * RATE_HZ
        elif name == "telemetry":
            arr["contact"] = (press > 0.05).astype(arr["contact"].dtype)
            arr["depth_m"] = 0.01 * press
            arr["tissue_force_n"] = press * press_n
            arr["tool_z"] = -0.01 * press
        elif name == "command":
            arr["fz"] = -press * press_n
        schema = arrow_schema(layout)
        cols = layout.names[2:]
        table = pa.Table.from_arrays([pa.array(np.ascontiguousarray(arr[c])) for c in cols],
                                     schema=schema)
        with pa.OSFile(str(root / f"{name}.arrows"), "wb") as sink, pa.ipc.new_stream(
            sink, schema
        ) as w:
            for batch in table.to_batches(max_chunksize=BATCH):
                w.write_batch(batch)
        m.streams[name] = StreamInfo(file=f"{name}.arrows", layout=name,
                                     layout_version=layout.version, received=n, published=n)
    m.status = "complete"
    write_manifest(root, m)
    return root


def _bench_hour(root: Path, hours: float) -> dict[str, Any]:
    from haptics.dataset.export.runner import Job, export_task

    src = synthetic_session(root / "hour", hours * 3600, session_id="hour")
    t = time.perf_counter()
    r = export_task(Job("hour", str(src), "simulated"), "parquet", str(root / "out-hour"))
    total = time.perf_counter() - t
    if r["status"] != "exported":
        raise RuntimeError(f"the hour did not export: {r.get('reason')}")
    return {"hours": hours, "rows": sum(r["rows"].values()), "export_s": round(total, 2),
            "target_s": 10.0 * hours, "includes": "read, write (zstd), read-back check"}


def _warm_worker() -> None:
    """Import what an export task needs (a worker's one-time cost, timed with the start)."""
    import pyarrow.dataset  # noqa: F401  (pyarrow.parquet loads it on the first write)

    import haptics.dataset.export.parquet
    import haptics.dataset.export.runner  # noqa: F401


def _bench_batch(root: Path, n: int, seconds: float, workers: int) -> dict[str, Any]:
    from haptics.dataset.cluster import dask_client
    from haptics.dataset.export.runner import Job, run_jobs

    _warm_worker()  # the same one-time imports for the serial run
    jobs = [Job(f"b{i}", str(synthetic_session(root / "batch" / f"b{i}", seconds, seed=i,
                                               session_id=f"b{i}")), "simulated")
            for i in range(n)]
    t = time.perf_counter()
    serial = run_jobs(jobs, "parquet", root / "out-serial")
    serial_s = time.perf_counter() - t
    t = time.perf_counter()
    with dask_client(None, workers) as client:
        client.run(_warm_worker)  # imports done once per worker, as in a long-lived cluster
        started = time.perf_counter() - t
        t = time.perf_counter()
        dask = run_jobs(jobs, "parquet", root / "out-dask", client)
        dask_s = time.perf_counter() - t
    ok = sum(r["status"] == "exported" for r in serial + dask)
    return {"sessions": n, "seconds_each": seconds, "workers": workers,
            "serial_s": round(serial_s, 2), "cluster_s": round(dask_s, 2),
            "cluster_start_s": round(started, 2),
            "speedup": round(serial_s / dask_s, 2) if dask_s else None,
            "speedup_with_start": round(serial_s / (dask_s + started), 2),
            "exported": ok}


def _bench_rank(n: int) -> dict[str, Any]:
    from haptics.dataset.curation import duplicates, rank
    from haptics.dataset.features import compute_features

    # feature vectors of n sessions: the features of n distinct short synthetic traces
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        m = 2000
        press = np.clip(np.sin(np.linspace(0, (2 + i % 7) * np.pi, m)), 0, None)
        st: dict[str, np.ndarray] = {c: rng.standard_normal(m) * 1e-3 for c in
              ("px", "py", "pz", "vx", "vy", "vz", "fx", "fy")}
        st["fz"] = press * (0.5 + rng.random() * 3)
        st["host_time_ns"] = np.arange(m, dtype=np.int64) * 1_000_000
        rows.append(list(compute_features(st, None).values()))
    matrix = np.array(rows)
    ids = [f"s{i}" for i in range(n)]
    labeled = set(ids[: n // 10])
    t = time.perf_counter()
    ranked = rank(ids, matrix, labeled, ["simulated"] * n)
    pairs = duplicates(ids, matrix)
    took = time.perf_counter() - t
    return {"sessions": n, "labeled": len(labeled), "ranked": len(ranked),
            "duplicate_pairs": len(pairs), "rank_and_duplicates_s": round(took, 3),
            "target_s": 10.0}


def run_export_bench(
    hours: float = 1.0, sessions: int = 100, seconds: float = 10.0, workers: int = 2,
    rank_sessions: int = 1000,
) -> dict[str, Any]:
    """The three figures of the module docstring, each beside its target or baseline."""
    root = Path(tempfile.mkdtemp(prefix="haptics-export-"))
    try:
        return {
            "hour_to_parquet": _bench_hour(root, hours),
            "batch": _bench_batch(root, sessions, seconds, workers),
            "rank": _bench_rank(rank_sessions),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
