"""SerialDevice: a haptic device running the project's firmware, over a serial port.

The argument is a port path (`serial:/dev/ttyACM0`, a pty, a stable symlink) or a pyserial
URL (`serial:rfc2217://host:port`). One reader thread owns the receive side: it reads what
is waiting, cuts frames at 0x00 (resynchronising after garbage), stamps each STATE with
`time.monotonic_ns()` on receipt and queues it as a `Sample`. Commands go out from the
caller's thread, one COMMAND frame per `write()`.

Force, as the firmware reports it in each STATE: `Sample.applied` is `force_cmd_n`, the force
the firmware commanded to the motor at that tick (after its local spring, clamp, ramp-in,
arming and faults), and `Sample.force` is `force_meas_n`, the force from the measured motor
current. `write()` can only predict (it answers before the firmware's next tick, and does
not know the ramp): what gets recorded is the STATE's.

Safety, in layers: the firmware clamps force and trips its command watchdog (default
100 ms, latching a fault) if COMMANDs stop while armed; this driver's own watchdog sends zero
and DISARM if the caller stops writing for `host_watchdog_ms`; a lost link never re-arms by
itself. Whenever the driver withholds force from a caller that armed it (its watchdog
tripped, the link came back, an ARM failed), every sample carries STATUS_WATCHDOG and
`stats()["force_withheld"]` says why, until the caller disarms and arms again.

COMMAND seqs come from one counter shared by the caller's thread (`write()`) and the reader
thread (the host watchdog's zero): taking a seq and sending its frame happen under one lock,
so seqs go out strictly increasing and the firmware never drops the watchdog's zero as
stale. ARM, DISARM, CLEAR_FAULT and SET_PARAMS go through the acknowledged control plane
(nonce, retried, de-duplicated by the device).

When the port disappears (unplug, emulator stopped) or goes silent, the device is lost:
`read()` returns None, `lost` holds the DeviceLost that says why, and the reader thread
reopens the port with backoff and redoes the handshake; `stats()["reconnects"]` counts it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import secrets
import select
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

import serial

from drivers.serial import protocol as p
from drivers.serial.framing import FrameReader
from haptics.devices.device import (
    ZERO,
    Device,
    DeviceInfo,
    FeatureSchema,
    Lifecycle,
    Sample,
    Vec3,
    damping_cap_ns_per_m,
)
from haptics.errors import DeviceError, DeviceLost, DeviceNotFound, FirmwareMismatch, MessageError
from haptics.wire.messages import STATUS_ARMED, STATUS_CLAMPED, STATUS_FAULT, STATUS_WATCHDOG

log = logging.getLogger(__name__)

RATE_HZ: Final = 1000.0
PADDLE_MAX_FORCE_N: Final = 3.0      # the paddle firmware's hard clamp (kt · current limit)
PADDLE_MASS_KG: Final = 0.05         # moving mass at the handle (firmware/emulator/plant.c)
DEFAULT_BAUD: Final = 2_000_000      # ignored by ptys and native USB; UART bridges need >= 921600
HOST_WATCHDOG_MS: Final = 50.0       # half the firmware's default command watchdog
LOST_AFTER_S: Final = 0.25           # no frame for this long: the device is lost
HANDSHAKE_TIMEOUT_S: Final = 2.0
CONTROL_TIMEOUT_S: Final = 1.0
CONTROL_RETRY_S: Final = 0.02
HELLO_RETRY_S: Final = 0.1
MISMATCH_RETRY_S: Final = 1.0
RECONNECT_BACKOFF_S: Final = (0.05, 1.0)
FIRMWARE_DEFAULT_RAMP_MS: Final = 50
_SEND_SLOTS: Final = 1 << 16         # command send times kept for the RTT, by seq
_RTT_KEEP: Final = 200_000
_READ_CHUNK: Final = 4096
_WIRE_FORCE_MAX_N: Final = 1e6       # larger requests are sent as this (the clamp is far lower)

StateListener = Callable[[p.State, int], None]


class _Pending:
    """A control request waiting for its ACK."""

    __slots__ = ("ack", "event")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ack: p.Ack | None = None


def _clamp(x: float, limit: float) -> tuple[float, bool]:
    if not math.isfinite(x):
        return 0.0, True
    if x > limit:
        return limit, True
    if x < -limit:
        return -limit, True
    return x, False


def _flag_names(bits: int, names: dict[int, str]) -> list[str]:
    return [name for bit, name in names.items() if bits & bit]


def mismatch_message(port: str, info: p.DeviceInfoReply) -> str | None:
    """What to do when the device's protocol version or schema differs from ours, else None."""
    fw = f"{info.fw_major}.{info.fw_minor}.{info.fw_patch}"
    dv, hv = info.protocol_version, p.PROTOCOL_VERSION
    kind = p.device_kind(info.device_type)
    if kind != "paddle":
        return (f"serial: {port} is a {kind} board (firmware {fw}), not a haptic paddle: it has "
                "no force to drive. Use `haptics devices test` to check it"
                + (" (a taxel board: drivers.tactile.TaxelBoard reads it)." if kind == "taxel"
                   else "."))
    if dv < hv:
        return (f"serial: {port} runs firmware {fw} speaking protocol v{dv}; this haptics speaks "
                f"v{hv}. Flash firmware for protocol v{hv} (make -C firmware cross, then flash "
                "firmware/build/paddle_stm32/paddle.bin), or use a haptics release for "
                f"protocol v{dv}.")
    if dv > hv:
        return (f"serial: {port} runs firmware {fw} speaking protocol v{dv}; this haptics speaks "
                f"v{hv}. Upgrade haptics to a release for protocol v{dv}, or flash firmware for "
                f"protocol v{hv}.")
    if info.schema_hash != p.SCHEMA_HASH:
        return (f"serial: {port} runs firmware {fw} with message schema {info.schema_hash:08x}, "
                f"this haptics expects {p.SCHEMA_HASH:08x} (both say protocol v{hv} but their "
                "message layouts differ). Flash firmware built from this haptics checkout "
                "(make -C firmware cross), or upgrade haptics to match the firmware.")
    return None


class SerialDevice(Device):
    """A device running the haptics firmware on a serial port or pyserial URL.

    Keyword options: `baudrate`; `host_watchdog_ms` (None disables the driver-side
    watchdog, e.g. to test the firmware's); `lost_after_s` (silence that counts as lost);
    `handshake_timeout_s`; `queue_size` (samples kept for `read()`, oldest dropped first).
    """

    name: ClassVar[str] = "serial"

    def __init__(self, argument: str = "", *, baudrate: int = DEFAULT_BAUD,
                 host_watchdog_ms: float | None = HOST_WATCHDOG_MS,
                 lost_after_s: float = LOST_AFTER_S,
                 handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
                 queue_size: int = 4096) -> None:
        super().__init__(argument)
        self.baudrate = baudrate
        self.host_watchdog_ns = None if host_watchdog_ms is None else int(host_watchdog_ms * 1e6)
        self.lost_after_ns = int(lost_after_s * 1e9)
        self.handshake_timeout_s = handshake_timeout_s
        self._port: Any = None
        self._posix = False
        self._write_lock = threading.Lock()
        self._cmd_lock = threading.Lock()  # a COMMAND's seq and its send, as one step
        self._frames = FrameReader()
        self._cond = threading.Condition()
        self._samples: collections.deque[Sample] = collections.deque(maxlen=queue_size)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._connected_evt = threading.Event()
        # link state, written by the reader thread
        self._link = "closed"            # closed | connecting | connected | lost | mismatch
        self._hello_nonce = 0
        self._next_hello_ns = 0
        self._last_rx_ns = 0
        self._reopen_at = 0.0
        self._backoff = RECONNECT_BACKOFF_S[0]
        self._ever_connected = False
        self.lost: DeviceLost | None = None
        self.last_error: Exception | None = None
        self._info: p.DeviceInfoReply | None = None
        self._last_state: p.State | None = None
        self._device_errors: p.ErrorCounters | None = None
        self._device_arm: int | None = None
        self._pending: dict[int, _Pending] = {}
        self._time_replies: collections.deque[tuple[p.TimeSyncReply, int]] = collections.deque(
            maxlen=64)
        self._listeners: list[StateListener] = []
        # sequence numbers
        self._cmd_seq = 0
        self._last_dev_seq: int | None = None
        self._ext_seq = 0
        self._last_echo: int | None = None
        self._send_ns = [0] * _SEND_SLOTS
        self._send_seq = [-1] * _SEND_SLOTS
        # host watchdog and arming intent
        self._armed_intent = False
        self._host_wd_tripped = False
        self._safe_off = False  # keep the device disarmed until the caller arms it again
        self._withheld_why: str | None = None  # why _safe_off was set (stats, sample status)
        self._last_write_ns = 0
        self._disarm_resend_ns = 0
        # known device parameters
        self._clamp_n = PADDLE_MAX_FORCE_N
        self._watchdog_ms = 100
        self._ramp_ms = FIRMWARE_DEFAULT_RAMP_MS
        self._spring = (0.0, 0.0, 0.0)
        self._command_flags = 0
        self.clock_offset_us: float | None = None
        # statistics
        self._rtt_us: collections.deque[float] = collections.deque(maxlen=_RTT_KEEP)
        self._c: dict[str, int] = dict.fromkeys(
            ("samples", "samples_dropped", "frames_lost", "version_errors", "unknown_type",
             "length_errors", "reconnects", "lost_events", "commands_sent", "write_errors",
             "host_watchdog_trips", "listener_errors", "device_error_reports"), 0)
        self._base = {"crc_errors": 0, "framing_errors": 0}

    # -- the contract --------------------------------------------------------------------
    @classmethod
    def schema(cls, argument: str = "") -> FeatureSchema:
        """1 kHz, one axis (x), force up to the paddle firmware's clamp; the passivity
        damping bound for the paddle's handle mass without a hand on it (10 N·s/m)."""
        return FeatureSchema(rate_hz=RATE_HZ, max_force_n=PADDLE_MAX_FORCE_N,
                             workspace_m=(0.1, 0.0, 0.0),
                             max_damping_ns_per_m=damping_cap_ns_per_m(PADDLE_MASS_KG, RATE_HZ))

    def _open(self) -> DeviceInfo:
        """Open the port, handshake, synchronise clocks.

        Raises DeviceNotFound (no such port), FirmwareMismatch (incompatible firmware) or
        DeviceError (no answer from the firmware).
        """
        if not self.argument:
            raise DeviceNotFound(
                "serial: which port? Use serial:/dev/ttyACM0 (or a pyserial URL); "
                "`haptics devices list` shows serial ports and running emulators.")
        self._port = self._open_port()
        self._begin_handshake(time.monotonic_ns())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"serial-reader {self.argument}",
                                        daemon=True)
        self._thread.start()
        ok = self._connected_evt.wait(self.handshake_timeout_s)
        if self._link == "mismatch" and isinstance(self.last_error, FirmwareMismatch):
            err: DeviceError = self.last_error
            self._shutdown()
            raise err
        if not ok:
            self._shutdown()
            raise DeviceError(
                f"serial: no DEVICE_INFO from {self.argument} within {self.handshake_timeout_s} s. "
                "Is it running the haptics firmware (flash it, or start `haptics emulator start "
                "paddle`), and is the port the device's?")
        self._sync_clock()
        return self._device_info()

    def _read(self, timeout_s: float) -> Sample | None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._samples:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._samples.popleft()

    def _write(self, force: Vec3) -> Vec3:
        """Send the x component; returns the firmware's clamp of it while the device is
        armed and the link is up, else zero: a prediction that ignores the ramp-in (the
        applied force is in the next STATEs, `Sample.applied`)."""
        raw = float(force[0])
        fx, _ = _clamp(raw, self._clamp_n)  # what the firmware's clamp will make of it
        # the firmware clamps (and flags it in STATE); send what was asked, within float32
        sent = raw if fx == raw else _clamp(raw, _WIRE_FORCE_MAX_N)[0]
        now = time.monotonic_ns()
        self._last_write_ns = now
        if self._safe_off or self._link != "connected":
            return ZERO
        if not self._send_command(sent, self._command_flags, now):
            return ZERO
        if self._device_arm != p.ArmState.ARMED:
            return ZERO
        return (fx, 0.0, 0.0)

    def _arm(self) -> None:
        """Enable force on the device. Raises DeviceLost, or DeviceError on a latched fault."""
        self._require_link("arm")
        # before asking: the reader thread must not take the coming ARMED for an unwanted one
        self._last_write_ns = time.monotonic_ns()
        self._safe_off = False
        self._withheld_why = None
        self._host_wd_tripped = False
        self._armed_intent = True
        try:
            ack = self._request(p.Arm, "ARM")
        except DeviceLost:
            self._armed_intent = False
            self._withhold("arm_failed")  # if it did arm, housekeeping disarms it
            raise
        if ack.result != p.AckResult.OK:
            self._armed_intent = False
            self._withhold("arm_failed")
        if ack.result == p.AckResult.REFUSED_FAULT:
            faults = ", ".join(_flag_names(ack.fault_bits, p.FAULT_NAMES)) or "unknown"
            raise DeviceError(
                f"serial: {self.argument} has a latched fault ({faults}); it applies no force "
                "until told the fault is understood: call clear_fault(), then arm() again.")
        if ack.result != p.AckResult.OK:
            raise DeviceError(f"serial: {self.argument} refused ARM (result {ack.result})")

    def _disarm(self) -> None:
        self._armed_intent = False
        self._host_wd_tripped = False
        self._safe_off = False
        self._withheld_why = None
        if self._link != "connected":
            return
        try:
            self._request(p.Disarm, "DISARM")
        except DeviceLost as exc:
            log.warning("%s", exc)

    def _close(self) -> None:
        if self._link == "connected" and self._armed_intent:
            self._send_command(0.0, 0, time.monotonic_ns())
            with contextlib.suppress(DeviceLost):
                self._request(p.Disarm, "DISARM", timeout_s=0.2)
        self._shutdown()

    # -- beyond the contract -------------------------------------------------------------
    def clear_fault(self) -> None:
        """Clear a latched fault (the device stays disarmed). Raises DeviceLost."""
        self._require_link("clear a fault")
        self._request(p.ClearFault, "CLEAR_FAULT")

    def set_params(self, *, watchdog_ms: int | None = None, ramp_ms: int | None = None,
                   clamp_n: float | None = None, spring_k: float | None = None,
                   damping_b: float | None = None, anchor_m: float | None = None) -> None:
        """Change firmware parameters; unset ones keep their current value.

        Raises DeviceError when the device refuses them (out of range: watchdog 2..10000 ms,
        clamp up to the hardware limit, non-negative spring and damping) or DeviceLost.
        """
        self._require_link("set parameters")
        k, b, a = self._spring
        values = (
            self._watchdog_ms if watchdog_ms is None else int(watchdog_ms),
            self._ramp_ms if ramp_ms is None else int(ramp_ms),
            self._clamp_n if clamp_n is None else float(clamp_n),
            k if spring_k is None else float(spring_k),
            b if damping_b is None else float(damping_b),
            a if anchor_m is None else float(anchor_m),
        )
        if not (0 <= values[0] <= 0xFFFF and 0 <= values[1] <= 0xFFFF):
            raise DeviceError(
                f"serial: watchdog_ms and ramp_ms must fit 0..65535, got {values[:2]}")
        ack = self._request(lambda nonce: p.SetParams(nonce, *values), "SET_PARAMS")
        if ack.result != p.AckResult.OK:
            raise DeviceError(
                f"serial: {self.argument} refused parameters {values}: watchdog 2..10000 ms, "
                f"clamp 0..{self._info.max_force_n if self._info else PADDLE_MAX_FORCE_N} N, "
                "spring and damping >= 0, |anchor| <= 1 m.")
        self._watchdog_ms, self._ramp_ms, self._clamp_n = values[0], values[1], values[2]
        self._spring = (values[3], values[4], values[5])

    @property
    def force_withheld(self) -> str | None:
        """Why the driver holds force at zero although the caller armed it, else None.

        "host_watchdog" (the caller stopped writing while armed), "reconnected" (the link was
        lost and came back: the device starts disarmed) or "arm_failed". Samples carry
        STATUS_WATCHDOG meanwhile; disarm() and arm() end it.
        """
        if self._safe_off and self.state is Lifecycle.ARMED:
            return self._withheld_why or "driver"
        return None

    def use_local_spring(self, enabled: bool) -> None:
        """Ask the firmware to add its spring-damper (set_params) to every commanded force."""
        self._command_flags = p.COMMAND_FLAG_LOCAL_SPRING if enabled else 0

    def add_listener(self, listener: StateListener) -> None:
        """Call `listener(state, host_receive_ns)` for every STATE, on the reader thread."""
        self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: StateListener) -> None:
        self._listeners = [x for x in self._listeners if x is not listener]

    @property
    def connected(self) -> bool:
        return self._link == "connected"

    @property
    def device_info_reply(self) -> p.DeviceInfoReply | None:
        """The latest DEVICE_INFO, as received."""
        return self._info

    @property
    def last_command_seq(self) -> int:
        """Seq of the newest COMMAND sent (the device echoes it in STATE.last_cmd_seq)."""
        return self._cmd_seq

    @property
    def last_state(self) -> p.State | None:
        """The newest STATE, as received."""
        return self._last_state

    def stats(self) -> dict[str, Any]:
        """Link statistics since open (or the last `reset_stats()`).

        rtt_us: command sent → first STATE echoing its seq (p50, p99, max, count);
        frames_lost: gaps in the device's STATE seq; crc_errors and framing_errors: frames
        the reader refused; device_errors: the firmware's own ERROR_COUNTERS.
        """
        rtts = sorted(self._rtt_us)
        n = len(rtts)

        def pct(q: float) -> float | None:
            return round(rtts[min(n - 1, int(q * n))], 1) if n else None

        return {
            "port": self.argument,
            "link": self._link,
            "connected": self._link == "connected",
            **self._c,
            "frames_ok": self._frames.frames_ok,
            "crc_errors": self._frames.crc_errors - self._base["crc_errors"],
            "framing_errors": self._frames.framing_errors - self._base["framing_errors"],
            "rtt_us": {"p50": pct(0.5), "p99": pct(0.99), "max": round(rtts[-1], 1) if n else None,
                       "count": n},
            "device_errors": self._device_errors._asdict() if self._device_errors else None,
            "clock_offset_us": self.clock_offset_us,
            "force_withheld": self.force_withheld,
            "last_error": str(self.last_error) if self.last_error else None,
        }

    def reset_stats(self) -> None:
        """Start the statistics afresh (e.g. after a warm-up)."""
        self._rtt_us.clear()
        for k in ("frames_lost", "samples_dropped", "version_errors", "unknown_type",
                  "length_errors", "write_errors"):
            self._c[k] = 0
        self._base = {"crc_errors": self._frames.crc_errors,
                      "framing_errors": self._frames.framing_errors}

    # -- port ----------------------------------------------------------------------------
    def _open_port(self) -> Any:
        """Open and configure the port. Raises DeviceNotFound."""
        url = self.argument
        if "://" not in url and not os.path.exists(url):
            raise DeviceNotFound(
                f"serial: no port at {url}. Is the device plugged in (or the emulator running)? "
                "`haptics devices list` shows what is there.")
        try:
            port = serial.serial_for_url(url, do_not_open=True, baudrate=self.baudrate,
                                         timeout=0.01, write_timeout=0.05)
            if hasattr(port, "exclusive"):
                port.exclusive = True
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceNotFound(f"serial: cannot open {url}: {exc}. Is another program using "
                                 "it, or are permissions missing (dialout group)?") from exc
        # A pty has no low-latency mode (ValueError) and no modem lines (OSError): fine.
        with contextlib.suppress(ValueError, OSError, AttributeError, NotImplementedError):
            port.set_low_latency_mode(True)
        for line in ("dtr", "rts"):
            with contextlib.suppress(OSError, ValueError, serial.SerialException):
                setattr(port, line, True)
        with contextlib.suppress(OSError, serial.SerialException):
            port.reset_input_buffer()
        self._posix = False
        # a real file descriptor lets the reader wait in select(); URL ports poll instead
        with contextlib.suppress(AttributeError, OSError, ValueError, serial.SerialException):
            port.fileno()
            port.timeout = 0
            self._posix = True
        return port

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                port.close()

    def _send_command(self, force_n: float, flags: int, now: int) -> bool:
        """Send a COMMAND with the next seq; False when it could not be written.

        Called from the caller's thread (write, close) and the reader thread (host watchdog):
        the seq is taken and its frame written under one lock, so seqs reach the device in
        increasing order and none is handed out twice.
        """
        with self._cmd_lock:
            seq = (self._cmd_seq + 1) & 0xFFFFFFFF
            slot = seq & (_SEND_SLOTS - 1)
            self._send_ns[slot] = now
            self._send_seq[slot] = seq
            self._cmd_seq = seq
            if not self._send(p.encode_command(seq, force_n, flags)):
                return False
            self._c["commands_sent"] += 1
        return True

    def _withhold(self, why: str) -> None:
        """Hold force at zero (and the device disarmed) until the caller arms again."""
        self._withheld_why = why
        self._safe_off = True

    def _send(self, wire: bytes) -> bool:
        port = self._port
        if port is None:
            return False
        try:
            with self._write_lock:
                port.write(wire)
        except (serial.SerialException, OSError, TypeError, ValueError) as exc:
            self._c["write_errors"] += 1
            self.last_error = exc
            return False
        return True

    def _shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None
        self._close_port()
        self._link = "closed"
        with self._cond:
            self._cond.notify_all()

    # -- control plane -------------------------------------------------------------------
    def _require_link(self, what: str) -> None:
        if self._link != "connected":
            raise self.lost or DeviceLost(
                f"serial: cannot {what}: {self.argument} is not connected")

    def _request(self, make: Callable[[int], p.Message], what: str,
                 timeout_s: float = CONTROL_TIMEOUT_S) -> p.Ack:
        """Send a control request until its ACK arrives. Raises DeviceLost after `timeout_s`."""
        nonce = secrets.randbits(32) or 1
        pending = _Pending()
        self._pending[nonce] = pending
        wire = p.encode_wire(make(nonce))
        deadline = time.monotonic() + timeout_s
        tries = 0
        try:
            while True:
                self._send(wire)
                tries += 1
                if pending.event.wait(CONTROL_RETRY_S):
                    break
                if time.monotonic() > deadline:
                    raise DeviceLost(
                        f"serial: no acknowledgement of {what} from {self.argument} after {tries} "
                        "tries; is the device still connected?")
        finally:
            self._pending.pop(nonce, None)
        ack = pending.ack
        assert ack is not None
        return ack

    def _sync_clock(self, rounds: int = 5) -> None:
        """Estimate device time − host time (µs) from the fastest of a few TIME_SYNC rounds."""
        best: tuple[int, float] | None = None
        for _ in range(rounds):
            sent_us = time.monotonic_ns() // 1000
            self._send(p.encode_wire(p.TimeSync(sent_us)))
            end = time.monotonic() + 0.05
            while time.monotonic() < end:
                match = [r for r in list(self._time_replies) if r[0].host_time_us == sent_us]
                if match:
                    reply, recv_ns = match[0]
                    rtt = recv_ns // 1000 - sent_us
                    offset = reply.device_time_us - (sent_us + recv_ns / 1000) / 2
                    if best is None or rtt < best[0]:
                        best = (rtt, offset)
                    break
                time.sleep(0.0005)
        if best is not None:
            self.clock_offset_us = round(best[1], 1)

    def _device_info(self) -> DeviceInfo:
        info = self._info
        assert info is not None
        emulated = bool(info.device_type & p.DEVICE_TYPE_EMULATED)
        kind = info.device_type & 0x7F
        model = "1-DoF haptic paddle" if kind == p.DEVICE_TYPE_PADDLE else f"device type {kind}"
        return DeviceInfo(
            driver=self.name,
            model=model + (" (firmware emulator)" if emulated else ""),
            serial=f"{info.serial:08X}",
            firmware_version=f"{info.fw_major}.{info.fw_minor}.{info.fw_patch}",
            provenance="emulated" if emulated else "real",
            extra={
                "port": self.argument,
                "protocol_version": info.protocol_version,
                "schema_hash": f"{info.schema_hash:08x}",
                "rate_hz": info.rate_hz,
                "axes": info.axes,
                "axis": "x",
                "watchdog_ms": info.watchdog_ms,
                "clamp_n": info.clamp_n,
                "max_force_n": info.max_force_n,
                "position_lsb_m": info.position_lsb_m,
                "force_lsb_n": info.force_lsb_n,
                "capabilities": _flag_names(info.capabilities, p.CAP_NAMES),
                "clock_offset_us": self.clock_offset_us,
            },
        )

    # -- reader thread -------------------------------------------------------------------
    def _begin_handshake(self, now: int) -> None:
        self._link = "connecting"
        self._hello_nonce = secrets.randbits(32) or 1
        self._next_hello_ns = now
        self._last_rx_ns = now

    def _run(self) -> None:
        while not self._stop.is_set():
            port = self._port
            if port is None:
                self._try_reopen()
                continue
            try:
                if self._posix:
                    ready, _, _ = select.select([port.fileno()], [], [], 0.01)
                    data = port.read(_READ_CHUNK) if ready else b""
                else:
                    data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, ValueError) as exc:
                if self._stop.is_set():
                    return
                self._port_failed(exc)
                continue
            now = time.monotonic_ns()
            if data:
                self._last_rx_ns = now
                for body in self._frames.feed(data):
                    self._on_body(body, now)
            self._housekeeping(now)

    def _port_failed(self, exc: Exception) -> None:
        self._close_port()
        self._mark_lost(f"{exc}")
        self._reopen_at = time.monotonic() + self._backoff

    def _mark_lost(self, why: str) -> None:
        was = self._link
        self._link = "lost"
        self._device_arm = None
        if was == "connected":
            self._c["lost_events"] += 1
            self.lost = DeviceLost(
                f"serial: lost {self.argument} ({why}); reconnecting in the background. read() "
                "returns None until it is back; the device is disarmed when it returns.")
            self.last_error = self.lost
            log.warning("%s", self.lost)
        with self._cond:
            self._cond.notify_all()

    def _try_reopen(self) -> None:
        wait = self._reopen_at - time.monotonic()
        if wait > 0:
            self._stop.wait(min(wait, 0.05))
            return
        try:
            self._port = self._open_port()
        except DeviceNotFound as exc:
            self.last_error = exc
            self._backoff = min(self._backoff * 2, RECONNECT_BACKOFF_S[1])
            self._reopen_at = time.monotonic() + self._backoff
            return
        self._frames.reset()
        self._begin_handshake(time.monotonic_ns())

    def _housekeeping(self, now: int) -> None:
        link = self._link
        if link == "connected":
            if now - self._last_rx_ns > self.lost_after_ns:
                self._mark_lost(f"no data for {self.lost_after_ns / 1e6:.0f} ms")
                self._begin_handshake(now)
                self._link = "lost"
                return
            self._host_watchdog(now)
            if (self._safe_off and self._device_arm == p.ArmState.ARMED
                    and now >= self._disarm_resend_ns):
                # armed, but nobody here asked for it (any more): disarm until the caller arms
                self._disarm_resend_ns = now + int(CONTROL_RETRY_S * 1e9)
                self._send(p.encode_wire(p.Disarm(secrets.randbits(32) or 1)))
        elif now >= self._next_hello_ns:
            retry = MISMATCH_RETRY_S if link == "mismatch" else HELLO_RETRY_S
            self._next_hello_ns = now + int(retry * 1e9)
            # a lone 0x00 first ends whatever garbage the device may have half-received
            self._send(b"\x00" + p.encode_wire(p.Hello(self._hello_nonce)))

    def _host_watchdog(self, now: int) -> None:
        """The caller stopped writing while armed: zero the force (housekeeping disarms)."""
        if (self.host_watchdog_ns is None or not self._armed_intent or self._safe_off
                or now - self._last_write_ns <= self.host_watchdog_ns):
            return
        self._host_wd_tripped = True
        self._withhold("host_watchdog")
        self._c["host_watchdog_trips"] += 1
        self._send_command(0.0, 0, now)
        log.warning("serial: no write() for %.0f ms while armed; zeroed force and disarmed %s",
                    self.host_watchdog_ns / 1e6, self.argument)

    def _on_body(self, body: bytes, now: int) -> None:
        try:
            msg = p.decode(body)
        except MessageError:
            reason = p.classify(body)
            key = {"version": "version_errors", "unknown_type": "unknown_type"}.get(
                reason, "length_errors")
            self._c[key] += 1
            return
        if isinstance(msg, p.State):
            if self._link == "connected":
                self._on_state(msg, now)
        elif isinstance(msg, p.Ack):
            pending = self._pending.get(msg.nonce)
            if pending is not None and pending.ack is None:
                pending.ack = msg
                # here, in stream order: the next STATE (made after this ACK) overrides it
                self._device_arm = msg.arm_state
                pending.event.set()
        elif isinstance(msg, p.DeviceInfoReply):
            self._on_device_info(msg, now)
        elif isinstance(msg, p.ErrorCounters):
            self._device_errors = msg
            self._c["device_error_reports"] += 1
        elif isinstance(msg, p.TimeSyncReply):
            self._time_replies.append((msg, now))

    def _on_device_info(self, info: p.DeviceInfoReply, now: int) -> None:
        if self._link == "connected" or info.nonce != self._hello_nonce:
            return
        problem = mismatch_message(self.argument, info)
        if problem is not None:
            self._info = info
            self.last_error = FirmwareMismatch(problem)
            self._link = "mismatch"
            self._next_hello_ns = now + int(MISMATCH_RETRY_S * 1e9)
            if not self._ever_connected:
                self._connected_evt.set()  # let _open() raise it
            return
        self._info = info
        self._clamp_n = min(float(info.clamp_n), float(info.max_force_n))
        self._watchdog_ms = int(info.watchdog_ms)
        self._last_dev_seq = None
        self._last_echo = None
        self._last_state = None
        self._device_arm = None
        self._armed_intent = False
        self._host_wd_tripped = False
        # a new link starts disarmed, whatever the device was doing (its HELLO disarmed it)
        self._withhold("reconnected")
        self._last_rx_ns = now
        if self._ever_connected:
            self._c["reconnects"] += 1
            log.warning("serial: %s is back (reconnect %d); it is disarmed", self.argument,
                        self._c["reconnects"])
        self._ever_connected = True
        self._backoff = RECONNECT_BACKOFF_S[0]
        self.lost = None
        self._link = "connected"
        self._connected_evt.set()

    def _on_state(self, st: p.State, now: int) -> None:
        last = self._last_dev_seq
        if last is None:
            self._ext_seq += 1
        else:
            gap = (st.seq - last) & 0xFFFFFFFF
            if gap == 0 or gap >= 0x80000000:
                return  # a repeat or an old frame: not newer than what we have
            if gap > 1:
                self._c["frames_lost"] += gap - 1
            self._ext_seq += gap
        self._last_dev_seq = st.seq
        echo = st.last_cmd_seq
        if echo != self._last_echo:
            self._last_echo = echo
            slot = echo & (_SEND_SLOTS - 1)
            if self._send_seq[slot] == echo:
                rtt_ns = now - self._send_ns[slot]
                if 0 < rtt_ns < 1_000_000_000:
                    self._rtt_us.append(rtt_ns / 1000.0)
                self._send_seq[slot] = -1
        self._last_state = st
        self._device_arm = st.arm_state
        arm = st.arm_state
        status = ((STATUS_ARMED if arm == p.ArmState.ARMED else 0)
                  | (STATUS_FAULT if arm == p.ArmState.FAULT else 0)
                  | (STATUS_WATCHDOG if (st.fault_bits & p.FAULT_WATCHDOG or self._host_wd_tripped
                                       or self.force_withheld is not None) else 0)
                  | (STATUS_CLAMPED if st.flags & p.STATE_FLAG_CLAMPED else 0))
        sample = Sample(self._ext_seq, st.time_us * 1000, now, (st.position_m, 0.0, 0.0),
                        (st.velocity_mps, 0.0, 0.0), (st.force_meas_n, 0.0, 0.0), 0, status,
                        (st.force_cmd_n, 0.0, 0.0))
        for listener in self._listeners:
            try:
                listener(st, now)
            except Exception:  # a listener must not stop the reader
                self._c["listener_errors"] += 1
                log.exception("serial: state listener failed")
        with self._cond:
            if len(self._samples) == self._samples.maxlen:
                self._c["samples_dropped"] += 1
            self._samples.append(sample)
            self._c["samples"] += 1
            self._cond.notify()
