"""TaxelBoard over the real firmware emulator on a pty: handshake, rate, loss, faults."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import pytest

from drivers.serial import protocol as p
from drivers.serial.emulator import EmulatorProcess, start_emulator
from drivers.serial.relay import TO_HOST, FaultRelay
from drivers.tactile.board import TaxelBoard
from drivers.tactile.frames import TactileFrame
from haptics.errors import DeviceError, DeviceNotFound, FirmwareMismatch

pytestmark = pytest.mark.integration


def loss(s: dict[str, Any]) -> dict[str, Any]:
    """What explains frames lost: the board's queue overflowing while the host did not read."""
    return {"frames_lost": s["frames_lost"], "host_longest_gap_ms": s["host_longest_gap_ms"],
            "tx_dropped": (s["device_errors"] or {}).get("tx_dropped")}


def collect(board: TaxelBoard, seconds: float) -> list[TactileFrame]:
    frames: list[TactileFrame] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        f = board.get(0.05)
        if f is not None:
            frames.append(f)
    return frames


def test_handshake_reports_the_board(taxel_emulator: EmulatorProcess) -> None:
    with TaxelBoard(taxel_emulator.port) as board:
        info = board.info
        assert info is not None and board.connected
        assert (info.rows, info.cols, info.chunks) == (16, 16, 3)
        assert info.pitch_m == pytest.approx(0.002)
        assert info.frame_rate_hz == pytest.approx(200.0)
        assert info.pressure_lsb_pa == pytest.approx(25.0) and info.max_count == 4095
        assert info.full_scale_kpa == pytest.approx(102.375)
        assert info.provenance == "emulated" and info.firmware_version == "1.0.0"
        assert info.protocol_version == p.PROTOCOL_VERSION
        assert info.schema_hash == p.TAXEL_SCHEMA_HASH
        assert board.get(0.5) is not None
        with pytest.raises(DeviceError, match="already open"):
            board.open()
        board.close()
        assert board.stats()["link"] == "closed"
        while board.get() is not None:  # frames that came before close() stay to be taken
            pass
        again = board.open()  # a closed board opens again, from a clean slate
        assert again == info and board.stats()["frames"] == 0
        assert board.get(0.5) is not None


def test_configured_geometry_and_rate(emulator_binary: object) -> None:
    with start_emulator("taxel", rate_hz=100, rows=8, cols=20, pitch_mm=2.5,
                        realtime=True) as emu, TaxelBoard(emu.port) as board:
        info = board.info
        assert info is not None
        assert (info.rows, info.cols, info.chunks) == (8, 20, 2)
        assert info.pitch_m == pytest.approx(0.0025) and info.frame_rate_hz == 100
        frames = collect(board, 0.5)
        assert frames and all(f.shape == (8, 20) for f in frames)


def test_rate_within_five_percent_and_nothing_lost(taxel_emulator: EmulatorProcess) -> None:
    with TaxelBoard(taxel_emulator.port) as board:
        collect(board, 0.2)
        board.reset_stats()
        frames = collect(board, 2.0)
        board.close()  # no more deliveries: what is queued is the rest of the window
        while (f := board.get()) is not None:
            frames.append(f)
        s = board.stats()
    # a frame delivered just before reset_stats() may still have been queued: at most one
    assert s["frames"] <= len(frames) <= s["frames"] + 1
    assert s["frames"] >= 380
    assert s["rate_hz"] == pytest.approx(200.0, rel=0.05)
    assert s["host_rate_hz"] == pytest.approx(200.0, rel=0.05)
    assert s["frames_lost"] == 0 and s["incomplete_frames"] == 0, loss(s)
    assert s["crc_errors"] == s["framing_errors"] == s["length_errors"] == s["bad_chunks"] == 0
    assert s["stalls"] == 0 and not s["stalled"]
    assert s["longest_gap_ms"] < 20  # on the board's clock, a frame every 5 ms
    seqs = np.array([f.seq for f in frames])
    assert (np.diff(seqs) == 1).all()
    dev_t = np.diff([f.device_time_ns for f in frames]) / 1e6
    assert np.median(dev_t) == pytest.approx(5.0, abs=0.05)
    # a pressed patch on the array: tens of kPa over about twenty taxels, moving
    peaks = [float(f.pressure_kpa.max()) for f in frames]
    assert 20.0 < max(peaks) <= 71.0
    contact = [int(np.count_nonzero(f.counts)) for f in frames]
    assert 8 <= np.median(contact) <= 40
    where = {np.unravel_index(int(np.argmax(f.counts)), f.shape) for f in frames}
    assert len(where) > 4
    assert all(0 < f.total_force_n(0.002) < 10.0 for f in frames)


def test_bit_errors_are_counted_and_cost_only_their_frames(
        taxel_emulator: EmulatorProcess) -> None:
    # about 1.2 Mbit/s of frames: 1e-5 flips a bit in one chunk out of 50
    with FaultRelay(taxel_emulator.port, bit_error_rate=1e-5, seed=3,
                    directions=(TO_HOST,)) as relay:
        with TaxelBoard(relay.port) as board:
            frames = collect(board, 2.0)
            board.close()  # no more deliveries: what is queued is the rest of the window
            while (f := board.get()) is not None:
                frames.append(f)
            s = board.stats()
        damaged = relay.stats()[TO_HOST]["corrupted"]
        overflow = relay.stats()[TO_HOST]["overflow_bytes"]
    assert 5 <= damaged <= 100
    assert s["crc_errors"] > 0
    # any loss beyond the damage has a counted cause: the board's queue (tx_dropped) or the
    # relay's pty overflowing while a loaded host did not read (cut frames: framing errors)
    dropped = (s["device_errors"] or {}).get("tx_dropped", 0)
    spilled = overflow // 240 + 2 if overflow else 0
    # each damaged chunk is refused (a flip to 0x00 splits it into two bad candidates)
    assert 0 < s["crc_errors"] + s["framing_errors"] <= 2 * damaged + spilled
    # a damaged chunk costs its frame, no more
    assert 0 < s["frames_lost"] <= damaged + dropped + spilled, (s, overflow)
    assert s["incomplete_frames"] <= s["frames_lost"]
    # the stream goes on around the damage: every frame numbered is delivered or counted lost
    assert s["frames"] == len(frames) >= 150
    assert frames[-1].seq - frames[0].seq + 1 == s["frames"] + s["frames_lost"]
    info_max = 4095
    assert all(int(f.counts.max()) <= info_max for f in frames)
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_garbage_and_wrong_sizes_are_refused_and_counted(emulator_binary: object) -> None:
    # after every 4th frame the board also sends one bad frame in turn: garbage, a chunk one
    # byte short (valid CRC), a chunk of impossible geometry posing as the current frame
    with start_emulator("taxel", inject_bad_every=4, realtime=True) as emu, \
            TaxelBoard(emu.port) as board:
        collect(board, 0.2)
        board.reset_stats()
        frames = collect(board, 1.5)
        s = board.stats()
    injected = s["frames"] // 4
    assert s["frames_lost"] == 0 and s["incomplete_frames"] == 0, loss(s)
    assert len(frames) >= 250, loss(s)
    for key in ("length_errors", "bad_chunks"):
        assert injected / 3 - 2 <= s[key] <= injected / 3 + 2, (key, s)
    assert injected / 3 - 2 <= s["crc_errors"] + s["framing_errors"] <= injected / 3 + 2, s


def test_a_board_that_stops_is_reported(taxel_emulator: EmulatorProcess) -> None:
    with TaxelBoard(taxel_emulator.port) as board:
        assert collect(board, 0.3)
        os.kill(taxel_emulator.pid, signal.SIGSTOP)  # frozen: the port stays, frames stop
        try:
            time.sleep(0.3)
            stopped = board.stats()
            while board.get() is not None:  # frames from before the stop
                pass
            assert board.get(0.1) is None
        finally:
            os.kill(taxel_emulator.pid, signal.SIGCONT)
        assert stopped["stalled"] and stopped["stalls"] == 1
        assert collect(board, 0.3)
        s = board.stats()
        assert not board.stalled and not s["stalled"] and s["stalls"] == 1
        assert s["longest_gap_ms"] >= 250  # on the board's clock: the board paused
        assert s["host_longest_gap_ms"] >= 250


def test_a_board_that_vanishes_is_reported(emulator_binary: object) -> None:
    emu = start_emulator("taxel")
    board = TaxelBoard(emu.port)
    board.open()
    try:
        assert board.get(0.5) is not None
        emu.kill()
        deadline = time.monotonic() + 2.0
        while board.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert board.lost is not None and "open a new TaxelBoard" in str(board.lost)
        assert board.stats()["link"] == "lost"
        collect(board, 0.1)
        assert board.get(0.1) is None
    finally:
        board.close()
        emu.stop()


def test_a_paddle_is_not_a_taxel_board(emulator_binary: object) -> None:
    with start_emulator("paddle") as emu:
        with pytest.raises(DeviceError, match="is a paddle board") as err:
            TaxelBoard(emu.port).open()
        assert not isinstance(err.value, FirmwareMismatch)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"schema_hash": 0x12345678}, "message schema 12345678"),
    ({"protocol_version": 1}, "flash firmware for protocol v2"),
    ({"protocol_version": 3}, "upgrade haptics"),
])
def test_firmware_mismatch_is_refused(emulator_binary: object, kwargs: dict[str, Any],
                                      match: str) -> None:
    with start_emulator("taxel", **kwargs) as emu, \
            pytest.raises(FirmwareMismatch, match=match):
        TaxelBoard(emu.port).open()


def test_no_port_and_no_answer(tmp_path: object) -> None:
    with pytest.raises(DeviceNotFound, match="emulator start taxel"):
        TaxelBoard("/dev/does-not-exist").open()
    master, slave = os.openpty()  # a port where nobody answers
    try:
        with pytest.raises(DeviceError, match="did not answer HELLO"):
            TaxelBoard(os.ttyname(slave)).open(timeout_s=0.3)
    finally:
        os.close(master)
        os.close(slave)


def test_listeners_see_every_frame(taxel_emulator: EmulatorProcess) -> None:
    seen: list[int] = []
    with TaxelBoard(taxel_emulator.port, queue_frames=8) as board:
        def listener(f: TactileFrame) -> None:
            seen.append(f.seq)

        def broken(f: TactileFrame) -> None:
            raise RuntimeError("a listener with a bug")

        board.add_listener(broken)
        board.add_listener(listener)
        time.sleep(0.5)
        board.remove_listener(listener)
        n_seen = len(seen)
        time.sleep(0.05)
        assert len(seen) == n_seen  # removed: called no more
        s = board.stats()
        queued = []
        while (f := board.get()) is not None:
            queued.append(f.seq)
        latest = board.latest()
    assert len(seen) >= 80 and seen == list(range(seen[0], seen[0] + len(seen)))
    assert s["listener_errors"] >= 80  # the broken one raised every time; nothing stopped
    assert len(queued) == 8 and s["queue_overflows"] >= 70  # a bounded queue, overflow counted
    assert latest is not None and latest.seq >= queued[-1]
