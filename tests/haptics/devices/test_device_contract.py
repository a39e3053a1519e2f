"""The contract suite on a driver registered by entry point, and its own failure modes."""

from __future__ import annotations

import math

import pytest

from haptics.devices.device import plausible
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


@pytest.mark.parametrize(
    ("position", "velocity", "force", "ok"),
    [
        ((0.01, -0.02, 0.1), (0.1, 0.0, -0.2), (1.0, 2.0, -3.0), True),
        ((math.nan, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), False),
        ((0.0, 0.0, 0.0), (math.inf, 0.0, 0.0), (0.0, 0.0, 0.0), False),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, -math.inf, 0.0), False),
        ((1e6, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), False),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1e9), False),
    ],
)
def test_plausible_samples(
    position: tuple[float, float, float],
    velocity: tuple[float, float, float],
    force: tuple[float, float, float],
    ok: bool,
) -> None:
    assert plausible(position, velocity, force) is ok
