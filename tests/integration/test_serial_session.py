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
