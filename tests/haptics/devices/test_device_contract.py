"""The contract suite on a driver registered by entry point, and its own failure modes."""

from __future__ import annotations

import pytest

from haptics.devices.registry import load_driver, make_device
from haptics.devices.testing import DeviceContract
from haptics.errors import DeviceError, DeviceNotFound


class TestSimulatedContract(DeviceContract):
    spec = "simulated:2"


def test_an_unknown_driver_names_the_installed_ones() -> None:
    with pytest.raises(DeviceNotFound, match=r"installed drivers: .*simulated"):
        load_driver("no-such-driver")


def test_a_contract_without_a_spec_says_what_to_do() -> None:
    class Incomplete(DeviceContract):
        pass

    fixture = Incomplete.device.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(DeviceError, match="set `spec`"):
        next(fixture(Incomplete()))


def test_make_device_gives_a_created_device() -> None:
    dev = make_device("simulated:2")
    try:
        assert dev.argument == "2"
    finally:
        dev.close()
