"""The contract every driver passes: lifecycle, zero force unless armed, clamped writes.

Each driver with a hardware-free twin is listed in DEVICES; a new driver adds its spec here.
"""

import math
from collections.abc import Iterator

import pytest

from haptics.devices.device import ZERO, Device, Lifecycle
from haptics.devices.process import make_device
from haptics.errors import DeviceError
from haptics.plugins import driver_names

DEVICES = ["simulated:2"]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> Iterator[Device]:
    dev = make_device(request.param)
    yield dev
    dev.close()


def test_drivers_are_registered() -> None:
    assert "simulated" in driver_names()


def test_schema_is_known_before_open(device: Device) -> None:
    schema = device.schema(device.argument)
    assert schema.rate_hz > 0 and schema.max_force_n > 0
    assert device.state is Lifecycle.CREATED


def test_read_before_open_is_refused(device: Device) -> None:
    with pytest.raises(DeviceError):
        device.read(0.01)


def test_streams_in_order_once_open(device: Device) -> None:
    info = device.open()
    assert info.provenance in ("simulated", "emulated", "real")
    samples = [device.read(0.5) for _ in range(50)]
    seqs = [s.seq for s in samples if s is not None]
    assert len(seqs) == 50
    assert seqs == sorted(seqs) and len(set(seqs)) == 50


def test_no_force_unless_armed(device: Device) -> None:
    device.open()
    assert device.write((0.0, 0.0, 2.0)) == ZERO
    device.arm()
    applied = device.write((0.0, 0.0, 2.0))
    assert math.isclose(applied[2], 2.0)
    device.disarm()
    assert device.write((0.0, 0.0, 2.0)) == ZERO


def test_write_returns_the_clamped_force(device: Device) -> None:
    device.open()
    device.arm()
    limit = device.schema(device.argument).max_force_n
    applied = device.write((0.0, 0.0, 10 * limit))
    assert math.isclose(math.sqrt(sum(v * v for v in applied)), limit, rel_tol=1e-6)
    applied = device.write((math.nan, 0.0, 1.0))
    assert applied == ZERO


def test_close_zeroes_force_and_is_idempotent(device: Device) -> None:
    device.open()
    device.arm()
    device.write((0.0, 0.0, 1.0))
    device.close()
    device.close()
    assert device.state is Lifecycle.CLOSED
    assert device.write((0.0, 0.0, 1.0)) == ZERO
