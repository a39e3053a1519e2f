"""SerialDevice against the real firmware emulator over a real pty (no mocks)."""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

import pytest

from drivers.serial import protocol as p
from drivers.serial.device import SerialDevice
from drivers.serial.emulator import EmulatorProcess, start_emulator
from haptics.devices.device import ZERO, Lifecycle, Sample
from haptics.errors import DeviceError, DeviceLost, DeviceNotFound, FirmwareMismatch
from haptics.wire.messages import STATUS_ARMED, STATUS_CLAMPED, STATUS_FAULT, STATUS_WATCHDOG

pytestmark = pytest.mark.integration


def link_up(dev: SerialDevice) -> bool:
    """Whether the link is up (a call, so a type checker does not fix it between checks)."""
    return dev.connected


def lost_of(dev: SerialDevice) -> DeviceLost | None:
    return dev.lost


def drive(dev: SerialDevice, force: float, seconds: float) -> list[tuple[float, float, float]]:
    """Write `force` at ~1 kHz for `seconds`; returns what write() said it applied."""
    applied = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        applied.append(dev.write((force, 0.0, 0.0)))
        while dev.read(0.0) is not None:
            pass
        time.sleep(0.001)
    return applied


def settle(dev: SerialDevice, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        dev.read(0.01)


def test_handshake_reports_an_emulated_paddle(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port)
    info = dev.open()
    try:
        assert info.driver == "serial"
        assert info.provenance == "emulated"
        assert info.firmware_version == "1.0.0"
        assert "paddle" in info.model
        assert info.extra["protocol_version"] == p.PROTOCOL_VERSION
        assert info.extra["schema_hash"] == f"{p.SCHEMA_HASH:08x}"
        assert info.extra["watchdog_ms"] == 100
        assert info.extra["clamp_n"] == pytest.approx(3.0)
        assert info.extra["clock_offset_us"] is not None
        assert SerialDevice.schema(emulator.port).rate_hz == 1000
    finally:
        dev.close()
    dev.close()  # twice is fine
    with pytest.raises(DeviceError):
        dev.read(0.0)


def test_streams_state_at_1khz_in_order(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port)
    dev.open()
    try:
        samples: list[Sample] = []
        end = time.monotonic() + 10.0
        while len(samples) < 400 and time.monotonic() < end:  # by count: a busy machine
            s = dev.read(0.05)                                  # may hold the emulator up
            if s is not None:
                samples.append(s)
        assert len(samples) == 400
        seqs = [s.seq for s in samples]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # none lost, in order
        dt = [(b.device_time_ns - a.device_time_ns) / 1e6 for a, b in itertools.pairwise(samples)]
        # absolute deadlines: the period is the period, whatever a late tick did
        assert 0.99 <= statistics.median(dt) <= 1.01
        span_ms = (samples[-1].device_time_ns - samples[0].device_time_ns) / 1e6
        assert span_ms >= 399 * 0.99  # never faster than 1 kHz
        assert all(b.host_time_ns >= a.host_time_ns for a, b in itertools.pairwise(samples))
        assert all(s.status == 0 for s in samples)  # open, not armed
        assert dev.stats()["frames_lost"] == 0
    finally:
        dev.close()


def test_no_force_until_armed_then_the_paddle_moves(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port)
    dev.open()
    try:
        assert set(drive(dev, 1.0, 0.05)) == {ZERO}  # open: nothing applied
        assert dev.last_state is not None and dev.last_state.position_m == 0.0
        dev.arm()
        applied = drive(dev, 0.5, 0.12)
        assert applied[-1] == (0.5, 0.0, 0.0)
        st = dev.last_state
        assert st is not None and st.arm_state == p.ArmState.ARMED
        assert st.position_m > 0.002  # pushed: the handle moved
        assert st.force_cmd_n == pytest.approx(0.5)
        x = st.position_m
        drive(dev, -0.5, 0.1)
        st = dev.last_state
        assert st is not None and st.position_m < x and st.velocity_mps < 0
        s = dev.read(0.1)
        assert s is not None and s.status & STATUS_ARMED and s.position[1:] == (0.0, 0.0)
        # the firmware clamp: 10 N asked, 3 N applied and flagged
        assert drive(dev, 10.0, 0.02)[-1] == (3.0, 0.0, 0.0)
        assert any((s := dev.read(0.05)) is not None and s.status & STATUS_CLAMPED
                   for _ in range(20))
        dev.disarm()
        settle(dev, 0.02)
        assert dev.last_state is not None and dev.last_state.arm_state == p.ArmState.DISARMED
    finally:
        dev.close()


def test_firmware_watchdog_trips_in_time_and_latches(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port, host_watchdog_ms=None)
    dev.open()
    states: list[p.State] = []
    dev.add_listener(lambda st, _now: states.append(st))
    try:
        dev.arm()
        drive(dev, 0.3, 0.08)
        last = dev.last_command_seq
        settle(dev, 0.2)  # silence: the firmware must stop on its own
        applied = next(s for s in states if s.last_cmd_seq == last)
        trip = next(s for s in states if s.seq > applied.seq and s.arm_state == p.ArmState.FAULT)
        # fed on arrival, seen in the next STATE: the period ± one tick, never beyond + 1 ms
        assert 99.0 <= (trip.time_us - applied.time_us) / 1000 <= 101.0
        assert trip.fault_bits & p.FAULT_WATCHDOG and trip.force_cmd_n == 0.0
        s = dev.read(0.05)
        assert s is not None and s.status & STATUS_FAULT and s.status & STATUS_WATCHDOG
        assert drive(dev, 0.3, 0.02)[-1] == ZERO  # commands do not bring force back
        dev.disarm()
        with pytest.raises(DeviceError, match="clear_fault"):
            dev.arm()  # latched
        assert dev.state is Lifecycle.OPEN
        dev.clear_fault()
        dev.arm()
        drive(dev, 0.3, 0.06)
        assert dev.last_state is not None and dev.last_state.arm_state == p.ArmState.ARMED
        assert dev.last_state.force_cmd_n > 0
    finally:
        dev.close()


def test_host_watchdog_disarms_when_the_caller_goes_quiet(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port, host_watchdog_ms=30)
    dev.open()
    try:
        dev.arm()
        drive(dev, 0.3, 0.03)
        settle(dev, 0.08)  # > host watchdog, < firmware watchdog
        st = dev.last_state
        assert st is not None and st.arm_state == p.ArmState.DISARMED and st.fault_bits == 0
        assert dev.stats()["host_watchdog_trips"] == 1
        s = dev.read(0.05)
        assert s is not None and s.status & STATUS_WATCHDOG
        assert dev.write((0.3, 0.0, 0.0)) == ZERO  # stays off until disarm() + arm()
        dev.disarm()
        dev.arm()
        assert drive(dev, 0.3, 0.02)[-1] == (0.3, 0.0, 0.0)
    finally:
        dev.close()


def test_parameters_clamp_spring_and_watchdog(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port, host_watchdog_ms=None)
    dev.open()
    try:
        with pytest.raises(DeviceError, match="refused parameters"):
            dev.set_params(clamp_n=5.0)  # above the paddle's 3 N ceiling
        dev.set_params(clamp_n=1.0, ramp_ms=0, spring_k=200.0, damping_b=0.5, anchor_m=0.0)
        dev.arm()
        assert drive(dev, 2.0, 0.03)[-1] == (1.0, 0.0, 0.0)
        st = dev.last_state
        assert st is not None and st.force_cmd_n == pytest.approx(1.0)
        assert st.flags & p.STATE_FLAG_CLAMPED
        # the firmware's own spring pulls the handle back towards the anchor
        dev.use_local_spring(True)
        drive(dev, 0.0, 0.05)
        st = dev.last_state
        assert st is not None and st.flags & p.STATE_FLAG_LOCAL_SPRING
        assert st.position_m > 0 and st.force_cmd_n < 0
        dev.use_local_spring(False)
        dev.set_params(watchdog_ms=20)
        drive(dev, 0.0, 0.02)
        settle(dev, 0.05)
        st = dev.last_state
        assert st is not None and st.arm_state == p.ArmState.FAULT
        assert st.fault_bits == p.FAULT_WATCHDOG
    finally:
        dev.close()


@pytest.mark.parametrize(("kwargs", "advice"), [
    ({"protocol_version": 3}, "Upgrade haptics to a release for protocol v3"),
    ({"protocol_version": 1}, "speaking protocol v1; this haptics speaks v2. Flash firmware for "
                              "protocol v2"),
    ({"schema_hash": 0x12345678}, "Flash firmware built from this haptics checkout"),
])
def test_incompatible_firmware_is_refused(emulator_binary: Path, kwargs: dict[str, int],
                                          advice: str) -> None:
    with start_emulator("paddle", **kwargs) as emu:  # type: ignore[arg-type]
        dev = SerialDevice(emu.port)
        with pytest.raises(FirmwareMismatch, match=advice):
            dev.open()
        assert dev.state is Lifecycle.CREATED


def test_missing_port_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match="haptics devices list"):
        SerialDevice(str(tmp_path / "no-such-port")).open()
    with pytest.raises(DeviceNotFound, match="which port"):
        SerialDevice("").open()


def test_a_port_that_never_answers_is_an_error(tmp_path: Path) -> None:
    import os

    master, slave = os.openpty()
    try:
        dev = SerialDevice(os.ttyname(slave), handshake_timeout_s=0.3)
        with pytest.raises(DeviceError, match="no DEVICE_INFO"):
            dev.open()
    finally:
        os.close(master)
        os.close(slave)


def test_killed_emulator_is_lost_and_a_restart_on_the_same_link_reconnects(
        emulator_binary: Path, tmp_path: Path) -> None:
    link = tmp_path / "paddle"
    first = start_emulator("paddle", link=link)
    dev = SerialDevice(str(link))
    try:
        dev.open()
        assert dev.read(0.5) is not None
        first.kill()  # SIGKILL: the pty master closes, as an unplug
        deadline = time.monotonic() + 2.0
        while link_up(dev) and time.monotonic() < deadline:
            dev.read(0.01)
        assert not link_up(dev)
        assert isinstance(dev.lost, DeviceLost) and "reconnecting" in str(dev.lost)
        while dev.read(0.0) is not None:  # what arrived before the loss
            pass
        assert dev.read(0.05) is None
        with pytest.raises(DeviceLost):
            dev.arm()
        with start_emulator("paddle", link=link):
            deadline = time.monotonic() + 5.0
            while not link_up(dev) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert link_up(dev) and lost_of(dev) is None
            s1 = dev.read(0.5)
            s2 = dev.read(0.5)
            assert s1 is not None and s2 is not None and s2.seq == s1.seq + 1
            stats = dev.stats()
            assert stats["reconnects"] == 1 and stats["lost_events"] == 1
            dev.arm()  # a fresh device, disarmed: arming works again
            assert drive(dev, 0.2, 0.02)[-1] == (0.2, 0.0, 0.0)
    finally:
        dev.close()
        first.stop()
