"""The haptic serial driver refuses a taxel board and says what to use instead."""

from __future__ import annotations

import pytest

from drivers.serial.device import SerialDevice
from drivers.serial.emulator import EmulatorProcess
from haptics.errors import DeviceError

pytestmark = pytest.mark.integration


def test_serial_device_on_a_taxel_board_says_it_is_not_a_paddle(
    taxel_emulator: EmulatorProcess,
) -> None:
    dev = SerialDevice(taxel_emulator.port)
    try:
        with pytest.raises(DeviceError, match=r"taxel board .* not a haptic paddle.*TaxelBoard"):
            dev.open()
    finally:
        dev.close()
