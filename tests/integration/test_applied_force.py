"""What is recorded is what was applied: a real session's state stream carries, per sample,
the force the device applied (afx..afz), and it is the force of the command the sample
echoes, after the device's clamp."""

import time
from pathlib import Path

import numpy as np
import pytest

from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import open_session
from haptics.wire.messages import STATE

pytestmark = pytest.mark.integration


def test_the_state_stream_records_the_applied_force(tmp_path: Path) -> None:
    cfg = SessionConfig(record_dir=tmp_path, monitor=False, duration_s=3.0)
    with SessionRun(cfg) as run:
        while run.elapsed_s() < 3.0:
            time.sleep(0.05)
    session = open_session(run.result["session"])
    assert session.manifest.streams["state"].layout_version == STATE.version
    assert session.manifest.device["schema"]["max_damping_ns_per_m"] == pytest.approx(20.0)
    state, command = session.arrays("state"), session.arrays("command")
    echoed = state["cmd_seq"] > 0
    idx = np.searchsorted(command["seq"], state["cmd_seq"][echoed])
    idx = np.clip(idx, 0, command["seq"].size - 1)
    found = command["seq"][idx] == state["cmd_seq"][echoed]
    commanded = np.stack([command[c][idx] for c in ("fx", "fy", "fz")], axis=1)[found]
    applied = np.stack([state[c][echoed] for c in ("afx", "afy", "afz")], axis=1)[found]
    assert found.mean() > 0.95 and np.abs(applied).max() > 0.5  # it pressed the tissue
    # the sample's force and the echoed command are taken a moment apart in the driver, so a
    # command arriving in between may pair a sample with the next one: nearly all match
    same = np.all(np.isclose(applied, commanded, atol=1e-9), axis=1)
    assert same.mean() > 0.9
    # the simulated device has no force sensor: measured is what it applied
    assert np.array_equal(state["afz"], state["fz"])
