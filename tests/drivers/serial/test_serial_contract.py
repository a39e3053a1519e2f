"""The device contract suite against the serial driver talking to the real firmware emulator
on a pty (the hardware-free twin of a real board)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.serial.emulator import EmulatorProcess
from haptics.devices.device import Device
from haptics.devices.registry import make_device
from haptics.devices.testing import DeviceContract

pytestmark = pytest.mark.integration


class TestSerialContract(DeviceContract):
    spec = "serial"

    @pytest.fixture
    def device(self, emulator: EmulatorProcess) -> Iterator[Device]:
        dev = make_device(f"serial:{emulator.port}")
        yield dev
        dev.close()
