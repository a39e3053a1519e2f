"""FrameAssembler: TAXEL_FRAME chunks into whole frames, with everything refused counted."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from drivers.serial import protocol as p
from drivers.tactile.assembly import FrameAssembler, newer
from drivers.tactile.frames import FRAME_LAYOUT_VERSION, frame_dtype

ROWS, COLS = 16, 16
N = ROWS * COLS


def counts_of(seq: int) -> np.ndarray:
    """A distinct frame per seq: every taxel its own value."""
    return ((np.arange(N) * 7 + seq * 13) % 4096).astype(np.uint16)


def chunks_of(seq: int, values: np.ndarray | None = None, *, time_us: int | None = None,
              flags: int = 0) -> list[p.TaxelFrame]:
    v = counts_of(seq) if values is None else values
    n = -(-v.size // p.TAXEL_CHUNK_VALUES)
    padded = np.zeros(n * p.TAXEL_CHUNK_VALUES, dtype="<u2")
    padded[:v.size] = v
    t = seq * 5000 if time_us is None else time_us
    return [p.TaxelFrame(seq, t, k, n, flags,
                         padded[k * p.TAXEL_CHUNK_VALUES:(k + 1) * p.TAXEL_CHUNK_VALUES].tobytes())
            for k in range(n)]


def test_whole_frame_from_its_chunks() -> None:
    asm = FrameAssembler(ROWS, COLS, 25.0)
    first, second, last = chunks_of(1, flags=p.TAXEL_FLAG_SATURATED)
    assert asm.push(first, 10) is None
    assert asm.push(last, 11) is None  # chunks may come in any order within a frame
    frame = asm.push(second, 12)
    assert frame is not None
    assert frame.seq == 1 and frame.device_time_ns == 5_000_000 and frame.host_time_ns == 12
    assert frame.flags == p.TAXEL_FLAG_SATURATED
    assert frame.shape == (ROWS, COLS) and frame.counts.dtype == np.uint16
    np.testing.assert_array_equal(frame.counts.ravel(), counts_of(1))
    np.testing.assert_allclose(frame.pressure_kpa, frame.counts * 0.025, rtol=1e-6)
    assert frame.pressure_kpa.dtype == np.float32
    assert not frame.counts.flags.writeable and not frame.pressure_kpa.flags.writeable
    # the frame owns its arrays: the next frame does not change it
    for c in chunks_of(2):
        asm.push(c, 20)
    np.testing.assert_array_equal(frame.counts.ravel(), counts_of(1))
    assert asm.counts.frames == 2 and asm.counts.frames_lost == 0


def test_total_force_is_pressure_times_area() -> None:
    asm = FrameAssembler(2, 3, 1000.0)  # 1 kPa per count
    *_, frame = [asm.push(c, 0) for c in chunks_of(1, np.full(6, 2, dtype=np.uint16))]
    assert frame is not None
    assert frame.total_force_n(0.002) == pytest.approx(6 * 2000.0 * 0.002 ** 2)


def test_missing_chunk_drops_the_frame_and_counts_it() -> None:
    asm = FrameAssembler(ROWS, COLS, 25.0)
    delivered = []
    for seq in range(1, 11):
        for c in chunks_of(seq):
            if seq == 4 and c.chunk == 1:
                continue  # lost on the link
            if seq == 7:
                continue  # the whole frame lost
            f = asm.push(c, seq)
            if f is not None:
                delivered.append(f.seq)
    assert delivered == [1, 2, 3, 5, 6, 8, 9, 10]
    assert asm.counts.frames_lost == 2
    assert asm.counts.incomplete == 1


def test_chunks_that_contradict_the_handshake_or_the_frame_are_refused() -> None:
    asm = FrameAssembler(ROWS, COLS, 25.0)
    good = chunks_of(5)
    bad = [
        good[0]._replace(chunks=9, chunk=7),        # another geometry
        good[0]._replace(chunk=3),                  # past the last chunk
        good[0]._replace(values=good[0].values[:-2]),  # a value short
    ]
    for c in bad:
        assert asm.push(c, 0) is None
    assert asm.counts.bad_chunks == 3
    assert asm.push(good[0], 0) is None
    assert asm.push(good[1]._replace(time_us=1), 0) is None  # same seq, another frame
    assert asm.counts.bad_chunks == 4
    assert asm.push(good[0], 0) is None  # a repeat
    assert asm.counts.stale_chunks == 1
    assert asm.push(good[1], 0) is None
    frame = asm.push(good[2], 0)
    assert frame is not None
    np.testing.assert_array_equal(frame.counts.ravel(), counts_of(5))
    assert asm.push(good[2], 0) is None  # after delivery: stale
    assert asm.push(chunks_of(4)[0], 0) is None  # an older frame: stale
    assert asm.counts.stale_chunks == 3 and asm.counts.frames == 1


def test_sequence_numbers_wrap() -> None:
    assert newer(0, 0xFFFFFFFF) and not newer(0xFFFFFFFF, 0) and not newer(3, 3)
    asm = FrameAssembler(4, 4, 25.0)
    seqs = []
    for seq in (0xFFFFFFFE, 0xFFFFFFFF, 1, 2):  # 0 skipped: one frame lost across the wrap
        for c in chunks_of(seq, counts_of(seq)[:16]):
            f = asm.push(c, 0)
            if f is not None:
                seqs.append(f.seq)
    assert seqs == [0xFFFFFFFE, 0xFFFFFFFF, 1, 2]
    assert asm.counts.frames_lost == 1


@pytest.mark.parametrize(("rows", "cols", "chunks"), [(1, 1, 1), (8, 14, 1), (16, 16, 3),
                                                      (5, 23, 2), (64, 64, 37)])
def test_every_geometry_round_trips(rows: int, cols: int, chunks: int) -> None:
    asm = FrameAssembler(rows, cols, 25.0)
    assert asm.chunks == chunks
    values = (np.arange(rows * cols) % 4096).astype(np.uint16)
    out = [asm.push(c, 0) for c in chunks_of(3, values)]
    assert len(out) == chunks and all(f is None for f in out[:-1])
    frame = out[-1]
    assert frame is not None and frame.shape == (rows, cols)
    np.testing.assert_array_equal(frame.counts.ravel(), values)


def test_wire_round_trip_of_a_chunk() -> None:
    (c,) = chunks_of(9, np.arange(100, dtype=np.uint16))
    body = p.encode(c)
    assert len(body) == 2 + 240
    back = p.decode(body)
    assert back == c
    assert struct.unpack_from("<H", back.values, 2 * 99)[0] == 99


def test_impossible_geometry_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid"):
        FrameAssembler(0, 16, 25.0)
    with pytest.raises(ValueError, match="invalid"):
        FrameAssembler(16, 16, 0.0)


def test_frames_pack_into_fixed_size_records() -> None:
    asm = FrameAssembler(ROWS, COLS, 25.0)
    frames = []
    for seq in (7, 8, 9):
        for c in chunks_of(seq, flags=seq & 1):
            f = asm.push(c, 1000 + seq)
            if f is not None:
                frames.append(f)
    dt = frame_dtype(ROWS, COLS)
    assert FRAME_LAYOUT_VERSION == 1 and dt.itemsize == 22 + 4 * N
    packed = b"".join(f.to_bytes() for f in frames)
    recs = np.frombuffer(packed, dtype=dt)
    assert list(recs["seq"]) == [7, 8, 9] and list(recs["flags"]) == [1, 0, 1]
    assert list(recs["host_time_ns"]) == [1007, 1008, 1009]
    assert list(recs["device_time_ns"]) == [35_000_000, 40_000_000, 45_000_000]
    for f, r in zip(frames, recs, strict=True):
        np.testing.assert_array_equal(r["pressure_kpa"], f.pressure_kpa)
