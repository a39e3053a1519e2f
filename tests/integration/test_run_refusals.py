"""A run that cannot start says so once and leaves no session behind; one that fails after
the recorder started leaves a folder marked failed; a run whose recorder died exits 1.

(Refusals decided before any process starts are in tests/haptics/cli/test_run_options.py.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import zmq

from haptics.errors import HapticsError
from haptics.loop.scene import scene_names
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.manifest import read_manifest

from .conftest import HAPTICS, haptics

pytestmark = pytest.mark.integration


def _lines(text: str) -> list[str]:
    """Output lines, without the banner pybullet prints when a child imports it."""
    return [line for line in text.splitlines() if not line.startswith("pybullet build time")]


def test_a_serial_port_that_does_not_exist_is_one_message_and_no_session(tmp_path: Path) -> None:
    done = haptics(
        "run", "--device", "serial:/dev/haptics-no-such-port", "--record", str(tmp_path / "s"),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr  # not the driver process's either
    assert _lines(done.stderr) == [
        "error: the device process could not start: serial: no port at "
        "/dev/haptics-no-such-port. Is the device plugged in (or the emulator running)? "
        "`haptics devices list` shows what is there."
    ]
    assert "sessions show" not in done.stdout
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_an_unknown_scene_starts_nothing(tmp_path: Path) -> None:
    done = haptics("run", "--scene", "nope", "--record", str(tmp_path / "s"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"error: no scene named 'nope'; available: {', '.join(scene_names())}\n"
    assert done.stdout == ""
    assert not (tmp_path / "s").exists()


def _free_ports(n: int) -> int:
    """A base port with `n` free ports above it (checked now; good enough for a test)."""
    for base in range(47000, 60000, 50):
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError("no free ports")


def test_a_start_that_fails_after_the_recorder_started_is_marked_failed(tmp_path: Path) -> None:
    base = _free_ports(6)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    squatter = ctx.socket(zmq.REP)
    squatter.bind(f"tcp://127.0.0.1:{base + 4}")  # the loop's control port: the loop cannot bind
    try:
        cfg = SessionConfig(transport="tcp", tcp_base_port=base, duration_s=2.0,
                            record_dir=tmp_path, monitor=False)  # fmt: skip
        run = SessionRun(cfg)
        with pytest.raises(HapticsError) as failed:
            run.start()
        result = run.stop("failed to start")
    finally:
        squatter.close(0)
        ctx.term()
    assert str(failed.value).startswith("the loop process could not start: Address already in use")
    assert result["failed"] and result["session"]
    m = read_manifest(Path(result["session"]))
    assert m.status == "failed"
    assert (m.stop_reason or "").startswith("failed to start: the loop process could not start")
    listed = haptics("sessions", "list", str(tmp_path), cwd=tmp_path)
    assert listed.returncode == 0 and "failed" in listed.stdout


def test_a_killed_recorder_makes_the_run_exit_1_and_says_the_session_is_unfinished(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [HAPTICS, "run", "--duration", "5", "--quiet", "--record", str(tmp_path)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    try:
        give_up = time.monotonic() + 60
        recorder = None
        while recorder is None and time.monotonic() < give_up:
            for session in tmp_path.iterdir():
                m = session / "manifest.json"
                if m.exists() and json.loads(m.read_text()).get("device", {}).get("driver"):
                    pgrep = ["pgrep", "-P", str(proc.pid), "-x", "haptics-record"]
                    pids = subprocess.run(pgrep, capture_output=True, text=True).stdout.split()
                    recorder = int(pids[0]) if pids else None
            time.sleep(0.1)
        assert recorder is not None, "the session never started"
        time.sleep(1.0)
        os.kill(recorder, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "stopped: finished; force zeroed" in out  # the force path ran to its end
    assert "error: the recorder did not finalise the session (recorder process has exited " \
        "(code -9)); what was flushed is on disk: `haptics sessions repair` completes it" in out
