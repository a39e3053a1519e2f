"""Faults between the driver and the firmware: corrupted, dropped and truncated frames, a
silent link and an unplug, injected by a relay between two real ptys."""

from __future__ import annotations

import copy
import itertools
import struct
import time
from pathlib import Path

import pytest

from drivers.serial import protocol as p
from drivers.serial.device import SerialDevice
from drivers.serial.emulator import start_emulator
from drivers.serial.relay import TO_DEVICE, TO_HOST, FaultRelay

pytestmark = pytest.mark.integration


def link_up(dev: SerialDevice) -> bool:
    """Whether the link is up (a call, so a type checker does not fix it between checks)."""
    return dev.connected


def force_of(seq: int) -> float:
    """A force that only this seq carries: a corrupted command would show a mismatch."""
    return ((seq * 7919) % 2001 - 1000) / 1000.0


def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def stream_seq_forces(dev: SerialDevice, n: int) -> None:
    deadline = time.monotonic_ns()
    for _ in range(n):
        deadline += 1_000_000
        while time.monotonic_ns() < deadline:
            time.sleep(0.0002)
        seq = dev.last_command_seq + 1
        dev.write((force_of(seq), 0.0, 0.0))
        assert dev.last_command_seq == seq
        while dev.read(0.0) is not None:
            pass


def test_bit_errors_are_all_detected_and_none_is_acted_on(emulator_binary: Path,
                                                          tmp_path: Path) -> None:
    """BER 1e-3 both ways: the firmware applies exactly the intact commands, the driver
    accepts exactly the intact STATE frames, and both count every damaged frame."""
    log = tmp_path / "applied.txt"
    emu = start_emulator("paddle", command_log=log)
    received: list[int] = []
    with FaultRelay(emu.port, bit_error_rate=1e-3, seed=7) as relay:
        dev = SerialDevice(relay.port, host_watchdog_ms=None)
        try:
            dev.open()
            dev.add_listener(lambda st, _now: received.append(st.seq))
            dev.arm()
            stream_seq_forces(dev, 2500)
            last_streamed = dev.last_command_seq
            time.sleep(0.005)
            reports = dev.stats()["device_error_reports"]
            deadline = time.monotonic() + 2.0  # an ERROR_COUNTERS sent after the last command
            while dev.stats()["device_error_reports"] == reports and time.monotonic() < deadline:
                time.sleep(0.01)
            relay.disconnect_upstream()  # freeze both sides' accounting
            time.sleep(0.02)
            host = dev.stats()
            to_dev = copy.deepcopy(relay.channels[TO_DEVICE].stats)
            to_host = copy.deepcopy(relay.channels[TO_HOST].stats)
            seen = list(received)
            relay.connect_upstream(emu.port)  # so that close() can disarm
        finally:
            dev.close()
            emu.stop()  # flushes the command log

    # host → device: every applied command was sent intact, and every intact one was applied
    rows = (line.split() for line in log.read_text().splitlines())
    applied = [(int(a), float(b)) for a, b, _ in rows if int(a) <= last_streamed]
    assert len(applied) > 1500
    for seq, force in applied:  # the log has 9 digits: exact for a float32
        assert f32(force) == f32(force_of(seq)), f"command {seq} applied with a force it never had"
    applied_seqs = [s for s, _ in applied]
    lo, hi = applied_seqs[0], applied_seqs[-1]
    intact = [s for s in to_dev.passed_seqs if lo <= s <= hi]
    assert applied_seqs == intact
    assert not set(applied_seqs) & set(to_dev.damaged_seqs)
    assert to_dev.corrupted > 50  # the test did exercise corruption
    dev_errors = host["device_errors"]
    assert dev_errors is not None
    assert dev_errors["rx_crc_errors"] + dev_errors["rx_framing_errors"] >= to_dev.corrupted

    # device → host: the driver took exactly the intact STATE frames
    lo, hi = seen[0], seen[-1]
    assert seen == [s for s in to_host.passed_seqs if lo <= s <= hi]
    assert not set(seen) & set(to_host.damaged_seqs)
    assert to_host.corrupted > 100
    assert host["crc_errors"] + host["framing_errors"] >= sum(
        1 for s in to_host.damaged_seqs if lo <= s <= hi)
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(seen))
    # every missing seq is one the relay damaged
    assert gaps == sum(1 for s in to_host.damaged_seqs if lo < s < hi)
    assert host["frames_lost"] >= gaps


def test_dropped_and_truncated_frames_are_counted(emulator_binary: Path) -> None:
    with start_emulator("paddle") as emu, FaultRelay(
            emu.port, drop_rate=0.02, truncate_rate=0.02, seed=3, directions=(TO_HOST,)) as relay:
        dev = SerialDevice(relay.port)
        received: list[int] = []
        try:
            dev.open()
            dev.add_listener(lambda st, _now: received.append(st.seq))
            end = time.monotonic() + 10.0
            while len(received) < 1500 and time.monotonic() < end:
                dev.read(0.01)
            relay.disconnect_upstream()
            time.sleep(0.02)
            stats = dev.stats()
            seen = list(received)
        finally:
            dev.close()
        ch = relay.channels[TO_HOST].stats
    lo, hi = seen[0], seen[-1]
    damaged = [s for s in ch.damaged_seqs if lo < s < hi]
    assert ch.dropped > 5 and ch.truncated > 5
    assert sum(b - a - 1 for a, b in itertools.pairwise(seen)) == len(damaged)
    assert stats["frames_lost"] >= len(damaged)  # (and those before the listener started)
    assert seen == [s for s in ch.passed_seqs if lo <= s <= hi]
    assert stats["framing_errors"] + stats["crc_errors"] >= 1


def test_silent_link_is_lost_and_a_new_device_behind_the_relay_reconnects(
        emulator_binary: Path) -> None:
    first = start_emulator("paddle")
    relay = FaultRelay(first.port).start()
    dev = SerialDevice(relay.port, lost_after_s=0.1)
    try:
        dev.open()
        assert dev.read(0.5) is not None
        relay.disconnect_upstream()
        first.stop()
        time.sleep(0.3)
        assert not link_up(dev) and dev.lost is not None
        assert "no data" in str(dev.lost)
        with start_emulator("paddle") as second:
            relay.connect_upstream(second.port)
            deadline = time.monotonic() + 3.0
            while not link_up(dev) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert link_up(dev)
            assert dev.read(0.5) is not None
            assert dev.stats()["reconnects"] == 1
    finally:
        dev.close()
        relay.stop()
        first.stop()


def test_unplug_and_replug_on_a_stable_name(emulator_binary: Path, tmp_path: Path) -> None:
    link = tmp_path / "by-id-paddle"
    with start_emulator("paddle") as emu, FaultRelay(emu.port, link=link) as relay:
        dev = SerialDevice(str(link))
        try:
            dev.open()
            dev.arm()
            assert dev.read(0.5) is not None
            relay.unplug()  # the driver's read fails like a USB unplug
            deadline = time.monotonic() + 2.0
            while link_up(dev) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not link_up(dev) and dev.lost is not None
            assert dev.write((0.5, 0.0, 0.0)) == (0.0, 0.0, 0.0)
            relay.replug()
            deadline = time.monotonic() + 5.0
            while not link_up(dev) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert link_up(dev)
            # armed before the unplug and still armed on the device: the driver disarms it,
            # and write() applies nothing until the caller arms again
            time.sleep(0.05)
            state = dev.last_state
            assert state is not None and state.arm_state != p.ArmState.ARMED
            assert dev.write((0.5, 0.0, 0.0)) == (0.0, 0.0, 0.0)
            assert dev.stats()["reconnects"] == 1
            dev.disarm()
            dev.arm()
            assert dev.write((0.5, 0.0, 0.0)) == (0.5, 0.0, 0.0)
        finally:
            dev.close()
