"""The driver takes a device's arm state in the order the device sent it.

An ACK tells the arm state as of when the firmware handled the request; a STATE the firmware
made after it may already tell another (a fault a millisecond later). The reader thread takes
both in stream order, so the caller that waited for the ACK must not put the ACK's older
state back when it wakes. Unit level: a fake port plays the device and answers at once, so
that the order of events is fixed (the emulator tests run the real thing, where this is a
race the caller loses only sometimes).
"""

from __future__ import annotations

import time

from drivers.serial import protocol as p
from drivers.serial.device import SerialDevice
from drivers.serial.framing import FrameReader
from haptics.devices.device import ZERO


class _FaultingPort:
    """Answers an ARM with its ACK (armed), then a newer STATE (the watchdog latched)."""

    def __init__(self, dev: SerialDevice) -> None:
        self.dev = dev
        self.frames = FrameReader()

    def write(self, wire: bytes) -> int:
        for body in self.frames.feed(wire):
            msg = p.decode(body)
            if isinstance(msg, p.Arm):
                now = time.monotonic_ns()
                ack = p.Ack(msg.nonce, p.MsgType.ARM, p.AckResult.OK, p.ArmState.ARMED, 0)
                self.dev._on_body(p.encode(ack), now)
                state = p.State(2, 2000, 0, 0.0, 0.0, 0.0, 0.0, p.ArmState.FAULT, 0,
                                p.FAULT_WATCHDOG, 0, 0)
                self.dev._on_body(p.encode(state), now)
        return len(wire)


def test_a_state_newer_than_the_ack_is_what_the_driver_goes_by() -> None:
    dev = SerialDevice("fake")
    dev._port = _FaultingPort(dev)
    dev._link = "connected"
    dev._arm()  # the ACK said OK, armed ...
    assert dev._device_arm == p.ArmState.FAULT  # ... but the device has faulted since
    assert dev._write((2.0, 0.0, 0.0)) == ZERO  # so write() predicts no force
