"""TAXEL_FRAME chunks → whole frames: the pure step of the taxel driver.

A board sends each frame as `chunks` TAXEL_FRAME messages of TAXEL_CHUNK_VALUES counts
(firmware/PROTOCOL.md §11). `FrameAssembler.push` takes one decoded chunk and the host time
it arrived and returns the finished `TactileFrame` when its last chunk is in. Nothing is
merged that does not belong: a chunk whose geometry contradicts the handshake, or that
repeats or contradicts a chunk already held, is refused and counted; a frame left with
chunks missing when a newer one begins is dropped and counted. `frames_lost` counts every
frame number never delivered whole (gaps between delivered frames, u32 wrapping), so a
frame dropped by the board, by the link or here shows up there. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivers.serial import protocol as p
from drivers.tactile.frames import TactileFrame

_U32: int = 0xFFFFFFFF


def newer(a: int, b: int) -> bool:
    """Whether u32 sequence number `a` comes after `b` (wrapping, as the firmware counts)."""
    return 0 < ((a - b) & _U32) < 0x80000000


@dataclass
class AssemblyCounts:
    """What the assembler delivered, refused and found missing."""

    frames: int = 0           # delivered whole
    frames_lost: int = 0      # frame numbers skipped between delivered frames
    incomplete: int = 0       # frames begun but missing a chunk when a newer one began
    bad_chunks: int = 0       # geometry contradicting the handshake, or contradicting the frame
    stale_chunks: int = 0     # repeated, or for a frame older than the one being assembled


class FrameAssembler:
    """Reassembles one board's frames. Raises ValueError for a geometry no board can have."""

    def __init__(self, rows: int, cols: int, pressure_lsb_pa: float) -> None:
        if not (1 <= rows <= 255 and 1 <= cols <= 255 and pressure_lsb_pa > 0):
            raise ValueError(f"taxel geometry {rows}x{cols}, lsb {pressure_lsb_pa} Pa: invalid")
        self.rows = rows
        self.cols = cols
        self.n = rows * cols
        self.chunks = -(-self.n // p.TAXEL_CHUNK_VALUES)
        self._kpa_per_count = np.float32(pressure_lsb_pa / 1000.0)
        self._full = (1 << self.chunks) - 1
        self._buf = np.zeros(self.chunks * p.TAXEL_CHUNK_VALUES, dtype=np.uint16)
        self._seq: int | None = None      # frame being assembled
        self._time_us = 0
        self._flags = 0
        self._have = 0                    # bit k: chunk k is in
        self._done = False                # delivered: any later chunk of it is stale
        self._last_delivered: int | None = None
        self.counts = AssemblyCounts()

    def push(self, chunk: p.TaxelFrame, host_time_ns: int) -> TactileFrame | None:
        """Take one chunk; the whole frame once its last chunk is in, else None. Never raises."""
        c = self.counts
        if (chunk.chunks != self.chunks or not 0 <= chunk.chunk < self.chunks
                or len(chunk.values) != 2 * p.TAXEL_CHUNK_VALUES):
            c.bad_chunks += 1
            return None
        seq = chunk.frame_seq
        if self._seq is None or newer(seq, self._seq):
            if self._have and not self._done:
                c.incomplete += 1
            self._seq, self._time_us, self._flags = seq, chunk.time_us, chunk.flags
            self._have, self._done = 0, False
        elif seq != self._seq:
            c.stale_chunks += 1
            return None
        elif chunk.time_us != self._time_us or chunk.flags != self._flags:
            c.bad_chunks += 1  # same number, another frame: trust neither
            return None
        bit = 1 << chunk.chunk
        if self._have & bit:
            c.stale_chunks += 1
            return None
        self._have |= bit
        lo = chunk.chunk * p.TAXEL_CHUNK_VALUES
        self._buf[lo:lo + p.TAXEL_CHUNK_VALUES] = np.frombuffer(chunk.values, dtype="<u2")
        if self._have != self._full:
            return None
        counts = self._buf[:self.n].reshape(self.rows, self.cols).copy()
        pressure = counts.astype(np.float32) * self._kpa_per_count
        counts.flags.writeable = False
        pressure.flags.writeable = False
        if self._last_delivered is not None:
            c.frames_lost += (seq - self._last_delivered - 1) & _U32
        self._last_delivered = seq
        c.frames += 1
        self._done = True
        return TactileFrame(seq=seq, device_time_ns=self._time_us * 1000,
                            host_time_ns=host_time_ns, flags=self._flags, counts=counts,
                            pressure_kpa=pressure)

    def reset_counts(self) -> None:
        """Counters back to zero (the frame being assembled is kept)."""
        self.counts = AssemblyCounts()
