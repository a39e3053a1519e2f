"""The taxel-matrix board as a session device (`haptics run --device simulated --device
tactile:/dev/ttyACM0`): a sense-only device wrapping `board.TaxelBoard`.

The argument is the board's port (a path, an emulator's pty, a pyserial URL). Its "tactile"
stream has the layout every tactile driver publishes (`haptics.wire.messages.tactile_layout`)
at the board's geometry and rate, which only the board knows: `schema()` asks it (a
handshake of about 10 ms), so the session declares the stream before the device's process
opens the board; `open()` refuses a board whose geometry changed since.

Each board frame becomes one message: seq is the board's frame number, unwrapped (u32 → u64,
so the session's seq gaps are the frames the board lost), device_time_ns the board's clock,
host_time_ns when its last chunk arrived, pressure_kpa the frame's pressure map, flags
TACTILE_FLAG_SATURATED / TACTILE_FLAG_NOT_FINITE plus the board's own TAXEL_FLAG_* bits
shifted to bits 8..15 (`BOARD_FLAGS_SHIFT`).

Nothing bad stops the stream, and everything is counted in `stats()` (which the sensor
process reports as `device`): what the board's reader refused (CRC and framing errors,
messages of the wrong size, chunks that contradict the handshake: `bad_frames` sums them),
frames of another shape than declared (`wrong_shape`, dropped), frames with counts above the
board's full scale (`out_of_range`, dropped) or non-finite pressure (`not_finite`, published
flagged). A board that stops scanning shows as `stalled` (and the sensor process reports the
stream silent); an unplugged board or a stopped emulator raises one DeviceLost saying so
(the sensor process counts it as an error and keeps its message), then reads nothing.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Final

import numpy as np

from drivers.tactile.board import TaxelBoard
from drivers.tactile.frames import TactileFrame, TaxelBoardInfo
from haptics.devices.device import DeviceInfo, FeatureSchema, SensorDevice, StreamDecl
from haptics.errors import DeviceError, DeviceLost, DeviceNotFound
from haptics.wire.messages import (
    TACTILE_FLAG_NOT_FINITE,
    TACTILE_FLAG_SATURATED,
    Layout,
    tactile_layout,
)

BOARD_FLAGS_SHIFT: Final = 8  # the board's TAXEL_FLAG_* bits, in a message's flags
_TAXEL_FLAG_SATURATED: Final = 1 << 0  # drivers.serial.protocol.TAXEL_FLAG_SATURATED
PROBE_TIMEOUT_S: Final = 2.0
DECLARED_KEEP_S: Final = 30.0  # open() checks the geometry schema() gave this recently
_BOARD_BAD: Final = ("crc_errors", "framing_errors", "length_errors", "version_errors",
                     "bad_chunks", "incomplete_frames")
_OWN_BAD: Final = ("wrong_shape", "out_of_range")


def taxel_stream(info: TaxelBoardInfo) -> StreamDecl:
    """The "tactile" stream a board of this geometry publishes."""
    layout = tactile_layout(info.rows, info.cols)
    return StreamDecl(name="tactile", layout=layout.to_spec(), rate_hz=info.frame_rate_hz)


def _port_of(argument: str) -> str:
    if not argument:
        raise DeviceNotFound("tactile: which port? Use tactile:/dev/ttyACM0 (or an emulator's pty "
                             "from `haptics emulator start taxel`); `haptics devices list` shows "
                             "serial ports and running emulators.")
    return argument


class TaxelBoardDevice(SensorDevice):
    """A taxel-matrix board on the port named by the argument. See the module docstring."""

    name: ClassVar[str] = "tactile"
    # when and what each port's board last answered schema() in this process: open() soon
    # after checks the board still has the geometry its stream was declared with
    _declared: ClassVar[dict[str, tuple[float, TaxelBoardInfo]]] = {}

    def __init__(self, argument: str = "") -> None:
        super().__init__(argument)
        self.board: TaxelBoard | None = None
        self.info: TaxelBoardInfo | None = None
        self.layout: Layout | None = None
        self._seq_high = 0
        self._last_seq: int | None = None
        self._lost_reported = False
        self._board_stats: dict[str, Any] = {}
        self.counters = {"frames": 0, "wrong_shape": 0, "out_of_range": 0, "not_finite": 0,
                         "left_at_close": 0}

    # -- the contract --------------------------------------------------------------------
    @classmethod
    def probe(cls, argument: str, timeout_s: float = PROBE_TIMEOUT_S) -> TaxelBoardInfo:
        """The board's geometry, from a handshake (about 10 ms; the port is closed again).

        Raises DeviceNotFound (no port), FirmwareMismatch or DeviceError (no answer, not a
        taxel board), as `TaxelBoard.open` does.
        """
        port = _port_of(argument)
        board = TaxelBoard(port)
        try:
            info = board.open(timeout_s)
        finally:
            board.close()
        cls._declared[port] = (time.monotonic(), info)
        return info

    @classmethod
    def schema(cls, argument: str = "") -> FeatureSchema:
        """The board's "tactile" stream (its rows × cols at its frame rate), asked of the
        board itself; no force. Raises DeviceNotFound or DeviceError when it does not answer."""
        info = cls.probe(argument)
        return FeatureSchema(
            rate_hz=info.frame_rate_hz,
            max_force_n=0.0,
            max_damping_ns_per_m=0.0,
            takes_force=False,
            streams=[taxel_stream(info)],
        )

    def _open(self) -> DeviceInfo:
        port = _port_of(self.argument)
        when, declared = self._declared.pop(port, (0.0, None))
        board = TaxelBoard(port)
        info = board.open(PROBE_TIMEOUT_S)
        if declared is not None and time.monotonic() - when < DECLARED_KEEP_S and (
                (info.rows, info.cols, info.frame_rate_hz)
                != (declared.rows, declared.cols, declared.frame_rate_hz)):
            board.close()
            raise DeviceError(
                f"tactile: {self.argument} now reports {info.rows}x{info.cols} at "
                f"{info.frame_rate_hz:g} Hz, but its stream was declared as {declared.rows}x"
                f"{declared.cols} at {declared.frame_rate_hz:g} Hz: was the board swapped or "
                "reconfigured? Start the session again.")
        self.board, self.info = board, info
        self.layout = tactile_layout(info.rows, info.cols)
        self._seq_high, self._last_seq, self._lost_reported = 0, None, False
        return DeviceInfo(
            driver=self.name,
            model=f"taxel board {info.rows}x{info.cols}",
            serial=f"{info.serial:08x}",
            firmware_version=info.firmware_version,
            provenance=info.provenance,
            extra={
                "board": info.as_dict(),
                "full_scale_kpa": info.full_scale_kpa,
                "flags": "bit 0 saturated, bit 1 not finite, bits 8..15 the board's TAXEL_FLAG_*",
            },
        )

    def _read_messages(self, timeout_s: float) -> list[tuple[str, bytes]]:
        board = self.board
        if board is None:
            raise DeviceError("tactile: read before open")
        if board.lost is not None:
            if not self._lost_reported:
                self._lost_reported = True
                raise DeviceLost(str(board.lost))
            time.sleep(max(timeout_s, 0.0))
            return []
        out: list[tuple[str, bytes]] = []
        frame = board.get(timeout_s)
        while frame is not None:
            msg = self._message(frame)
            if msg is not None:
                out.append(("tactile", msg))
            frame = board.get()
        return out

    def _message(self, frame: TactileFrame) -> bytes | None:
        """One frame as a message of the declared layout, or None for one refused (counted)."""
        info, layout = self.info, self.layout
        assert info is not None and layout is not None
        if frame.shape != (info.rows, info.cols):
            self.counters["wrong_shape"] += 1
            return None
        if int(frame.counts.max(initial=0)) > info.max_count:
            self.counters["out_of_range"] += 1
            return None
        flags = (frame.flags & 0xFF) << BOARD_FLAGS_SHIFT
        if frame.flags & _TAXEL_FLAG_SATURATED:
            flags |= TACTILE_FLAG_SATURATED
        if not np.isfinite(frame.pressure_kpa).all():
            flags |= TACTILE_FLAG_NOT_FINITE
            self.counters["not_finite"] += 1
        if self._last_seq is not None and frame.seq < self._last_seq:
            self._seq_high += 1 << 32  # the board's u32 frame number wrapped
        self._last_seq = frame.seq
        rec = np.zeros((), layout.dtype)
        rec["seq"] = self._seq_high + frame.seq
        rec["device_time_ns"], rec["host_time_ns"] = frame.device_time_ns, frame.host_time_ns
        rec["flags"] = flags
        rec["pressure_kpa"] = frame.pressure_kpa
        self.counters["frames"] += 1
        return layout.from_record(rec)

    def stats(self) -> dict[str, Any]:
        """The board's link counters (`TaxelBoard.stats`), this device's own refusals, and
        `bad_frames`: everything refused, whoever refused it. `frames`: messages made;
        `frames_read`: whole frames the board delivered, = frames + wrong_shape +
        out_of_range + left_at_close (those still queued when it closed)."""
        if self.board is not None:
            self._board_stats = self.board.stats()
        s = self._board_stats
        own = dict(self.counters)
        return {
            **s,
            **own,
            "frames_read": s.get("frames", 0),
            "frames": own["frames"],
            "bad_frames": sum(int(s.get(k, 0)) for k in _BOARD_BAD)
            + sum(own[k] for k in _OWN_BAD),
            "silent": bool(s.get("stalled")) or s.get("link") == "lost",
        }

    def _close(self) -> None:
        board, self.board = self.board, None
        if board is not None:
            board.close()
            self._board_stats = board.stats()
            while board.get() is not None:  # arrived after the last read: never published
                self.counters["left_at_close"] += 1
