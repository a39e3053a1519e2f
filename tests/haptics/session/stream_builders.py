"""Builders of sessions that hold streams besides the core's: a tactile array, a scalar
probe and a stream of bare ticks, declared and recorded as a device's would be."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haptics.session.manifest import Manifest
from haptics.session.recorder import DeclaredStream, RecorderConfig, Recording
from haptics.wire.messages import COMMAND, STATE, TELEMETRY, Layout, tactile_layout

PERIOD_NS = 1_000_000
ROWS, COLS = 4, 5
PROBE = Layout(
    "probe",
    kind=40,
    version=1,
    fields=(
        ("kind", "u1"),
        ("version", "u1"),
        ("seq", "u8"),
        ("host_time_ns", "i8"),
        ("flags", "u4"),
        ("grip_n", "f4"),
        ("count", "u2"),
    ),
)
TICKS = Layout(  # a stream with nothing but bookkeeping: shown by its sample interval
    "ticks",
    kind=41,
    version=1,
    fields=(("kind", "u1"), ("version", "u1"), ("seq", "u8"), ("host_time_ns", "i8")),
)


def multi_stream_session(root: Path, n: int = 400) -> tuple[Path, np.ndarray]:
    """n ticks at 1 kHz with three declared streams: a ROWS × COLS tactile frame every 4
    ticks (frame 10 has a NaN taxel, frame 20 only NaN), a probe every 2 ticks (grip_n =
    tick / 100, count = tick % 7) and a bare tick stream every 10 ticks (tick 205's lost).
    Returns the session folder and the tactile frames written."""
    tactile = tactile_layout(ROWS, COLS)
    streams = {
        name: DeclaredStream(endpoint="", spec=layout.to_spec(), rate_hz=rate, source="test")
        for name, layout, rate in (
            ("tactile", tactile, 250.0),
            ("probe", PROBE, 500.0),
            ("ticks", TICKS, 100.0),
        )
    }
    manifest = Manifest(
        loop={"rate_hz": 1000.0},
        device={"driver": "simulated", "schema": {"rate_hz": 1000.0}},
        scene={"scene": "palpation"},
    )
    rec = Recording(
        RecorderConfig(
            endpoints={}, streams=streams, session_dir=root, manifest=manifest, reserve_bytes=0
        )
    )
    rng = np.random.default_rng(3)
    frames = []
    for i in range(1, n + 1):
        t = 10**9 + i * PERIOD_NS
        rec.writers["state"].add(
            STATE.make(seq=i, device_time_ns=i * PERIOD_NS, host_time_ns=t, px=i * 1e-4)
        )
        rec.writers["command"].add(COMMAND.make(seq=i, state_seq=i, host_time_ns=t, fz=1.0))
        rec.writers["telemetry"].add(
            TELEMETRY.make(tick=i, state_seq=i, deadline_ns=t, wake_ns=t, depth_m=i * 1e-6)
        )
        if i % 4 == 0:
            frame = rng.uniform(0, 10, (ROWS, COLS)).astype(np.float32)
            k = i // 4
            if k == 10:
                frame[1, 2] = np.nan
            if k == 20:
                frame[:] = np.nan
            record = np.zeros((), tactile.dtype)
            record["seq"], record["device_time_ns"], record["host_time_ns"] = k, t - 10**9, t
            record["pressure_kpa"] = frame
            rec.writers["tactile"].add(tactile.from_record(record))
            frames.append(frame)
        if i % 2 == 0:
            rec.writers["probe"].add(
                PROBE.make(seq=i // 2, host_time_ns=t, flags=7, grip_n=i / 100, count=i % 7)
            )
        if i % 10 == 0 and i != 200:
            rec.writers["ticks"].add(TICKS.make(seq=i // 10, host_time_ns=t))
        if i % 100 == 0:
            rec.flush()
    rec.flush()
    rec.finish({"published": {"state": n, "command": n, "telemetry": n}, "reason": "finished"})
    return root, np.stack(frames)
