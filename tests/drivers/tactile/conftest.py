"""Fixtures for the taxel board tests: the real firmware emulator (--kind taxel) on a real pty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.serial.emulator import EmulatorProcess, ensure_built, start_emulator


@pytest.fixture(scope="session")
def emulator_binary() -> Path:
    """Built once per session (make -C firmware emulator)."""
    return ensure_built()


@pytest.fixture(autouse=True)
def _emulator_registry(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulators started by tests announce themselves in a private folder."""
    monkeypatch.setenv("HAPTICS_EMULATOR_DIR", str(tmp_path_factory.mktemp("emulators")))


@pytest.fixture
def taxel_emulator(emulator_binary: Path) -> Iterator[EmulatorProcess]:
    """A 16 × 16 taxel board at 200 Hz.

    Real-time threads (SCHED_FIFO, allowed as root here; a warning and normal threads
    elsewhere): a microcontroller scans on a hardware timer, and on a loaded 2-core machine
    the emulator's timer thread is otherwise woken late often enough to skip frames.
    """
    emu = start_emulator("taxel", realtime=True)
    try:
        yield emu
    finally:
        emu.stop()
