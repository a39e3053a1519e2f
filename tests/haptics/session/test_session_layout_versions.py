"""Sessions recorded with an older state layout (v1: one force column) still open: read with
their own layout, even when the file's schema message is damaged, and with the applied force
columns v2 added given as the one force v1 recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haptics.session.manifest import Manifest
from haptics.session.reading import open_session, summarize
from haptics.session.recorder import RecorderConfig, Recording, StreamWriter
from haptics.wire.messages import STATE, layout_version

N = 300


def _v1_session(root: Path) -> Path:
    """A closed session whose state stream was recorded with layout state v1."""
    v1 = layout_version("state", 1)
    assert v1 is not None and v1 is not STATE
    manifest = Manifest(
        loop={"rate_hz": 1000.0},
        device={"driver": "simulated", "schema": {"rate_hz": 1000.0}},
        scene={"scene": "palpation"},
    )
    cfg = RecorderConfig(endpoints={}, session_dir=root, manifest=manifest, reserve_bytes=0)
    rec = Recording(cfg)
    rec.writers["state"].close()
    rec.writers["state"] = StreamWriter(root / "state.arrows", v1)
    for i in range(1, N + 1):
        t = i * 10**6
        rec.writers["state"].add(
            v1.make(seq=i, device_time_ns=t, host_time_ns=10**9 + t, fz=0.01 * i, buttons=i % 2)
        )
        if i % 100 == 0:
            rec.flush()
    rec.finish({"published": {"state": N}, "reason": "finished"})
    return root


def test_a_v1_state_stream_opens_with_the_applied_force_filled(tmp_path: Path) -> None:
    session = open_session(_v1_session(tmp_path / "s"))
    assert session.manifest.streams["state"].layout_version == 1
    state = session.arrays("state")
    assert state["seq"].size == N
    assert np.array_equal(state["afz"], state["fz"]) and state["fz"][-1] == 0.01 * N
    assert np.array_equal(state["afx"], state["fx"])
    assert session.problems() == {} and session.verify() == {}
    assert "state" not in summarize(session)["problems"]  # (no telemetry was written)


def test_a_v1_file_with_a_damaged_schema_is_read_with_the_v1_layout(tmp_path: Path) -> None:
    path = _v1_session(tmp_path / "s")
    data = bytearray((path / "state.arrows").read_bytes())
    data[12:40] = b"\xff" * 28  # inside the schema message: the file's own schema is gone
    (path / "state.arrows").write_bytes(bytes(data))
    session = open_session(path)
    state = session.arrays("state")
    # the v2 layout would validate none of these batches: every row comes back only when the
    # reader takes the layout version the manifest names
    assert state["seq"].size == N
    assert np.array_equal(state["afz"], state["fz"])
    assert "state" in session.damaged
