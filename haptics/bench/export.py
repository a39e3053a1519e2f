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
