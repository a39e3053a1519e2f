"""A stylus and a simulated tactile array recorded together in one real session (real
processes, sockets, pybullet, files), read back, and run through the tactile detector."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from haptics.bench.loop import sensor_stream_figures
from haptics.dataset.features import session_features
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import open_session
from sim.tactile import (
    Inclusion,
    ProbePose,
    TactileArray,
    TactileArrayConfig,
    detect_sweep,
    homogeneous_background,
    slab_for_stiffness,
)

pytestmark = pytest.mark.integration


def _run(
    tmp_path: Path, duration_s: float, kill_sensor_at_s: float | None = None
) -> dict[str, Any]:
    cfg = SessionConfig(
        duration_s=duration_s, record_dir=tmp_path, monitor=False, sensors=["tactile-sim"],
        scene_params={"seed": 3},
    )
    with SessionRun(cfg) as run:
        killed = False
        while run.elapsed_s() < duration_s:
            assert run.check() is None  # a dead sensor never stops the session
            if kill_sensor_at_s is not None and not killed and run.elapsed_s() > kill_sensor_at_s:
                pid = run.procs["sensor1"].pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                killed = True
            time.sleep(0.05)
    return run.result


def test_stylus_and_tactile_frames_recorded_together_and_the_detector_finds_it(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, 7.0)
    assert result["session"] is not None and not result["problems"]
    s = open_session(result["session"])
    info = s.manifest.streams["tactile"]
    assert info.published and info.received == info.published  # every frame published is on disk
    assert info.gaps == 0 and info.bad_messages == 0 and info.source == "tactile-sim"
    assert s.manifest.streams["state"].received == s.manifest.streams["state"].published
    frames = s.column_array("tactile", "pressure_kpa")
    assert frames.shape == (info.received, 16, 16) and np.isfinite(frames).all()
    times = s.column_array("tactile", "host_time_ns")
    assert (np.diff(times) > 0).all()
    # what `haptics bench loop --tactile` and `bench record --tactile` report of it
    features = session_features(s)  # curation sees the inclusion the array felt
    assert features["tactile_contact_fraction"] > 0.0
    assert features["tactile_contrast_max_kpa"] > 0.3
    figures = sensor_stream_figures(s)
    assert figures == {"tactile": {"source": "tactile-sim", "published": info.published,
                                   "recorded": info.received, "lost": 0, "bad": 0}}

    # the probe's pose at each frame: the newest tick's tool position before it
    tel = s.arrays("telemetry")
    at = np.searchsorted(tel["wake_ns"], times, side="right") - 1
    keep = at >= 0
    poses = [
        ProbePose(float(tel["tool_x"][i]), float(tel["tool_y"][i]), float(tel["tool_z"][i]))
        for i in at[keep]
    ]
    pressed = [k for k, p in enumerate(poses) if p.z_m < -0.002]
    assert len(pressed) > 20, "the scripted operator pressed the tissue"
    truth = s.manifest.scene["ground_truth"]["inclusion"]
    inclusion = Inclusion.from_ground_truth(truth)
    stiffness = s.manifest.scene["config"]["tissue_stiffness_n_per_m"]
    array = TactileArray(TactileArrayConfig(tissue=slab_for_stiffness(stiffness)))
    found = detect_sweep(
        [frames[keep][k] for k in pressed],
        [poses[k] for k in pressed],
        homogeneous_background(array.model),
        array.config.grid,
    )
    assert found.detected and found.world_xy_m is not None
    error = np.hypot(
        found.world_xy_m[0] - inclusion.center_m[0], found.world_xy_m[1] - inclusion.center_m[1]
    )
    assert error < 0.005  # within 5 mm of the ground truth


def test_a_killed_tactile_process_is_reported_and_the_force_path_runs_on(tmp_path: Path) -> None:
    result = _run(tmp_path, 5.0, kill_sensor_at_s=2.0)
    assert any("tactile-sim died" in w for w in result["warnings"])
    s = open_session(result["session"])
    state = s.manifest.streams["state"]
    assert state.received == state.published and state.gaps == 0
    tel = s.arrays("telemetry")
    assert (tel["wake_ns"][-1] - tel["wake_ns"][0]) / 1e9 > 4.5  # the loop ran to the end
    frames = s.column_array("tactile", "pressure_kpa")
    assert frames.shape[0] > 0 and s.manifest.status == "complete"
