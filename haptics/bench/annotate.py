"""`haptics bench annotate`: how fast the workbench shows a one-hour 1 kHz session.

A session of `seconds` (default 3600) at 1 kHz is written with the recorder's own stream
writers (state, command, telemetry: 3 × 3.6 M rows), put in a dataset, and served by the real
app on uvicorn over a loopback socket. Measured over HTTP, as a browser would see it:

- first view: the session's info and its whole-session view — target ≤ 500 ms. Measured
  cold (a server that has read nothing of the session: the request reads the overview that
  `haptics dataset index` kept beside it) and cached (the same request again); and, for
  comparison, cold without the overview (the request reads every stream and builds it, as
  every first view did before the overview existed);
- zoom / pan: 200 windows from 10 ms to the whole session, in random order — target p95
  ≤ 150 ms. The first ones that need every sample wait for the read-ahead the first view
  started.

The streams are written in record batches of the recorder's own size (`batch_s` of rows),
since reading cost grows with their number. "Cold" means cold for the server: the files
are in the OS page cache, having just been written.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.dataset.catalog import init_dataset
from haptics.session.manifest import Manifest
from haptics.session.overview import overview_path
from haptics.session.recorder import RecorderConfig, Recording, StreamWriter
from haptics.session.streams import arrow_schema
from haptics.web.users import Users
from haptics.wire.messages import COMMAND, EVENT_PUNCTURE, STATE, TELEMETRY, Layout

FIRST_VIEW_TARGET_S = 0.5
ZOOM_P95_TARGET_S = 0.150
WIDTH = 1600  # pixel columns of the plots
CHUNK = 60_000  # rows built at once (then written in record batches of the recorder's size)
PASSWORD = "bench-password"


def _append(
    w: StreamWriter, layout: Layout, cols: dict[str, np.ndarray], n: int, batch_rows: int
) -> None:
    """Append `n` rows to a stream in record batches of `batch_rows`, keeping the writer's
    books (rows, time span, sequence numbers: contiguous here) as `StreamWriter.flush` does.
    Per-message decoding would take minutes for an hour at 1 kHz."""
    arr: Any = np.zeros(n, dtype=layout._dtype)  # type: ignore[attr-defined]
    for name, v in cols.items():
        arr[name] = v
    batch = pa.RecordBatch.from_arrays(
        [pa.array(np.ascontiguousarray(arr[c])) for c in layout.names[2:]],
        schema=arrow_schema(layout),
    )
    for start in range(0, n, batch_rows):
        w.writer.write_batch(batch.slice(start, batch_rows))
    w.sink.flush()
    w.good_bytes = int(w.sink.tell())
    w.rows += n
    t = arr[w.time_col] if w.time_col else None
    if t is not None:
        w.first_time_ns = int(t[0]) if w.first_time_ns is None else w.first_time_ns
        w.last_time_ns = int(t[-1])
    seq = arr["seq"] if "seq" in arr.dtype.names else arr["tick"]
    tr = w.tracker
    tr.received += n
    tr.first = int(seq[0]) if tr.first is None else tr.first
    tr.last = int(seq[-1])


def write_long_session(root: Path, seconds: float, rate_hz: float = 1000.0) -> Path:
    """A recorded session of `seconds` at `rate_hz`: a tool pressing into tissue every 7 s
    with noise, and a puncture event every 30 s."""
    manifest = Manifest(
        loop={"rate_hz": rate_hz}, device={"driver": "simulated"}, scene={"scene": "needle"}
    )
    rec = Recording(
        RecorderConfig(endpoints={}, session_dir=root, manifest=manifest, reserve_bytes=0)
    )
    batch_rows = max(1, round(rec.cfg.batch_s * rate_hz))
    n_total, period = int(seconds * rate_hz), round(1e9 / rate_hz)
    rng = np.random.default_rng(0)
    for start in range(0, n_total, CHUNK):
        i = np.arange(start + 1, min(n_total, start + CHUNK) + 1, dtype=np.int64)
        t = 10**9 + i * period
        ts = i / rate_hz
        depth = np.clip(0.004 * np.sin(2 * np.pi * ts / 7.0), 0.0, None)
        force = 300.0 * depth + rng.normal(0, 0.02, i.size)
        events = np.where(i % int(30 * rate_hz) == 0, EVENT_PUNCTURE, 0)
        common = {"seq": i}
        batches: dict[str, tuple[Layout, dict[str, np.ndarray]]] = {
            "state": (
                STATE,
                {
                    **common,
                    "host_time_ns": t + 40_000,
                    "device_time_ns": t,
                    "pz": -depth,
                    "px": 0.01 * np.sin(ts),
                    "fz": force,
                    "afz": force,
                },
            ),
            "command": (
                COMMAND,
                {**common, "state_seq": i, "host_time_ns": t, "fz": force},
            ),
            "telemetry": (
                TELEMETRY,
                {
                    "tick": i,
                    "state_seq": i,
                    "deadline_ns": t,
                    "wake_ns": t,
                    "contact": depth > 0,
                    "depth_m": depth,
                    "rz": force,
                    "fz": force,
                    "tissue_force_n": force,
                    "events": events,
                },
            ),
        }
        for topic, (layout, cols) in batches.items():
            _append(rec.writers[topic], layout, cols, i.size, batch_rows)
    rec.finish(
        {"published": {k: n_total for k in ("state", "command", "telemetry")}, "reason": "finished"}
    )
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _served(root: Path) -> Iterator[Callable[[str], int]]:
    """A fresh app over the dataset `root` on uvicorn (loopback), logged in: yields a
    `get(path) -> bytes received`, and stops the server after."""
    import uvicorn

    from haptics.web.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning")
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    try:
        login = urllib.request.Request(
            base + "/api/login",
            data=json.dumps({"user": "bench", "password": PASSWORD}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(login) as r:
            cookie = r.headers["set-cookie"].split(";", 1)[0]

        def get(path: str) -> int:
            req = urllib.request.Request(base + path, headers={"cookie": cookie})
            with urllib.request.urlopen(req) as r:
                return len(r.read())

        yield get
    finally:
        server.should_exit = True
        th.join(10)


def _first_view(get: Callable[[str], int], sid: str) -> tuple[float, int]:
    """(seconds, bytes) of what a browser asks for to open a session: its info, then the
    whole-session view."""
    t0 = time.perf_counter()
    get(f"/api/sessions/{sid}")
    n = get(f"/api/sessions/{sid}/view?width={WIDTH}")
    return time.perf_counter() - t0, n


def run_annotate_bench(seconds: float = 3600.0, zooms: int = 200) -> dict[str, Any]:
    """Write the session, serve it, measure first view and zoom/pan (see the docstring)."""
    with tempfile.TemporaryDirectory(prefix="haptics-bench-annotate-") as tmp:
        root = Path(tmp) / "ds"
        t_write = time.perf_counter()
        ds = init_dataset(root, taxonomies=["needle-phases"])
        session_dir = write_long_session(root / "sessions" / "long", seconds)
        write_s = time.perf_counter() - t_write
        t_index = time.perf_counter()
        (rec,), _ = ds.index()  # catalogs the session and keeps its overview beside it
        index_s = time.perf_counter() - t_index
        Users(root, ds.store).add("bench", PASSWORD, "annotator")
        ds.close()
        sid = rec.session_id
        with _served(root) as get:
            first_s, first_bytes = _first_view(get, sid)
            cached_s, _ = _first_view(get, sid)
            rng = np.random.default_rng(1)
            span = rec.end_ns - rec.start_ns
            times, sizes = [], []
            for _ in range(zooms):
                w = int(np.exp(rng.uniform(np.log(10e6), np.log(span))))
                a = rec.start_ns + int(rng.uniform(0, span - w))
                t = time.perf_counter()
                sizes.append(get(f"/api/sessions/{sid}/view?t0_ns={a}&t1_ns={a + w}&width={WIDTH}"))
                times.append(time.perf_counter() - t)
        overview = overview_path(session_dir)
        overview_bytes = overview.stat().st_size
        overview.unlink()  # the path every first view took before: read all, build
        with _served(root) as get:
            bare_s, _ = _first_view(get, sid)
    ms = np.array(times) * 1000
    return {
        "session_s": seconds,
        "rows_per_stream": int(seconds * 1000),
        "prepare_s": round(write_s, 2),
        "index_s": round(index_s, 2),
        "overview_bytes": overview_bytes,
        "first_view_ms": round(first_s * 1000, 1),
        "first_view_bytes": first_bytes,
        "first_view_ok": first_s <= FIRST_VIEW_TARGET_S,
        "first_view_cached_ms": round(cached_s * 1000, 1),
        "first_view_cached_ok": cached_s <= FIRST_VIEW_TARGET_S,
        "first_view_without_overview_ms": round(bare_s * 1000, 1),
        "zoom_p50_ms": round(float(np.percentile(ms, 50)), 1),
        "zoom_p95_ms": round(float(np.percentile(ms, 95)), 1),
        "zoom_max_ms": round(float(ms.max()), 1),
        "zoom_max_bytes": int(max(sizes)),
        "zoom_ok": float(np.percentile(ms, 95)) <= ZOOM_P95_TARGET_S * 1000,
    }
