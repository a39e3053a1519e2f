"""TaxelBoard: a taxel-matrix board running the project's firmware, over a serial port.

    board = TaxelBoard("/dev/ttyACM0")          # or an emulator's pty, or a pyserial URL
    info = board.open()                          # handshake: TaxelBoardInfo (rows, cols, ...)
    frame = board.get(timeout_s=0.1)             # every frame, in order (TactileFrame)
    board.latest()                               # the newest frame, for a live view
    board.stats()                                # rate, frames_lost, crc_errors, stalls, ...
    board.close()

`open()` sends HELLO (after a lone 0x00) every 100 ms until the board answers DEVICE_INFO and
TAXEL_INFO with the same nonce, and refuses a board that is not a taxel board or speaks
another protocol version or message schema. A reader thread then owns the port: it cuts the
byte stream into frames (COBS + CRC, `drivers.serial.framing`), decodes them
(`drivers.serial.protocol`), reassembles TAXEL_FRAME chunks into `TactileFrame`s
(`assembly.FrameAssembler`) and stamps each with `time.monotonic_ns()` when its last chunk
arrived. Every frame goes into a bounded queue read by `get()` (overflow counted, oldest
dropped) and to the listeners (called on the reader thread: keep them short; one that
raises is logged and counted, and the stream goes on).

Nothing bad stops the stream, and everything is counted: CRC and framing errors, messages
of the wrong size, version or type, chunks that contradict the handshake, frames lost (seq
gaps, however they were lost), frames left incomplete. A board that stops sending is
reported: `stalled` turns True after `stall_after_s` without a frame (default twenty
frame periods, at least 100 ms) and `stats()["stalls"]` counts each time it happened. A port that
fails (unplugged, emulator killed) ends the reader: `lost` holds a DeviceLost saying so,
`get()` returns None. There is no automatic reconnect: open a new TaxelBoard.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import secrets
import select
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final

import serial

from drivers.serial import protocol as p
from drivers.serial.framing import FrameReader
from drivers.tactile.assembly import FrameAssembler
from drivers.tactile.frames import TactileFrame, TaxelBoardInfo
from haptics.errors import DeviceError, DeviceLost, DeviceNotFound, FirmwareMismatch, MessageError

log = logging.getLogger(__name__)

DEFAULT_BAUD: Final = 2_000_000  # ignored by ptys and native USB
HELLO_RETRY_S: Final = 0.1
MIN_STALL_S: Final = 0.1
STALL_PERIODS: Final = 20
MAX_TAXELS_SIDE: Final = 64
_READ_CHUNK: Final = 8192

FrameListener = Callable[[TactileFrame], None]


def handshake_problem(port: str, dev: p.DeviceInfoReply) -> Exception | None:
    """Why a board that answered DEVICE_INFO cannot be used as a taxel board, else None."""
    kind = p.device_kind(dev.device_type)
    fw = f"{dev.fw_major}.{dev.fw_minor}.{dev.fw_patch}"
    if dev.device_type & p.DEVICE_TYPE_KIND_MASK != p.DEVICE_TYPE_TAXEL:
        return DeviceError(f"tactile: {port} is a {kind} board (firmware {fw}), not a taxel "
                           f"board; open it with the serial driver (--device serial:{port}).")
    dv, hv = dev.protocol_version, p.PROTOCOL_VERSION
    if dv != hv:
        what = ("flash firmware for protocol v{hv}" if dv < hv
                else "upgrade haptics to a release for protocol v{dv}").format(hv=hv, dv=dv)
        return FirmwareMismatch(f"tactile: {port} runs taxel firmware {fw} speaking protocol "
                                f"v{dv}; this haptics speaks v{hv}: {what}.")
    if dev.schema_hash != p.TAXEL_SCHEMA_HASH:
        return FirmwareMismatch(
            f"tactile: {port} runs taxel firmware {fw} with message schema "
            f"{dev.schema_hash:08x}, this haptics expects {p.TAXEL_SCHEMA_HASH:08x}. Flash "
            "firmware built from this haptics checkout, or upgrade haptics to match it.")
    return None


def geometry_problem(port: str, t: p.TaxelInfo) -> str | None:
    """Why a TAXEL_INFO describes no frame this driver can assemble, else None."""
    chunks = -(-t.rows * t.cols // p.TAXEL_CHUNK_VALUES)
    if not (1 <= t.rows <= MAX_TAXELS_SIDE and 1 <= t.cols <= MAX_TAXELS_SIDE):
        return f"tactile: {port} reports a {t.rows}x{t.cols} matrix (1..64 each supported)."
    if t.chunk_values != p.TAXEL_CHUNK_VALUES or t.chunks != chunks:
        return (f"tactile: {port} cuts frames into {t.chunks} chunks of {t.chunk_values} "
                f"values; protocol v{p.PROTOCOL_VERSION} says {chunks} of "
                f"{p.TAXEL_CHUNK_VALUES}. Flash firmware built from this haptics checkout.")
    if not (t.frame_rate_hz > 0 and t.pressure_lsb_pa > 0 and t.pitch_m > 0 and t.max_count > 0):
        return (f"tactile: {port} reports rate {t.frame_rate_hz} Hz, pitch {t.pitch_m} m, "
                f"lsb {t.pressure_lsb_pa} Pa, full scale {t.max_count}: its calibration is "
                "unset; configure the board's firmware.")
    return None


class TaxelBoard:
    """A taxel-matrix board on `port` (path or pyserial URL). See the module docstring."""

    def __init__(self, port: str, *, baudrate: int = DEFAULT_BAUD, queue_frames: int = 4096,
                 stall_after_s: float | None = None) -> None:
        self.port = port
        self.baudrate = baudrate
        self.stall_after_s = stall_after_s
        self._queue: collections.deque[TactileFrame] = collections.deque()
        self._queue_max = max(1, queue_frames)
        self._cond = threading.Condition()
        self._listeners: list[FrameListener] = []
        self._serial: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._open_error: Exception | None = None
        self._nonce = 0
        self._device_info: p.DeviceInfoReply | None = None
        self._info: TaxelBoardInfo | None = None
        self._asm: FrameAssembler | None = None
        self._reader = FrameReader()
        self._link = "closed"  # closed → connecting → connected → lost | closed
        self._latest: TactileFrame | None = None
        self._stall_ns = 0
        self._last_frame_ns = 0
        self._stalled = False
        self.lost: DeviceLost | None = None
        self.device_errors: p.ErrorCounters | None = None
        self._reset_counters()

    # -- lifecycle -----------------------------------------------------------------------
    def open(self, timeout_s: float = 2.0) -> TaxelBoardInfo:
        """Open the port and handshake; the reader thread streams frames from then on.

        Raises DeviceNotFound (no such port, or it cannot be opened), FirmwareMismatch
        (another protocol version or schema), DeviceError (not a taxel board, an impossible
        geometry, or no answer within `timeout_s`).
        """
        if self._link != "closed":
            raise DeviceError(f"tactile: {self.port} is already open; close() it first")
        self._serial = self._open_port()
        self._start_reader()
        if not self._ready.wait(timeout_s):
            self.close()
            raise DeviceError(f"tactile: {self.port} did not answer HELLO within {timeout_s:g} s. "
                              "Is it a haptics board running this project's firmware, powered, "
                              "and on this port? `haptics devices list` shows the candidates.")
        if self._open_error is not None:
            err = self._open_error
            self.close()
            raise err
        assert self._info is not None
        return self._info

    def _start_reader(self) -> None:
        self._device_info = self._info = self._asm = self._latest = None
        self.lost = None
        self.device_errors = None
        self._stalled = False
        self._queue.clear()
        self._reset_counters()
        self._stop.clear()
        self._ready.clear()
        self._open_error = None
        self._nonce = secrets.randbits(32) or 1
        self._link = "connecting"
        self._thread = threading.Thread(target=self._run, name=f"taxel-{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the reader and close the port. Safe to call twice. Frames received before
        still wait in the queue for `get()`; `open()` again starts from an empty one."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        self._thread = None
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                port.close()
        self._link = "closed"
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> TaxelBoard:
        if self._link == "closed":
            self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- frames --------------------------------------------------------------------------
    def get(self, timeout_s: float = 0.0) -> TactileFrame | None:
        """The oldest frame not yet taken, waiting up to `timeout_s`; None when none came."""
        with self._cond:
            if not self._queue and timeout_s > 0 and self._link == "connected":
                self._cond.wait_for(lambda: bool(self._queue) or self._link != "connected",
                                    timeout_s)
            return self._queue.popleft() if self._queue else None

    def latest(self) -> TactileFrame | None:
        """The newest frame received (not taken from the queue); None before the first."""
        return self._latest

    def add_listener(self, listener: FrameListener) -> None:
        """Call `listener(frame)` on the reader thread for every frame from now on."""
        self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: FrameListener) -> None:
        self._listeners = [f for f in self._listeners if f is not listener]

    # -- state ---------------------------------------------------------------------------
    @property
    def info(self) -> TaxelBoardInfo | None:
        return self._info

    @property
    def connected(self) -> bool:
        return self._link == "connected"

    @property
    def stalled(self) -> bool:
        """True while the board has sent no frame for `stall_after_s`."""
        return self._stalled

    def stats(self) -> dict[str, Any]:
        """Counters since open (or reset_stats): JSON-able.

        frames (delivered whole), frames_lost (seq gaps), incomplete_frames, bad_chunks,
        stale_chunks, crc_errors, framing_errors, length_errors, version_errors,
        unknown_type, unexpected (paddle messages), queue_overflows, listener_errors (listeners
        that raised; the stream goes on), stalls, stalled,
        longest_gap_ms (between frames, board clock: the board paused), host_longest_gap_ms
        (between arrivals: the board, the link or this host paused), rate_hz (board clock,
        first to last frame), host_rate_hz, link,
        device_errors (the board's own ERROR_COUNTERS), lost (why the link ended, or None).
        """
        a = self._asm.counts if self._asm is not None else None
        c = self._c
        span_dev = (c["last_dev_ns"] - c["first_dev_ns"]) / 1e9
        span_host = (c["last_host_ns"] - c["first_host_ns"]) / 1e9
        n = a.frames if a is not None else 0
        return {
            "link": self._link,
            "frames": n,
            "frames_lost": a.frames_lost if a is not None else 0,
            "incomplete_frames": a.incomplete if a is not None else 0,
            "bad_chunks": a.bad_chunks if a is not None else 0,
            "stale_chunks": a.stale_chunks if a is not None else 0,
            "crc_errors": self._reader.crc_errors - c["crc0"],
            "framing_errors": self._reader.framing_errors - c["framing0"],
            "length_errors": c["length_errors"],
            "version_errors": c["version_errors"],
            "unknown_type": c["unknown_type"],
            "unexpected": c["unexpected"],
            "queue_overflows": c["queue_overflows"],
            "listener_errors": c["listener_errors"],
            "stalls": c["stalls"],
            "stalled": self._stalled,
            "longest_gap_ms": round(c["longest_gap_ns"] / 1e6, 3),
            "host_longest_gap_ms": round(c["host_longest_gap_ns"] / 1e6, 3),
            "rate_hz": round((n - 1) / span_dev, 2) if n > 1 and span_dev > 0 else 0.0,
            "host_rate_hz": round((n - 1) / span_host, 2) if n > 1 and span_host > 0 else 0.0,
            "device_errors": self.device_errors._asdict() if self.device_errors else None,
            "lost": str(self.lost) if self.lost is not None else None,
        }

    def reset_stats(self) -> None:
        """Counters back to zero (a measurement starts after a warm-up)."""
        self._reset_counters()
        if self._asm is not None:
            self._asm.reset_counts()

    def _reset_counters(self) -> None:
        self._c: dict[str, int] = dict.fromkeys(
            ("length_errors", "version_errors", "unknown_type", "unexpected", "queue_overflows",
             "listener_errors",
             "stalls", "longest_gap_ns", "host_longest_gap_ns", "first_dev_ns", "last_dev_ns",
             "first_host_ns", "last_host_ns"), 0)
        self._c["crc0"] = self._reader.crc_errors
        self._c["framing0"] = self._reader.framing_errors
        self._c["since_ns"] = time.monotonic_ns()

    # -- the port ------------------------------------------------------------------------
    def _open_port(self) -> Any:
        url = self.port
        if "://" not in url and not os.path.exists(url):
            raise DeviceNotFound(f"tactile: no port at {url}. Is the board plugged in (or the "
                                 "emulator running: `haptics emulator start taxel`)? "
                                 "`haptics devices list` shows what is there.")
        try:
            port = serial.serial_for_url(url, do_not_open=True, baudrate=self.baudrate,
                                         timeout=0, write_timeout=0.05)
            if hasattr(port, "exclusive"):
                port.exclusive = True
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceNotFound(f"tactile: cannot open {url}: {exc}. Is another program using "
                                 "it, or are permissions missing (dialout group)?") from exc
        with contextlib.suppress(OSError, serial.SerialException):
            port.reset_input_buffer()
        return port

    def _send(self, wire: bytes) -> None:
        port = self._serial
        if port is None:
            return
        with contextlib.suppress(serial.SerialException, OSError):
            port.write(wire)

    # -- the reader thread ---------------------------------------------------------------
    def _run(self) -> None:
        port = self._serial
        fileno: int | None = None
        with contextlib.suppress(AttributeError, OSError, ValueError, serial.SerialException):
            fileno = port.fileno()
        next_hello = 0
        while not self._stop.is_set():
            try:
                if fileno is not None:
                    ready, _, _ = select.select([fileno], [], [], 0.01)
                    data = port.read(_READ_CHUNK) if ready else b""
                else:
                    data = port.read(port.in_waiting or 1)
                    if not data:
                        time.sleep(0.001)
            except (serial.SerialException, OSError, TypeError, ValueError) as exc:
                if not self._stop.is_set():
                    self._port_failed(exc)
                return
            now = time.monotonic_ns()
            if data:
                for body in self._reader.feed(data):
                    self._on_body(body, now)
            if self._link == "connecting" and now >= next_hello:
                next_hello = now + int(HELLO_RETRY_S * 1e9)
                self._send(b"\x00" + p.encode_wire(p.Hello(self._nonce)))
            elif self._link == "connected":
                self._watch_stall(now)

    def _port_failed(self, exc: Exception) -> None:
        self.lost = DeviceLost(f"tactile: lost {self.port} ({exc}). The board was unplugged or "
                               "its emulator stopped; open a new TaxelBoard when it is back.")
        log.warning("%s", self.lost)
        if self._link == "connecting":
            self._open_error = self.lost
            self._ready.set()
        self._link = "lost"
        with self._cond:
            self._cond.notify_all()

    def _watch_stall(self, now: int) -> None:
        if self._stalled or now - self._last_frame_ns <= self._stall_ns:
            return
        self._stalled = True
        self._c["stalls"] += 1
        log.warning("tactile: %s sent no frame for %.0f ms: the board stopped scanning or "
                    "its link is down", self.port, (now - self._last_frame_ns) / 1e6)

    def _on_body(self, body: bytes, now: int) -> None:
        try:
            msg = p.decode(body)
        except MessageError:
            reason = p.classify(body)
            key = {"version": "version_errors", "unknown_type": "unknown_type"}.get(
                reason, "length_errors")
            self._c[key] += 1
            return
        if isinstance(msg, p.TaxelFrame):
            if self._asm is not None:
                frame = self._asm.push(msg, now)
                if frame is not None:
                    self._deliver(frame, now)
        elif isinstance(msg, p.ErrorCounters):
            self.device_errors = msg
        elif isinstance(msg, p.DeviceInfoReply):
            self._on_device_info(msg)
        elif isinstance(msg, p.TaxelInfo):
            self._on_taxel_info(msg, now)
        elif not isinstance(msg, p.HeartbeatReply | p.TimeSyncReply):
            self._c["unexpected"] += 1

    def _on_device_info(self, dev: p.DeviceInfoReply) -> None:
        if self._link != "connecting" or dev.nonce != self._nonce:
            return
        problem = handshake_problem(self.port, dev)
        if problem is not None:
            self._open_error = problem
            self._ready.set()
            self._link = "refused"
            return
        self._device_info = dev

    def _on_taxel_info(self, t: p.TaxelInfo, now: int) -> None:
        dev = self._device_info
        if self._link != "connecting" or dev is None or t.nonce != self._nonce:
            return
        problem = geometry_problem(self.port, t)
        if problem is not None:
            self._open_error = DeviceError(problem)
            self._link = "refused"
            self._ready.set()
            return
        self._info = TaxelBoardInfo(
            port=self.port, rows=t.rows, cols=t.cols, pitch_m=float(t.pitch_m),
            frame_rate_hz=float(t.frame_rate_hz), pressure_lsb_pa=float(t.pressure_lsb_pa),
            max_count=t.max_count, chunks=t.chunks, scan_us=t.scan_us,
            firmware_version=f"{dev.fw_major}.{dev.fw_minor}.{dev.fw_patch}", serial=dev.serial,
            provenance="emulated" if dev.device_type & p.DEVICE_TYPE_EMULATED else "real",
            protocol_version=dev.protocol_version, schema_hash=dev.schema_hash)
        self._asm = FrameAssembler(t.rows, t.cols, float(t.pressure_lsb_pa))
        stall_s = self.stall_after_s or max(MIN_STALL_S, STALL_PERIODS / float(t.frame_rate_hz))
        self._stall_ns = int(stall_s * 1e9)
        self._last_frame_ns = now
        self._link = "connected"
        self._ready.set()

    def _deliver(self, frame: TactileFrame, now: int) -> None:
        c = self._c
        gap = now - self._last_frame_ns
        if c["first_host_ns"]:
            c["host_longest_gap_ns"] = max(c["host_longest_gap_ns"], gap)
            c["longest_gap_ns"] = max(c["longest_gap_ns"],
                                      frame.device_time_ns - c["last_dev_ns"])
        if self._stalled:
            self._stalled = False
            log.warning("tactile: %s streams again after %.0f ms", self.port, gap / 1e6)
        self._last_frame_ns = now
        if not c["first_host_ns"]:
            c["first_host_ns"], c["first_dev_ns"] = now, frame.device_time_ns
        c["last_host_ns"], c["last_dev_ns"] = now, frame.device_time_ns
        self._latest = frame
        with self._cond:
            if len(self._queue) >= self._queue_max:
                self._queue.popleft()
                c["queue_overflows"] += 1
            self._queue.append(frame)
            self._cond.notify_all()
        for listener in self._listeners:
            try:
                listener(frame)
            except Exception:  # a listener's bug must not end the stream: count it
                c["listener_errors"] += 1
                if c["listener_errors"] == 1:  # the traceback once, not at the frame rate
                    log.exception("tactile: a frame listener on %s raised (counted in "
                                  "stats()['listener_errors'] from now on)", self.port)
