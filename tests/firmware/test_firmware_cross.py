"""The paddle and taxel board images cross-compile (`make test` installs arm-none-eabi-gcc
first: scripts/install-system-deps.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def test_cross_build_for_the_paddle_board() -> None:
    assert shutil.which("arm-none-eabi-gcc"), (
        "arm-none-eabi-gcc is missing: run scripts/install-system-deps.sh (make test does)"
    )
    proc = subprocess.run(["make", "-C", str(FIRMWARE), "cross"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    image = FIRMWARE / "build" / "paddle_stm32" / "paddle.bin"
    assert 1000 < image.stat().st_size < 64 * 1024
    # the vector table starts with the initial stack pointer at the top of RAM
    assert image.read_bytes()[:4] == (0x20020000).to_bytes(4, "little")


def test_cross_build_for_the_taxel_board() -> None:
    assert shutil.which("arm-none-eabi-gcc"), (
        "arm-none-eabi-gcc is missing: run scripts/install-system-deps.sh (make test does)"
    )
    proc = subprocess.run(["make", "-C", str(FIRMWARE), "cross-taxel"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    image = FIRMWARE / "build" / "taxel_stm32" / "taxel.bin"
    assert 1000 < image.stat().st_size < 64 * 1024
    assert image.read_bytes()[:4] == (0x20020000).to_bytes(4, "little")
    # the image holds the scan and the taxel protocol, and none of the paddle's control core
    symbols = (FIRMWARE / "build" / "taxel_stm32" / "taxel.map").read_text()
    assert "taxel_app_tick" in symbols and "taxel_scan_chunk" in symbols
    assert "control_step" not in symbols
