"""kill -9 of a session process mid-session: force goes to zero, the session stays readable.

The recorder survives either death and closes the session when the orchestrator stops it;
`haptics sessions show` and `haptics sessions qa` read it. When the loop dies the device's
own watchdog zeroes force; when the device dies the loop's input goes stale and its force
fades to zero. When the recorder itself dies, its video still plays up to the last fragment.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from haptics.loop.safety import SafetyPolicy
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import Session, open_session, read_stream
from haptics.session.video import probe_video
from haptics.wire.messages import FLAG_STALE_INPUT, FLAG_STOPPING, STATUS_WATCHDOG

from .conftest import HAPTICS, haptics

pytestmark = pytest.mark.integration

WATCHDOG_MS = SafetyPolicy().driver_watchdog_ms  # what the driver process applies by default


def _child(parent: int, name: str, timeout_s: float = 30.0) -> int:
    """The pid of the session process `name` started by `parent` (not anyone else's)."""
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        out = subprocess.run(
            ["pgrep", "-P", str(parent), "-x", name], capture_output=True, text=True
        ).stdout.split()
        if out:
            return int(out[0])
        time.sleep(0.05)
    raise AssertionError(f"no {name} process appeared under pid {parent}")


def _session_killing(tmp_path: Path, victim: str) -> tuple[str, int, Path]:
    """Run `haptics run`, kill -9 `victim` mid-session; (output, exit code, session dir)."""
    proc = subprocess.Popen(
        [HAPTICS, "run", "--duration", "8", "--record", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pid = _child(proc.pid, victim)
        session = None
        give_up = time.monotonic() + 30
        while session is None and time.monotonic() < give_up:  # armed: the device is annotated
            for p in tmp_path.iterdir():
                m = p / "manifest.json"
                if m.exists() and json.loads(m.read_text()).get("device", {}).get("driver"):
                    session = p
            time.sleep(0.1)
        assert session is not None, "the session never started"
        time.sleep(2.0)  # mid-session, force flowing
        os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out, proc.returncode, session


# QA checks a killed process must not spoil: the recorder closed every file it wrote
MUST_PASS = ("files_intact", "samples")


def _show_and_qa(
    session: Path, cwd: Path, must_pass: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`sessions show` and `sessions qa` read the session; the QA checks in `must_pass`
    pass (others, such as loop overruns on a loaded machine, may fail: exit code 1)."""
    shown = haptics("sessions", "show", str(session), "--json", cwd=cwd)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    qa = haptics("sessions", "qa", str(session), "--json", cwd=cwd)
    assert "Traceback" not in qa.stdout + qa.stderr
    report = json.loads(qa.stdout)
    failed = [name for name in must_pass if not report["checks"][name]]
    assert not failed, (failed, report)
    assert qa.returncode == (0 if all(report["checks"].values()) else 1)
    return json.loads(shown.stdout), report


def test_kill_9_of_the_loop_zeroes_force_and_leaves_a_readable_session(tmp_path: Path) -> None:
    out, code, session = _session_killing(tmp_path, "haptics-loop")
    assert "the loop process died (exit code -9)" in out, out
    assert code == 1
    summary, report = _show_and_qa(session, tmp_path, (*MUST_PASS, "complete", "state_loss"))
    # the recorder outlived the loop and closed the session properly
    assert summary["complete"] and summary["status"] == "complete"
    assert not summary["truncated_streams"]
    m = open_session(session).manifest
    assert "loop process died" in (m.stop_reason or "")
    assert all(info.sha256 for info in m.streams.values())
    assert summary["streams"]["telemetry"] > 1000
    assert report["streams"]["state"]["lost"] == 0  # the device kept streaming, all recorded
    # whatever the device did after the loop died, it applied no force
    s = open_session(session)
    state, cmd = s.arrays("state"), s.arrays("command")
    last_cmd_ns = int(cmd["host_time_ns"][-1])
    after = state["host_time_ns"] > last_cmd_ns + int(WATCHDOG_MS * 1e6) + 20_000_000
    force = np.abs(np.stack([state["fx"], state["fy"], state["fz"]]))
    assert (force[:, after] == 0.0).all(), "force still applied after the loop died"


def _kill_mid_press(tmp_path: Path, process: str) -> Session:
    """kill -9 one session process while pressing, let the rest run on for 0.5 s without the
    orchestrator noticing, then stop; returns the recorded session."""
    cfg = SessionConfig(duration_s=3.0, record_dir=tmp_path, monitor=False)
    with SessionRun(cfg) as run:
        while run.elapsed_s() < 2.0:  # pressing by now
            time.sleep(0.05)
        pid = run.procs[process].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    return open_session(run.result["session"])


def test_the_driver_watchdog_zeroes_force_when_the_loop_dies(tmp_path: Path) -> None:
    """The session runs on after the loop is killed (the CLI would stop it within its next
    poll, disarming the device first): the driver's own watchdog must zero force."""
    s = _kill_mid_press(tmp_path, "loop")  # no check(), no disarm: the device is on its own
    state, cmd = s.arrays("state"), s.arrays("command")
    last_cmd_ns = int(cmd["host_time_ns"][-1])
    after = state["host_time_ns"] > last_cmd_ns + int(WATCHDOG_MS * 1e6) + 20_000_000
    assert after.sum() > 300, after.sum()
    force = np.abs(np.stack([state["fx"], state["fy"], state["fz"]]))
    assert (force[:, after] == 0.0).all(), "force still applied after the loop died"
    tripped = (state["status"] & STATUS_WATCHDOG) != 0
    assert tripped[after].all(), "the device watchdog never tripped"
    first_trip = int(state["host_time_ns"][np.argmax(tripped)])
    assert first_trip - last_cmd_ns < (WATCHDOG_MS + 30) * 1e6  # within the watchdog, +slack
    assert abs(state["fz"][state["host_time_ns"] < last_cmd_ns]).max() > 0.05  # force had flowed


def test_kill_9_of_the_device_fades_force_and_leaves_a_readable_session(tmp_path: Path) -> None:
    out, code, session = _session_killing(tmp_path, "haptics-device")
    assert "the device process died (exit code -9)" in out, out
    assert code == 1
    # the stop could not disarm it, and says so instead of claiming force is zero
    assert "error: the device did not confirm the disarm at stop" in out, out
    assert "force NOT confirmed zero" in out
    summary, _ = _show_and_qa(session, tmp_path, (*MUST_PASS, "complete"))
    assert summary["complete"] and summary["status"] == "complete"
    assert not summary["truncated_streams"]
    m = open_session(session).manifest
    assert "device process died" in (m.stop_reason or "")
    assert summary["streams"]["state"] > 1000
    assert summary["seq_gaps_by_stream"]["state"] == 0  # every sample sent before the kill
    # whatever the loop sent after the device died is zero force, and so is its last command
    s = open_session(session)
    state, tel = s.arrays("state"), s.arrays("telemetry")
    last_sample_ns = int(state["host_time_ns"][-1])
    policy = SafetyPolicy()
    faded_ns = int((policy.stale_hold_ms + policy.stale_fade_ms + 10.0) * 1e6)
    late = tel["wake_ns"] > last_sample_ns + faded_ns
    force = np.abs(np.stack([tel["fx"], tel["fy"], tel["fz"]]))
    assert (force[:, late] == 0.0).all(), "force still commanded with no device input"
    cmd = s.arrays("command")
    assert cmd["fx"][-1] == 0.0 and cmd["fy"][-1] == 0.0 and cmd["fz"][-1] == 0.0


def test_the_loop_fades_force_to_zero_when_the_device_dies(tmp_path: Path) -> None:
    """The session runs on for a while after the device process is killed (the CLI would
    stop it within its next poll): the loop flags stale input and commands zero force."""
    s = _kill_mid_press(tmp_path, "device")  # no check(): the loop carries on alone
    state, tel = s.arrays("state"), s.arrays("telemetry")
    last_sample_ns = int(state["host_time_ns"][-1])
    policy = SafetyPolicy()
    faded_ns = int((policy.stale_hold_ms + policy.stale_fade_ms + 10.0) * 1e6)
    late = tel["wake_ns"] > last_sample_ns + faded_ns
    assert late.sum() > 300, late.sum()
    running = late & ((tel["flags"] & FLAG_STOPPING) == 0)  # the final tick only says stopping
    assert ((tel["flags"][running] & FLAG_STALE_INPUT) != 0).all()
    force = np.abs(np.stack([tel["fx"], tel["fy"], tel["fz"]]))
    assert (force[:, late] == 0.0).all(), "force still commanded with no device input"
    pressing = tel["wake_ns"] < last_sample_ns
    assert force[:, pressing].max() > 0.5  # it was pushing before


def test_kill_9_of_the_recorder_leaves_a_playable_video(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [HAPTICS, "run", "--duration", "25", "--camera", "--record", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        recorder = _child(proc.pid, "haptics-record")
        _child(proc.pid, "haptics-camera")
        session = None
        give_up = time.monotonic() + 60  # start-up (seconds on a loaded machine), then frames
        last_pts = rows = 0
        # two and a half seconds of video: two complete fragments (keyframes go by time, so
        # however few frames the camera renders on a loaded machine, ~5 Hz on 2 cores)
        while (last_pts < 75 or rows < 10) and time.monotonic() < give_up:
            session = next((p for p in tmp_path.iterdir() if (p / "frames.arrows").exists()), None)
            if session is not None:
                index = read_stream(session / "frames.arrows")[0]
                rows = index.num_rows
                last_pts = int(index.column("pts")[-1].as_py()) if rows else 0
            time.sleep(0.1)
        assert session is not None and last_pts >= 75 and rows >= 10, (
            f"the camera recorded {rows} frames, up to pts {last_pts}, in 60 s"
        )
        os.kill(recorder, signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "recorder died" in out, out
    assert "stopped: finished" in out  # force path untouched
    assert "error: the recorder did not finalise the session" in out, out
    assert proc.returncode == 1  # the session on disk is cut off: not a success
    summary, report = _show_and_qa(session, tmp_path, MUST_PASS)
    assert not report["checks"]["complete"] and report["passed"] is False
    assert not summary["complete"]  # cut off, as a killed recorder leaves it
    frames = open_session(session).table("frames")
    video = probe_video(session / "video.mp4")
    # the video plays up to its last complete fragment: what it lacks of the index is the
    # fragment being written, 1 s of video plus the frame that would have closed it (a slow
    # camera's frames are far apart), and the index's own unflushed batch
    pts = frames.column("pts").to_numpy()
    assert video["frames"] >= 5 and video["times_s"][-1] >= 1.0, video["frames"]
    widest_gap_s = float(np.diff(pts).max()) / 30.0
    lost_s = pts[-1] / 30.0 - video["times_s"][-1]
    assert lost_s <= 1.0 + widest_gap_s + 0.5, (lost_s, widest_gap_s)
    # at a kill either file can be ahead (index flushed every batch, video per fragment):
    # they must agree on every frame both hold
    n = min(frames.num_rows, video["frames"])
    assert np.allclose(np.asarray(video["times_s"])[:n], pts[:n] / 30.0, atol=1e-3)
    assert (video["width"], video["height"]) == (320, 240)
