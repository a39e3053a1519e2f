"""A full `haptics run --device serial:<port>` session over the firmware emulator on a pty."""

import json
from pathlib import Path

import pytest

from drivers.serial.emulator import start_emulator

from .conftest import haptics

pytestmark = pytest.mark.integration


def test_serial_session_over_the_emulator_is_recorded(tmp_path: Path) -> None:
    with start_emulator("paddle") as emu:
        done = haptics("run", "--device", f"serial:{emu.port}", "--duration", "3",
                       "--record", str(tmp_path), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    session = next(p for p in tmp_path.iterdir() if (p / "manifest.json").exists())
    summary = json.loads(haptics("sessions", "show", str(session), "--json", cwd=tmp_path).stdout)
    assert summary["device"] == "serial" and summary["provenance"] == "emulated"
    assert summary["loss"]["state"]["published"] > 2500
    assert summary["loss"]["state"]["fraction"] >= 0.999
    assert 990 < summary["loop"]["rate_hz"] < 1010


def test_emulator_killed_mid_session_is_reported_and_the_session_stays_readable(
    tmp_path: Path,
) -> None:
    import time

    from haptics.runtime.orchestrator import SessionConfig, SessionRun
    from haptics.session.reading import open_session, summarize

    emu = start_emulator("paddle")
    try:
        cfg = SessionConfig(device=f"serial:{emu.port}", duration_s=4.0, record_dir=tmp_path,
                            monitor=False)  # fmt: skip
        with SessionRun(cfg) as run:
            while run.elapsed_s() < 1.5:
                time.sleep(0.05)
            emu.stop()  # the board goes away mid-stream
            while run.elapsed_s() < 4.0:
                assert run.check() is None  # the session goes on, force safe
                time.sleep(0.05)
    finally:
        emu.stop()
    assert any("sent nothing" in w for w in run.result["warnings"]), run.result["warnings"]
    summary = summarize(open_session(run.result["session"]))
    assert summary["complete"] and summary["streams"]["state"] > 1000
    assert summary["events"]["input_lost"] >= 1
    tel = open_session(run.result["session"]).arrays("telemetry")
    for axis in ("fx", "fy", "fz"):
        assert abs(tel[axis][-500:]).max() == 0.0  # force zero once the device went silent
