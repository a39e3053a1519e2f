"""A fault-injecting relay between a serial driver and a device, over pseudo-terminals.

The relay opens its own pty pair and offers the slave (`.port`) to the driver; it opens the
device's port (an emulator's pty) as the other end, and copies frames both ways, damaging
some on purpose: bit errors at a given bit-error rate, dropped frames, truncated frames. It
cuts the byte stream at the 0x00 delimiters, decides each frame's fate, and records which
COMMAND and STATE sequence numbers went through intact and which were damaged, so a test can
prove that the receiver acted on exactly the intact ones.

Bit errors are drawn over the frame bytes with a geometric gap (a memoryless channel at the
given rate); delimiters are left intact so every damaged frame is one frame (a flipped
delimiter merges two frames, which truncation and garbage tests already cover).
`disconnect_upstream`/`connect_upstream` swap the device behind a driver that keeps its port;
`unplug`/`replug` close and recreate the driver's side, as a USB unplug does (a stable
`link` path then plays /dev/serial/by-id).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from drivers.serial import protocol as p
from drivers.serial.framing import decode_frame
from haptics.errors import DeviceError, MessageError

TO_DEVICE = "to_device"
TO_HOST = "to_host"


@dataclass
class DirectionStats:
    """What the relay did to one direction's frames."""

    frames: int = 0
    passed: int = 0
    corrupted: int = 0
    dropped: int = 0
    truncated: int = 0
    bits_flipped: int = 0
    overflow_bytes: int = 0
    passed_seqs: list[int] = field(default_factory=list)   # COMMAND or STATE seqs, intact
    damaged_seqs: list[int] = field(default_factory=list)  # corrupted, truncated or dropped

    def summary(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


class _Channel:
    """One direction: frame assembly, fault decisions and bookkeeping."""

    def __init__(self, name: str, ber: float, drop: float, truncate: float, seed: int,
                 seq_type: int) -> None:
        self.name = name
        self.ber = ber
        self.drop = drop
        self.truncate = truncate
        self.rng = random.Random(seed)
        self.seq_type = seq_type
        self.buf = bytearray()
        self.stats = DirectionStats()
        self._gap = self._next_gap()

    def _next_gap(self) -> int:
        """Bits until the next bit error (geometric, mean 1/ber)."""
        if self.ber <= 0:
            return 1 << 62
        u = 1.0 - self.rng.random()
        return int(math.log(u) / math.log1p(-self.ber))

    def process(self, data: bytes) -> bytes:
        """Bytes to forward for `data` received: complete frames only, some damaged."""
        self.buf += data
        if 0 not in data:
            return b""
        *frames, rest = bytes(self.buf).split(b"\x00")
        self.buf = bytearray(rest)
        out = bytearray()
        for frame in frames:
            if not frame:
                out.append(0)
                continue
            out += self._one(frame)
        return bytes(out)

    def _seq(self, frame: bytes) -> int | None:
        try:
            msg = p.decode(decode_frame(frame))
        except MessageError:
            return None
        if msg.__class__ is p.Command and self.seq_type == p.MsgType.COMMAND:
            return int(msg.seq)
        if msg.__class__ is p.State and self.seq_type == p.MsgType.STATE:
            return int(msg.seq)
        return None

    def _one(self, frame: bytes) -> bytes:
        s = self.stats
        s.frames += 1
        seq = self._seq(frame)
        r = self.rng.random()
        if r < self.drop:
            s.dropped += 1
            if seq is not None:
                s.damaged_seqs.append(seq)
            return b""
        if r < self.drop + self.truncate:
            s.truncated += 1
            if seq is not None:
                s.damaged_seqs.append(seq)
            return frame[:self.rng.randrange(len(frame))] + b"\x00"
        nbits = 8 * len(frame)
        if self._gap >= nbits:
            self._gap -= nbits
            s.passed += 1
            if seq is not None:
                s.passed_seqs.append(seq)
            return frame + b"\x00"
        damaged = bytearray(frame)
        pos = self._gap
        while pos < nbits:
            damaged[pos >> 3] ^= 1 << (pos & 7)
            s.bits_flipped += 1
            pos += 1 + self._next_gap()
        self._gap = pos - nbits
        s.corrupted += 1
        if seq is not None:
            s.damaged_seqs.append(seq)
        return bytes(damaged) + b"\x00"


def _open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    with contextlib.suppress(OSError):
        tty.setraw(fd)
    return fd


class FaultRelay:
    """Relay between the driver (on `.port`) and the device on `upstream`, injecting faults.

    Rates are per bit (`bit_error_rate`) and per frame (`drop_rate`, `truncate_rate`), in
    both directions unless `directions` says otherwise. Deterministic for a given `seed` and
    frame sequence.
    """

    def __init__(self, upstream: str | None, *, bit_error_rate: float = 0.0,
                 drop_rate: float = 0.0, truncate_rate: float = 0.0, seed: int = 0,
                 directions: tuple[str, ...] = (TO_DEVICE, TO_HOST),
                 link: str | os.PathLike[str] | None = None) -> None:
        def rates(d: str) -> tuple[float, float, float]:
            on = d in directions
            return (bit_error_rate if on else 0.0, drop_rate if on else 0.0,
                    truncate_rate if on else 0.0)

        self.channels = {
            TO_DEVICE: _Channel(TO_DEVICE, *rates(TO_DEVICE), seed, p.MsgType.COMMAND),
            TO_HOST: _Channel(TO_HOST, *rates(TO_HOST), seed + 1, p.MsgType.STATE),
        }
        self.link = str(link) if link is not None else None
        self._upstream_path = upstream
        self._up: int | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.upstream_losses = 0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FaultRelay:
        """Open both sides and start relaying. Raises DeviceError when upstream cannot open."""
        self._open_driver_side()
        if self._upstream_path is not None:
            self.connect_upstream(self._upstream_path)
        self._thread = threading.Thread(target=self._run, name="fault-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            for fd in (self._up, self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._up = self._master = self._slave = None
        if self.link and os.path.islink(self.link):
            with contextlib.suppress(OSError):
                os.unlink(self.link)

    def __enter__(self) -> FaultRelay:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> str:
        """What the driver opens: the stable link if any, else the relay's pty."""
        return self.link or self._slave_path

    # -- the two sides -------------------------------------------------------------------
    def _open_driver_side(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # kept open: no hang-up while the driver is away
        os.set_blocking(master, False)
        path = os.ttyname(slave)
        with self._lock:
            self._master, self._slave, self._slave_path = master, slave, path
        if self.link:
            if os.path.islink(self.link):
                os.unlink(self.link)
            os.symlink(path, self.link)

    def connect_upstream(self, path: str) -> None:
        """Relay to the device on `path` from now on. Raises DeviceError if it cannot open."""
        try:
            fd = _open_raw(path)
        except OSError as exc:
            raise DeviceError(f"relay: cannot open {path}: {exc}") from exc
        with self._lock:
            if self._up is not None:
                with contextlib.suppress(OSError):
                    os.close(self._up)
            self._up = fd
            self._upstream_path = path
            self.channels[TO_HOST].buf.clear()
            self.channels[TO_DEVICE].buf.clear()

    def disconnect_upstream(self) -> None:
        """Stop talking to the device; the driver's port stays open and goes silent."""
        with self._lock:
            if self._up is not None:
                with contextlib.suppress(OSError):
                    os.close(self._up)
            self._up = None

    def unplug(self) -> None:
        """Close the driver's side, as a USB unplug does (the driver gets an I/O error)."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)

    def replug(self) -> None:
        """A new driver-side pty (new path); the `link`, if any, points to it."""
        self._open_driver_side()
        self.channels[TO_DEVICE].buf.clear()

    # -- relaying ------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per direction: frames seen, passed intact, corrupted, dropped, truncated, bits."""
        return {name: ch.stats.summary() for name, ch in self.channels.items()} | {
            "upstream_losses": self.upstream_losses}

    def _write_all(self, fd: int, data: bytes, ch: _Channel) -> None:
        deadline = time.monotonic() + 0.1
        while data:
            try:
                n = os.write(fd, data)
                data = data[n:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    ch.stats.overflow_bytes += len(data)
                    return
                select.select([], [fd], [], 0.01)
            except OSError:
                return

    def _run(self) -> None:
        buf_size = 4096
        while not self._stop.is_set():
            with self._lock:
                master, up = self._master, self._up
            fds = [fd for fd in (master, up) if fd is not None]
            if not fds:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                continue  # an fd closed under us: look again
            for fd in ready:
                try:
                    data = os.read(fd, buf_size)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if fd == up:
                    if not data:  # the device went away
                        self.upstream_losses += 1
                        self.disconnect_upstream()
                        continue
                    out = self.channels[TO_HOST].process(data)
                    if out and master is not None:
                        self._write_all(master, out, self.channels[TO_HOST])
                elif fd == master and data:
                    out = self.channels[TO_DEVICE].process(data)
                    if out and up is not None:
                        self._write_all(up, out, self.channels[TO_DEVICE])
