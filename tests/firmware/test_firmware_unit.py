"""The firmware's C unit tests (with address and undefined-behaviour sanitizers) pass."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def test_make_test_passes() -> None:
    make = shutil.which("make")
    assert make, "make is needed to build the firmware tests"
    proc = subprocess.run([make, "-C", str(FIRMWARE), "test"], capture_output=True, text=True,
                          timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    m = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.MULTILINE)
    assert m, out[-4000:]
    assert int(m.group(1)) >= 30 and m.group(2) == "0"


def test_emulator_builds() -> None:
    proc = subprocess.run(["make", "-C", str(FIRMWARE), "emulator"], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert (FIRMWARE / "build" / "haptics-emulator").is_file()
