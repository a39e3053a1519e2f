"""What a taxel board delivers: its geometry (`TaxelBoardInfo`) and its frames (`TactileFrame`).

A frame is one full scan of the matrix: `rows × cols` taxels, row-major, row 0 first, column
0 first (the board's own numbering; `pitch_m` apart in both directions). `counts` are the
raw ADC readings (uint16, 0 … `max_count`); `pressure_kpa` is `counts × pressure_lsb_pa /
1000` as float32. Both are read-only arrays owned by the frame, safe to keep.

For a fixed-size binary stream (ZeroMQ, Arrow), `frame_dtype(rows, cols)` is one frame as a
numpy record (layout version FRAME_LAYOUT_VERSION) and `TactileFrame.to_bytes()` packs one:
`np.frombuffer(b"".join(frames_bytes), frame_dtype(rows, cols))` reads them back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FRAME_LAYOUT_VERSION: Final = 1


def frame_dtype(rows: int, cols: int) -> np.dtype[np.void]:
    """One tactile frame as a packed little-endian record (layout FRAME_LAYOUT_VERSION):
    seq u4, flags u2, device_time_ns i8, host_time_ns i8, pressure_kpa f4[rows, cols]
    (22 + 4·rows·cols bytes). Counts are not stored: pressure / lsb gives them back.
    """
    return np.dtype([("seq", "<u4"), ("flags", "<u2"), ("device_time_ns", "<i8"),
                     ("host_time_ns", "<i8"), ("pressure_kpa", "<f4", (rows, cols))])


@dataclass(frozen=True, slots=True)
class TaxelBoardInfo:
    """Identity, geometry and scale of an opened taxel board, from its handshake."""

    port: str
    rows: int
    cols: int
    pitch_m: float
    frame_rate_hz: float          # the board's advertised frame rate
    pressure_lsb_pa: float        # pascals per ADC count
    max_count: int                # ADC full scale
    chunks: int                   # TAXEL_FRAME chunks per frame
    scan_us: int                  # time the board takes to scan one frame
    firmware_version: str
    serial: int
    provenance: str               # "emulated" or "real"
    protocol_version: int
    schema_hash: int

    @property
    def full_scale_kpa(self) -> float:
        """The highest pressure a taxel can report."""
        return self.max_count * self.pressure_lsb_pa / 1000.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for reports and session manifests)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TactileFrame:
    """One scanned frame.

    seq: the board's frame number (u32, wraps; +1 per frame, so gaps are frames lost).
    device_time_ns: when the board began scanning it, on the board's clock.
    host_time_ns: `time.monotonic_ns()` when its last chunk arrived.
    flags: `protocol.TAXEL_FLAG_*` (saturated, sensor timeout, started late).
    counts: (rows, cols) uint16; pressure_kpa: (rows, cols) float32.
    """

    seq: int
    device_time_ns: int
    host_time_ns: int
    flags: int
    counts: npt.NDArray[np.uint16] = field(repr=False)
    pressure_kpa: npt.NDArray[np.float32] = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.counts.shape
        return int(rows), int(cols)

    def to_bytes(self) -> bytes:
        """This frame as one record of `frame_dtype(rows, cols)`."""
        rec = np.zeros((), dtype=frame_dtype(*self.shape))
        rec["seq"], rec["flags"] = self.seq, self.flags
        rec["device_time_ns"], rec["host_time_ns"] = self.device_time_ns, self.host_time_ns
        rec["pressure_kpa"] = self.pressure_kpa
        return rec.tobytes()

    def total_force_n(self, pitch_m: float) -> float:
        """Normal force the frame measures: Σ pressure × taxel area (pitch²)."""
        return float(self.pressure_kpa.sum(dtype=np.float64)) * 1000.0 * pitch_m * pitch_m
