"""`haptics bench read`: time to load one hour of 1 kHz streams into numpy arrays.

Writes a synthetic session exactly as the recorder does (same layouts, same Arrow schema,
one record batch per recorder flush), then times `open_session(...).arrays(name)` for state,
command and telemetry. Reported warm (files in the page cache, as right after recording)
and, where the OS allows dropping the cache (root), cold. The baseline in the same run is
the straightforward alternative a user would write: reading the same hour from CSV files
with numpy (timed on one minute and scaled, since the full hour takes minutes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.session.manifest import Manifest, StreamInfo, write_manifest
from haptics.session.reading import open_session
from haptics.session.recorder import RecorderConfig
from haptics.session.streams import arrow_schema
from haptics.wire.messages import LAYOUTS, Layout

RATE_HZ = 1000
# rows per record batch, exactly as the recorder writes them at 1 kHz
BATCH = round(float(RecorderConfig.model_fields["batch_s"].default) * RATE_HZ)


def _synthetic(layout: Layout, n: int, rng: np.random.Generator) -> np.ndarray:
    arr = np.zeros(n, dtype=layout.dtype)
    arr["kind"], arr["version"] = layout.kind, layout.version
    for name in layout.names[2:]:
        kind = layout.dtype[name].kind
        if name in ("seq", "tick"):
            arr[name] = np.arange(1, n + 1)
        elif name.endswith("_ns"):
            arr[name] = np.arange(n, dtype=np.int64) * 1_000_000
        elif kind == "f":
            arr[name] = rng.standard_normal(n)
    return arr


def write_hour(root: Path, seconds: int) -> Path:
    """A session directory with `seconds` of 1 kHz state, command and telemetry."""
    rng = np.random.default_rng(0)
    m = Manifest(loop={"rate_hz": float(RATE_HZ)})
    n = seconds * RATE_HZ
    for name, layout in LAYOUTS.items():
        arr = _synthetic(layout, n, rng)
        schema = arrow_schema(layout)
        cols = layout.names[2:]
        with (
            pa.OSFile(str(root / f"{name}.arrows"), "wb") as sink,
            pa.ipc.new_stream(sink, schema) as w,
        ):
            for start in range(0, n, BATCH * 100):  # build 100 batches at a time, write each
                chunk = arr[start : start + BATCH * 100]
                table = pa.Table.from_arrays(
                    [pa.array(np.ascontiguousarray(chunk[c])) for c in cols], schema=schema
                )
                for batch in table.to_batches(max_chunksize=BATCH):
                    w.write_batch(batch)
        m.streams[name] = StreamInfo(
            file=f"{name}.arrows",
            layout=name,
            layout_version=layout.version,
            received=n,
            published=n,
        )
    m.status = "complete"
    write_manifest(root, m)
    return root


def _load_all(path: Path) -> tuple[float, int]:
    t = time.perf_counter()
    s = open_session(path)
    rows = 0
    for name in s.stream_names:
        arrays = s.arrays(name)
        rows += next(iter(arrays.values())).size
    return time.perf_counter() - t, rows


def _drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def _csv_baseline(root: Path, seconds: int) -> float:
    """Seconds to read `seconds` of the three streams from CSV with numpy.loadtxt."""
    rng = np.random.default_rng(1)
    files = []
    for name, layout in LAYOUTS.items():
        arr = _synthetic(layout, seconds * RATE_HZ, rng)
        cols = layout.names[2:]
        path = root / f"{name}.csv"
        np.savetxt(
            path,
            np.column_stack([arr[c].astype(np.float64) for c in cols]),
            delimiter=",",
            header=",".join(cols),
        )
        files.append(path)
    t = time.perf_counter()
    for path in files:
        np.loadtxt(path, delimiter=",")
    return time.perf_counter() - t


def run_read_bench(hours: float = 1.0, keep_dir: Path | None = None) -> dict[str, Any]:
    """Write `hours` of streams, load them back, and report the times (and the CSV baseline)."""
    root = keep_dir or Path(tempfile.mkdtemp(prefix="haptics-read-"))
    root.mkdir(parents=True, exist_ok=True)
    seconds = int(hours * 3600)
    try:
        write_hour(root, seconds)
        size = sum(p.stat().st_size for p in root.glob("*.arrows"))
        warm = [_load_all(root)[0] for _ in range(3)]
        _, rows = _load_all(root)
        cold = _load_all(root)[0] if _drop_caches() else None
        baseline_minute = _csv_baseline(root, 60)
        return {
            "hours": hours,
            "rows": rows,
            "bytes": size,
            "load_s": round(float(np.median(warm)), 3),
            "load_s_runs": [round(x, 3) for x in warm],
            "load_cold_s": round(cold, 3) if cold is not None else None,
            "rows_per_s": round(rows / float(np.median(warm))),
            "baseline": {
                "method": "numpy.loadtxt of the same streams as CSV "
                "(1 min timed, scaled to the span)",
                "load_s": round(baseline_minute * seconds / 60, 1),
            },
        }
    finally:
        if keep_dir is None:
            shutil.rmtree(root, ignore_errors=True)
