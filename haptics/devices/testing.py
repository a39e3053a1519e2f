"""The device contract as a test suite a driver package runs against its own driver.

Subclass `DeviceContract` in the driver's tests (pytest collects it as `Test...`) and say how
to make a created, not yet opened, device: set `spec` to an installed driver's
'name[:argument]', or override the `device` fixture when making one needs other fixtures
(an emulator on a pty, a recorded session). Every driver with a hardware-free twin runs it:

    from haptics.devices.testing import DeviceContract

    class TestMyStylusContract(DeviceContract):
        spec = "mystylus:emulated"

What it checks: the driver is registered, its schema is known before it opens, it refuses to
read before opening, it streams samples in order once open, it applies no force unless
armed, `write()` returns the force applied after the device's clamp (non-finite → zero), and
`close()` zeroes force and is idempotent. Needs pytest (a test dependency, not a runtime one).

A sense-only device (a `SensorDevice`: a tactile array) subclasses `SensorContract` instead,
the same way: it is registered and a SensorDevice, its schema (no force, its declared
streams) is known before it opens, it refuses to read before opening, once open it delivers
messages of its declared streams only, each of its layout's size, kind and version, in seq
order, never accepts force (armed or not), and `close()` is idempotent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from haptics.devices.device import ZERO, Device, Lifecycle, SensorDevice
from haptics.devices.registry import driver_names, make_device, split_device_spec
from haptics.errors import DeviceError
from haptics.wire.messages import Layout


class DeviceContract:
    """The contract every driver passes. Subclass it; see the module docstring."""

    spec: ClassVar[str] = ""
    samples: ClassVar[int] = 50  # how many samples `test_streams_in_order_once_open` reads
    read_timeout_s: ClassVar[float] = 0.5

    @pytest.fixture
    def device(self) -> Iterator[Device]:
        """A created device from `spec`; closed after the test."""
        if not self.spec:
            raise DeviceError(f"{type(self).__name__}: set `spec` or override the device fixture")
        dev = make_device(self.spec)
        yield dev
        dev.close()

    def test_driver_is_registered(self, device: Device) -> None:
        name = split_device_spec(self.spec)[0] if self.spec else None
        if name is not None:
            assert name in driver_names()
        assert isinstance(device, Device)

    def test_schema_is_known_before_open(self, device: Device) -> None:
        schema = device.schema(device.argument)
        assert schema.rate_hz > 0 and schema.max_force_n > 0
        assert device.state is Lifecycle.CREATED

    def test_read_before_open_is_refused(self, device: Device) -> None:
        with pytest.raises(DeviceError):
            device.read(0.01)

    def test_streams_in_order_once_open(self, device: Device) -> None:
        info = device.open()
        assert info.provenance in ("simulated", "emulated", "real")
        samples = [device.read(self.read_timeout_s) for _ in range(self.samples)]
        seqs = [s.seq for s in samples if s is not None]
        assert len(seqs) == self.samples
        assert seqs == sorted(seqs) and len(set(seqs)) == self.samples

    def test_no_force_unless_armed(self, device: Device) -> None:
        device.open()
        push = _along_every_axis(0.3)
        assert device.write(push) == ZERO
        device.arm()
        _assert_applies_part_of(device.write(push), push)
        device.disarm()
        assert device.write(push) == ZERO

    def test_write_returns_the_clamped_force(self, device: Device) -> None:
        device.open()
        device.arm()
        limit = device.schema(device.argument).max_force_n
        push = _along_every_axis(10 * limit)
        applied = device.write(push)
        _assert_applies_part_of(applied, push)
        assert math.hypot(*applied) <= limit * (1 + 1e-6)
        assert device.write((math.nan, math.nan, math.nan)) == ZERO

    def test_close_zeroes_force_and_is_idempotent(self, device: Device) -> None:
        device.open()
        device.arm()
        device.write((0.0, 0.0, 0.5))
        device.close()
        device.close()
        assert device.state is Lifecycle.CLOSED
        assert device.write((0.0, 0.0, 0.5)) == ZERO


class SensorContract:
    """The contract every sense-only driver passes. Subclass it; see the module docstring."""

    spec: ClassVar[str] = ""
    messages: ClassVar[int] = 20  # how many messages `test_streams_in_order_once_open` reads
    read_timeout_s: ClassVar[float] = 2.0  # to get all of them

    @pytest.fixture
    def device(self) -> Iterator[SensorDevice]:
        """A created device from `spec`; closed after the test."""
        if not self.spec:
            raise DeviceError(f"{type(self).__name__}: set `spec` or override the device fixture")
        dev = make_device(self.spec)
        assert isinstance(dev, SensorDevice), f"{self.spec} is not a sense-only device"
        yield dev
        dev.close()

    def test_driver_is_registered(self, device: SensorDevice) -> None:
        name = split_device_spec(self.spec)[0] if self.spec else None
        if name is not None:
            assert name in driver_names()
        assert isinstance(device, SensorDevice)

    def test_schema_is_known_before_open(self, device: SensorDevice) -> None:
        schema = device.schema(device.argument)
        assert not schema.takes_force and schema.rate_hz > 0
        assert schema.streams, "a sense-only device declares the streams it publishes"
        names = [d.name for d in schema.streams]
        assert len(set(names)) == len(names)
        for decl in schema.streams:
            assert Layout.from_spec(decl.layout).size > 0 and decl.rate_hz > 0
        assert device.state is Lifecycle.CREATED

    def test_read_before_open_is_refused(self, device: SensorDevice) -> None:
        with pytest.raises(DeviceError):
            device.read_messages(0.01)

    def test_streams_in_order_once_open(self, device: SensorDevice) -> None:
        layouts = {
            d.name: Layout.from_spec(d.layout) for d in device.schema(device.argument).streams
        }
        info = device.open()
        assert info.provenance in ("simulated", "emulated", "real")
        device.start()
        got: dict[str, list[int]] = {name: [] for name in layouts}
        deadline = time.monotonic() + self.read_timeout_s
        while sum(map(len, got.values())) < self.messages and time.monotonic() < deadline:
            for name, msg in device.read_messages(0.05):
                assert name in layouts, f"a message for undeclared stream '{name}'"
                layout = layouts[name]
                assert (len(msg), msg[0], msg[1]) == (layout.size, layout.kind, layout.version)
                rec = np.frombuffer(msg, layout.dtype)
                if "seq" in layout.names:
                    got[name].append(int(rec["seq"][0]))
        assert sum(map(len, got.values())) >= self.messages, f"too few messages: {got}"
        for seqs in got.values():
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert isinstance(device.stats(), dict)

    def test_never_accepts_force(self, device: SensorDevice) -> None:
        device.open()
        push = _along_every_axis(0.3)
        assert device.write(push) == ZERO
        device.arm()
        assert device.write(push) == ZERO
        assert device.write((math.nan, math.nan, math.nan)) == ZERO
        assert device.read(0.01) is None  # and publishes no stylus state
        device.disarm()
        assert device.write(push) == ZERO

    def test_close_is_idempotent(self, device: SensorDevice) -> None:
        device.open()
        device.close()
        device.close()
        assert device.state is Lifecycle.CLOSED
        assert device.write((0.0, 0.0, 0.5)) == ZERO
        with pytest.raises(DeviceError):
            device.read_messages(0.01)


def _along_every_axis(norm: float) -> tuple[float, float, float]:
    """A force of `norm` newtons with an equal share on every axis (a 1-DoF device uses one)."""
    c = norm / math.sqrt(3.0)
    return (c, c, c)


def _assert_applies_part_of(applied: tuple[float, float, float], asked: tuple[float, ...]) -> None:
    """Some force was applied, on the axes the device has, never more than asked or the other
    way: each component is zero or has the asked sign and at most the asked size."""
    assert math.hypot(*applied) > 0.0, "armed, yet the device applied no force"
    for a, q in zip(applied, asked, strict=True):
        assert a == 0.0 or (a * q > 0.0 and abs(a) <= abs(q) * (1 + 1e-6))
