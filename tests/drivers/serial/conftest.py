"""Fixtures for the serial driver tests: the real firmware emulator on a real pty."""

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
def emulator(emulator_binary: Path) -> Iterator[EmulatorProcess]:
    """A paddle emulator at 1 kHz with the default 100 ms watchdog."""
    emu = start_emulator("paddle")
    try:
        yield emu
    finally:
        emu.stop()
