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
from haptics.session.pressure_inset import draw_pressure_inset
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

from .conftest import haptics

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
    rate = figures["tactile"].pop("rate_hz")
    assert figures == {"tactile": {"source": "tactile-sim", "published": info.published,
                                   "recorded": info.received, "lost": 0, "bad": 0,
                                   "nominal_rate_hz": 200.0}}
    span_s = (times[-1] - times[0]) / 1e9
    assert rate == pytest.approx((times.size - 1) / span_s, abs=0.1)
    # the sensor's own counts are in the manifest: a dataset reader needs no run log
    assert info.recorded == info.received
    counts = info.source_counts
    assert counts is not None and (counts.refused, counts.not_finite, counts.errors) == (0, 0, 0)
    assert counts.driver["frames"] == info.published  # the array made every frame published
    assert counts.driver["skipped"] >= 0 and counts.driver["telemetry"] > 0
    # frames keep to the array's own 5 ms grid (device clock = the frame's deadline)
    device = s.column_array("tactile", "device_time_ns").astype(np.int64)
    steps = np.diff(device)
    assert (steps % 5_000_000 == 0).all() and (steps > 0).all()
    assert int(steps.sum() // 5_000_000) == steps.size + counts.driver["skipped"]

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


def _video_and_inset(session_dir: Path) -> tuple[list[np.ndarray], tuple[int, int, int, int]]:
    import av

    with av.open(str(session_dir / "video.mp4")) as container:
        video = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    h, w = video[0].shape[:2]
    box = draw_pressure_inset(np.zeros((h, w, 3), np.uint8), np.zeros((16, 16)))
    return video, box


def test_the_camera_video_overlays_the_pressure_map_and_can_leave_it_out(
    tmp_path: Path,
) -> None:
    def film(inset: bool) -> dict[str, Any]:
        cfg = SessionConfig(
            duration_s=4.0, record_dir=tmp_path / str(inset), monitor=False, camera=True,
            sensors=["tactile-sim"], camera_pressure_inset=inset,
        )
        with SessionRun(cfg) as run:
            run.run_to_end(0.25)
        assert not run.result["problems"] and not run.result["warnings"], run.result
        return run.result

    result = film(True)
    camera = result["camera"]
    assert camera["pressure_inset"] == {"drawn": camera["published"], "bad_pressure": 0}
    s = open_session(result["session"])
    video, (x0, y0, x1, y1) = _video_and_inset(Path(result["session"]))
    shot = s.arrays("frames")["host_time_ns"]
    tactile_t = s.column_array("tactile", "host_time_ns")
    peaks = s.column_array("tactile", "pressure_kpa").reshape(tactile_t.size, -1).max(axis=1)
    # each picture shows the newest tactile frame when it was drawn: the inset's map is dark
    # while the probe is off the tissue and lit by the pressed probe's edges when it presses.
    # The map is taken after the render, before the next picture starts (a loaded machine
    # renders slowly), so frames whose window holds a change are left out
    off, on = [], []
    ends = [*shot[1:].tolist(), int(shot[-1]) + 200_000_000]
    for k, img in enumerate(video):
        near = peaks[(tactile_t > shot[k] - 30_000_000) & (tactile_t < ends[k])]
        level = float(img[y0 + 16 : y1 - 3, x0 + 3 : x1 - 12].mean())
        if near.size and near.max() < 0.5:
            off.append(level)
        elif near.size and near.min() > 4.0:
            on.append(level)
    assert off and on, (len(off), len(on))
    assert max(off) < 15.0 < 25.0 < min(on), (off, on)
    assert float(np.mean([img[y0 : y0 + 2, x0:x1].mean() for img in video])) < 22  # backing

    plain = film(False)
    assert "pressure_inset" not in plain["camera"]
    video, (x0, y0, x1, y1) = _video_and_inset(Path(plain["session"]))
    # no inset: that corner is the scene (backdrop, tissue), never the inset's dark backing
    assert float(np.mean([img[y0 : y0 + 2, x0:x1].mean() for img in video])) > 25


def test_bench_record_reports_the_tactile_rate_and_no_video_without_a_camera(
    tmp_path: Path,
) -> None:
    done = haptics("bench", "record", "--minutes", "0.1", "--tactile", "--no-camera", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tactile frames (tactile-sim)" in done.stdout and "nominal" in done.stdout
    assert "frames recorded" not in done.stdout and "30 Hz" not in done.stdout, done.stdout
