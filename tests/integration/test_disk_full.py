"""A full disk stops the recording cleanly, never the session.

Real full disks: a small tmpfs mounted as the record folder (CI runs as root on this
project's machines; the test asserts it rather than skipping).
"""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from haptics.runtime.orchestrator import recording_stopped_message
from haptics.session.manifest import Manifest, read_manifest
from haptics.session.reading import open_session
from haptics.session.recorder import RESERVE_NAME, RecorderConfig, Recording
from haptics.session.video import probe_video
from haptics.wire.messages import STATE

from .conftest import haptics

pytestmark = pytest.mark.integration


def _mount_small_disk(where: Path, size: str) -> Iterator[Path]:
    assert os.geteuid() == 0, (
        "this test mounts a small tmpfs to fill a real disk; run it as root (CI does)"
    )
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_small_disk(tmp_path / "small", "1m")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_small_disk(tmp_path / "tiny", "256k")


def _state(seq: int) -> bytes:
    return STATE.make(seq=seq, device_time_ns=seq, host_time_ns=seq * 1_000_000, fz=1.0)


def test_recording_cut_by_a_full_disk_closes_every_file_readable(tiny_disk: Path) -> None:
    cfg = RecorderConfig(endpoints={}, session_dir=tiny_disk / "s", manifest=Manifest())
    rec = Recording(cfg)
    assert (tiny_disk / "s" / RESERVE_NAME).exists()
    seq = 0
    while rec.writing and seq < 1_000_000:
        for _ in range(100):
            seq += 1
            rec.writers["state"].add(_state(seq))
        rec.flush()
    assert not rec.writing, "the tmpfs never filled up"
    assert rec.disk_full and rec.error is not None and rec.error.startswith("disk full")
    assert rec.error_path is not None and rec.error_path.endswith("state.arrows")
    # the session on disk: closed, readable by pyarrow alone, manifest says why
    m = read_manifest(tiny_disk / "s")
    assert m.status == "complete"
    assert (m.stop_reason or "").startswith("disk full")
    table = pa.ipc.open_stream(str(tiny_disk / "s" / "state.arrows")).read_all()
    assert table.num_rows == rec.writers["state"].rows > 0
    assert table.column("seq").to_pylist() == list(range(1, table.num_rows + 1))
    assert m.streams["state"].sha256
    assert not (tiny_disk / "s" / RESERVE_NAME).exists()
    assert rec.report()["readable_s"] > 0
    # nothing more is written, and the end of the session still closes cleanly
    rec.writers["state"].add(_state(seq + 1))
    rec.flush()
    rec.finish({"published": {"state": seq + 1}, "reason": "finished"})
    m = read_manifest(tiny_disk / "s")
    assert (m.stop_reason or "").startswith("disk full")
    assert m.streams["state"].published == seq + 1
    assert pa.ipc.open_stream(str(tiny_disk / "s" / "state.arrows")).read_all().num_rows == (
        table.num_rows
    )


def test_session_on_a_full_disk_ends_with_a_clear_message(small_disk: Path, tmp_path: Path) -> None:
    done = haptics("run", "--duration", "7", "--camera", "--record", str(small_disk), cwd=tmp_path)
    out = done.stdout + done.stderr
    assert "recording stopped: disk full at" in out, out
    assert "is readable; free space and run again" in out
    assert "stopped: finished" in out  # the force path ran to the end: no process died
    assert done.returncode == 1  # the recording is incomplete: scripts must notice
    session = next(p for p in small_disk.iterdir() if (p / "manifest.json").exists())
    shown = haptics("sessions", "show", str(session), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    summary = json.loads(shown.stdout)
    assert summary["complete"] and not summary["truncated_streams"]
    assert summary["streams"]["state"] > 500
    assert summary["loss"]["state"]["fraction"] < 1.0  # the rest was lost, and it says so
    m = open_session(session).manifest
    assert (m.stop_reason or "").startswith("disk full")
    qa = haptics("sessions", "qa", str(session), "--json", cwd=tmp_path)
    assert qa.returncode == 1 and json.loads(qa.stdout)["checks"]["state_loss"] is False
    for name in ("state", "command", "telemetry", "frames"):
        pa.ipc.open_stream(str(session / f"{name}.arrows")).read_all()  # pyarrow alone
    frames = pa.ipc.open_stream(str(session / "frames.arrows")).read_all().num_rows
    if (session / "video.mp4").exists():
        probe_video(session / "video.mp4")  # what reached the disk decodes
    else:  # the disk filled before the camera's first fragment: no frame may claim a video
        assert frames == 0
    assert not (session / RESERVE_NAME).exists()
    listed = haptics("sessions", "list", str(small_disk), "--json", cwd=tmp_path)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1


def test_the_message_says_what_is_on_disk_and_what_to_do() -> None:
    assert recording_stopped_message({"ok": True, "error": None}) is None
    full = recording_stopped_message(
        {
            "error": "disk full: …",
            "disk_full": True,
            "error_path": "/d/s/state.arrows",
            "readable_s": 2.04,
        }
    )
    assert full == (
        "recording stopped: disk full at /d/s/state.arrows; the session up to 2.0 s is "
        "readable; free space and run again"
    )
    other = recording_stopped_message(
        {"error": "write failed: EIO", "disk_full": False, "error_path": "/d/s/x", "readable_s": 1}
    )
    assert other is not None and "cannot write /d/s/x (write failed: EIO)" in other
