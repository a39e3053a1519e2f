"""Safety across the wire, against the real firmware emulator on a real pty (no mocks).

A new host finds the device disarmed at zero force; error counters survive past 16 bits;
command sequence numbers stay strictly increasing when two threads send; and when the driver
itself withholds force (its watchdog tripped, or the link came back), the samples say so.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import serial

from drivers.serial import protocol as p
from drivers.serial.device import SerialDevice
from drivers.serial.emulator import EmulatorProcess, start_emulator
from drivers.serial.framing import FrameReader
from haptics.devices.device import ZERO
from haptics.errors import MessageError
from haptics.wire.messages import STATUS_ARMED, STATUS_WATCHDOG

pytestmark = pytest.mark.integration

M = TypeVar("M")


class RawHost:
    """A bare host on the emulator's pty: sends messages, collects decoded replies."""

    def __init__(self, port: str) -> None:
        self.port = serial.Serial(port, timeout=0)
        self.frames = FrameReader()
        self.seen: list[p.Message] = []

    def close(self) -> None:
        self.port.close()

    def send(self, msg: p.Message) -> None:
        self.port.write(p.encode_wire(msg))

    def pump(self) -> None:
        data = self.port.read(65536)
        for body in self.frames.feed(data):
            try:
                self.seen.append(p.decode(body))
            except MessageError:  # a frame we do not read: keep going
                continue

    def wait_for(self, kind: type[M], accept: Callable[[M], bool],
                 timeout_s: float = 1.0) -> M:
        """The first `kind` message after now that `accept` takes; fails after `timeout_s`."""
        start = len(self.seen)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.pump()
            for msg in self.seen[start:]:
                if isinstance(msg, kind) and accept(msg):
                    return msg
            start = len(self.seen)
            time.sleep(0.001)
        raise AssertionError(f"no {kind.__name__} within {timeout_s} s")

    def hello(self) -> p.DeviceInfoReply:
        nonce = secrets.randbits(32) or 1
        self.port.write(b"\x00")
        self.send(p.Hello(nonce))
        return self.wait_for(p.DeviceInfoReply, lambda m: m.nonce == nonce)

    def request(self, make: Callable[[int], p.Message]) -> p.Ack:
        nonce = secrets.randbits(32) or 1
        self.send(make(nonce))
        return self.wait_for(p.Ack, lambda m: m.nonce == nonce)


@pytest.fixture
def raw(emulator: EmulatorProcess) -> Iterator[RawHost]:
    host = RawHost(emulator.port)
    try:
        yield host
    finally:
        host.close()


def test_a_new_host_finds_the_device_disarmed_at_zero_force(raw: RawHost) -> None:
    """Host A arms and pushes; host B says HELLO: disarmed, zero force, A's commands ignored."""
    raw.hello()
    assert raw.request(lambda n: p.SetParams(n, 100, 0, 3.0, 0.0, 0.0, 0.0)).result == 0
    assert raw.request(p.Arm).result == p.AckResult.OK
    seq = 0
    pushing: p.State | None = None
    deadline = time.monotonic() + 1.0
    while pushing is None and time.monotonic() < deadline:
        seq += 1
        raw.send(p.Command(seq, 1.0))
        raw.pump()
        pushing = next((m for m in raw.seen if isinstance(m, p.State)
                        and m.last_cmd_seq == seq and m.force_cmd_n == 1.0), None)
        time.sleep(0.001)
    assert pushing is not None and pushing.arm_state == p.ArmState.ARMED
    # a new host connects: its HELLO alone must take the force away
    info = raw.hello()
    assert info.protocol_version == p.PROTOCOL_VERSION
    after = raw.wait_for(p.State, lambda m: True)
    assert after.arm_state == p.ArmState.DISARMED
    assert after.force_cmd_n == 0.0
    # the old host's commands keep arriving: accepted (a new session), but no force
    for _ in range(30):
        seq += 1
        raw.send(p.Command(seq, 1.0))
        time.sleep(0.001)
    late = raw.wait_for(p.State, lambda m: m.last_cmd_seq == seq)
    assert late.arm_state == p.ArmState.DISARMED and late.force_cmd_n == 0.0
    # arming again starts from a zero setpoint: force needs a command sent after ARM
    assert raw.request(p.Arm).result == p.AckResult.OK
    armed = raw.wait_for(p.State, lambda m: m.arm_state == p.ArmState.ARMED)
    assert armed.force_cmd_n == 0.0


def test_error_counters_count_past_16_bits(raw: RawHost) -> None:
    """70 000 refused frames read as 70 000 in STATE.rx_errors (v1 wrapped at 65 536)."""
    raw.hello()
    garbage = b"\x09\x00" * 10_000  # each an invalid COBS frame: one framing error
    for _ in range(7):
        raw.port.write(garbage)
        raw.pump()
    st = raw.wait_for(p.State, lambda m: m.rx_errors >= 70_000, timeout_s=5.0)
    assert 70_000 <= st.rx_errors < 70_100
    ec = raw.wait_for(p.ErrorCounters, lambda m: m.rx_framing_errors >= 70_000)
    assert ec.rx_framing_errors < 70_100


def test_command_seqs_stay_in_order_when_two_threads_send(
        emulator: EmulatorProcess) -> None:
    """write() on the caller's thread and the host watchdog on the reader thread both send
    COMMANDs. Two writers at once (thread switches forced every microsecond) must still send
    strictly increasing seqs: the firmware counts none stale, every one is accounted for."""
    dev = SerialDevice(emulator.port, host_watchdog_ms=None)
    dev.open()
    n = 4000
    old = sys.getswitchinterval()
    try:
        dev.arm()

        def writer() -> None:
            for _ in range(n):
                dev.write((0.0, 0.0, 0.0))

        sys.setswitchinterval(1e-6)
        threads = [threading.Thread(target=writer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sys.setswitchinterval(old)
        sent = dev.stats()["commands_sent"]
        assert sent == 2 * n
        assert dev.last_command_seq == sent  # no seq handed out twice
        last = dev.last_command_seq
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            dev.read(0.01)
            errs = dev.stats()["device_errors"]
            st = dev.last_state
            if errs and st is not None and st.last_cmd_seq == last and errs["rx_frames"] > sent:
                break
        errs = dev.stats()["device_errors"]
        assert errs is not None and errs["rx_stale_commands"] == 0
    finally:
        sys.setswitchinterval(old)
        dev.close()


def _connected(dev: SerialDevice) -> bool:
    return dev.connected  # (a call: the link changes under the test's feet)


def _samples(dev: SerialDevice, seconds: float) -> list[int]:
    """Write zero at ~1 kHz for `seconds` (the caller keeps going) and return sample status."""
    status = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert dev.write((0.4, 0.0, 0.0)) == ZERO
        while (s := dev.read(0.0)) is not None:
            status.append(s.status)
        time.sleep(0.001)
    return status


def test_force_withheld_after_the_host_watchdog_is_visible(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port, host_watchdog_ms=30)
    dev.open()
    try:
        dev.arm()
        assert dev.stats()["force_withheld"] is None
        time.sleep(0.08)  # the caller goes quiet: the driver zeroes and disarms
        status = _samples(dev, 0.1)  # the caller is back: force stays off, and says so
        assert status and all(s & STATUS_WATCHDOG and not s & STATUS_ARMED for s in status[-20:])
        assert dev.stats()["force_withheld"] == "host_watchdog"
        dev.disarm()
        dev.arm()
        assert dev.stats()["force_withheld"] is None
        assert dev.write((0.3, 0.0, 0.0)) == (0.3, 0.0, 0.0)
    finally:
        dev.close()


def test_force_withheld_after_a_reconnect_is_visible(emulator_binary: Path,
                                                     tmp_path: Path) -> None:
    """Armed, the device goes away and comes back: the driver keeps it disarmed until the
    caller arms again, and every sample meanwhile carries STATUS_WATCHDOG (not just a
    missing ARMED bit that looks like "never armed")."""
    link = tmp_path / "paddle"
    first = start_emulator("paddle", link=link)
    dev = SerialDevice(str(link))
    try:
        dev.open()
        dev.arm()
        assert dev.write((0.2, 0.0, 0.0)) == (0.2, 0.0, 0.0)
        first.kill()
        deadline = time.monotonic() + 2.0
        while _connected(dev) and time.monotonic() < deadline:
            dev.write((0.2, 0.0, 0.0))
            dev.read(0.01)
        assert not _connected(dev)
        while dev.read(0.0) is not None:  # what arrived before the loss
            pass
        with start_emulator("paddle", link=link):
            deadline = time.monotonic() + 5.0
            while not _connected(dev) and time.monotonic() < deadline:
                dev.write((0.2, 0.0, 0.0))
                time.sleep(0.01)
            assert _connected(dev)
            status = _samples(dev, 0.1)
            assert status and all(s & STATUS_WATCHDOG and not s & STATUS_ARMED for s in status)
            assert dev.stats()["force_withheld"] == "reconnected"
            dev.disarm()
            dev.arm()
            assert dev.stats()["force_withheld"] is None
            assert dev.write((0.2, 0.0, 0.0)) == (0.2, 0.0, 0.0)
    finally:
        dev.close()
        first.stop()
