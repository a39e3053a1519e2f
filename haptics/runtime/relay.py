"""A delay, jitter and loss relay for testing a teleoperation link on one machine.

This machine's kernel has no netem, so the network's faults come from an application-level
relay: it accepts tcp connections on `listen` and forwards each byte stream to `target`,
both ways, holding every chunk for RTT/2 · (1 ± jitter) (uniform). It forwards the bytes as
they are: CurveZMQ stays end to end (the relay holds no key and reads nothing), so a wrong key
is refused through it exactly as without it.

Loss, two models (`loss_mode`):

* "retransmit" (TCP's truth): ZeroMQ runs over TCP, where a lost segment is not lost but sent
  again after the retransmission timeout; the relay models a loss as that wait (`rto_ms`, at
  least the round trip), and everything behind it on that connection waits too (TCP's
  head-of-line blocking).
* "drop" (a datagram link's truth): the relay reads the ZMTP framing (not the content: that
  stays encrypted) and drops whole CurveZMQ MESSAGE frames; nothing behind waits. CurveZMQ
  accepts the gap (its nonces must only grow), so this is what a link that loses packets
  without resending them would deliver, through the real sockets and keys.

Stall (`stall_ms`, `stall_after_s`, `stall_every_s`): from `stall_after_s` after the first
bytes relayed, and every `stall_every_s` after that (0: once), the link holds everything in both
directions for `stall_ms`, then delivers it in one burst, in order: what TCP does after a
retransmission timeout (Linux's minimum is 200 ms) or a link that pauses.

Order is always kept. Killing the relay drops the link; starting it again on the same port
lets the peers reconnect. Loopback only: it is a test tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import random
import signal
import socket
import time
from collections import deque
from multiprocessing.process import BaseProcess
from typing import Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from haptics.errors import ConfigError
from haptics.process import make_realtime
from haptics.wire.transport import is_loopback


class RelayConfig(BaseModel):
    """Where to listen and forward (host:port), and the faults to add."""

    model_config = ConfigDict(allow_inf_nan=False)

    listen: str = "127.0.0.1:5801"
    target: str = "127.0.0.1:5800"
    rtt_ms: float = Field(0.0, ge=0, le=10_000)
    jitter: float = Field(0.0, ge=0, le=1.0)  # fraction of the one-way delay
    loss: float = Field(0.0, ge=0, lt=1.0)  # fraction of chunks (messages: "drop") lost
    loss_mode: Literal["retransmit", "drop"] = "retransmit"  # see the module docstring
    rto_ms: float = Field(200.0, ge=0, le=10_000)  # Linux's minimum retransmission timeout
    stall_ms: float = Field(0.0, ge=0, le=10_000)  # 0: no stalls
    stall_after_s: float = Field(1.0, ge=0)  # first stall, after the first bytes relayed
    stall_every_s: float = Field(0.0, ge=0)  # then one every this often (0: once)
    seed: int = 1
    realtime_priority: int | None = None  # SCHED_FIFO (best effort): a loaded test host


def split_host_port(address: str, option: str) -> tuple[str, int]:
    """(host, port) of "host:port". Raises ConfigError naming `option`."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{option} {address!r}: give host:port, e.g. 127.0.0.1:5801")
    return host.strip("[]"), int(port)


class Hold(NamedTuple):
    """When a chunk is forwarded (s, on the event loop's clock)."""

    due_s: float
    lost: bool


def hold_until(cfg: RelayConfig, now_s: float, previous_due_s: float, u1: float, u2: float) -> Hold:
    """When to forward a chunk that arrived at `now_s` (pure; u1, u2 uniform in [0, 1)).

    Never before the chunk ahead of it (`previous_due_s`): order is kept.
    """
    one_way = cfg.rtt_ms / 2e3
    delay = one_way * (1.0 + cfg.jitter * (2.0 * u1 - 1.0))
    lost = u2 < cfg.loss
    if lost and cfg.loss_mode == "retransmit":
        delay += max(cfg.rto_ms / 1e3, cfg.rtt_ms / 1e3)
    return Hold(max(previous_due_s, now_s + delay), lost)


def stall_end(cfg: RelayConfig, since_first_s: float) -> float | None:
    """If a stall holds the link `since_first_s` after the first bytes relayed: the time (same
    scale) it ends, when what it held goes on. None: no stall now (pure)."""
    if cfg.stall_ms <= 0.0 or since_first_s < cfg.stall_after_s:
        return None
    into = since_first_s - cfg.stall_after_s
    if cfg.stall_every_s > 0.0:
        into %= cfg.stall_every_s
    if into >= cfg.stall_ms / 1e3:
        return None
    return since_first_s - into + cfg.stall_ms / 1e3


_GREETING: Final = 64  # a ZMTP 3 greeting's bytes, each way, before the first frame
_MESSAGE: Final = b"\x07MESSAGE"  # a CurveZMQ message frame's body starts so


class ZmtpFrames:
    """Cuts one direction of a ZMTP 3 byte stream into whole frames (the greeting passes as
    one piece first). Only the framing is read: a CurveZMQ frame's content stays sealed."""

    def __init__(self) -> None:
        self.buffer = b""
        self.greeting_left = _GREETING

    def feed(self, data: bytes) -> list[bytes]:
        """The whole pieces `data` completes (greeting bytes, then frames with their
        headers), in order; a partial frame waits for the next `feed`."""
        out: list[bytes] = []
        if self.greeting_left:
            take = data[: self.greeting_left]
            self.greeting_left -= len(take)
            data = data[len(take) :]
            if take:
                out.append(take)
        buf = self.buffer + data
        pos = 0
        while pos + 2 <= len(buf):
            long_size = buf[pos] & 0x02
            header = 9 if long_size else 2
            if pos + header > len(buf):
                break
            size = int.from_bytes(buf[pos + 1 : pos + header], "big")
            if pos + header + size > len(buf):
                break
            out.append(buf[pos : pos + header + size])
            pos += header + size
        self.buffer = buf[pos:]
        return out


def is_message_frame(piece: bytes) -> bool:
    """Whether a piece from `ZmtpFrames.feed` is a CurveZMQ MESSAGE frame (the only kind the
    "drop" loss model drops: greeting and handshake pieces always pass)."""
    if len(piece) < 2:
        return False
    header = 9 if piece[0] & 0x02 else 2
    return piece[header : header + len(_MESSAGE)] == _MESSAGE


class Relay:
    """The relay's connections and counters; `serve()` runs it until cancelled."""

    def __init__(self, cfg: RelayConfig) -> None:
        for option, address in (("--listen", cfg.listen), ("--to", cfg.target)):
            host, _ = split_host_port(address, option)
            if not is_loopback(f"tcp://{host}:1"):
                raise ConfigError(
                    f"{option} {address}: the relay is a test tool and stays on loopback; "
                    "give 127.0.0.1:PORT"
                )
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.connections = 0
        self.chunks = 0
        self.lost = 0
        self.first_s: float | None = None  # the first bytes relayed (event loop's clock)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        pending: deque[tuple[float, bytes | None]] = deque()
        arrived = asyncio.Event()

        async def forward() -> None:
            while True:
                if not pending:
                    arrived.clear()
                    await arrived.wait()
                    continue
                wait = pending[0][0] - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                now = loop.time()  # everything due goes in one write: no per-chunk sleeps
                while pending and pending[0][0] <= now:
                    data = pending.popleft()[1]
                    if data is None:
                        await writer.drain()
                        return
                    writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(forward())
        previous = 0.0
        try:
            frames = ZmtpFrames() if self.cfg.loss_mode == "drop" else None
            while data := await reader.read(65536):
                now = loop.time()
                if self.first_s is None:
                    self.first_s = now
                pieces = [data] if frames is None else frames.feed(data)
                end = stall_end(self.cfg, now - self.first_s)
                if end is not None:  # held until the stall ends
                    previous = max(previous, self.first_s + end)
                for piece in pieces:
                    hold = hold_until(self.cfg, now, previous, self.rng.random(),
                                      self.rng.random())  # fmt: skip
                    self.chunks += 1
                    if hold.lost and frames is not None:
                        if not is_message_frame(piece):
                            hold = hold._replace(lost=False)  # handshake: never dropped
                        else:
                            self.lost += 1
                            continue
                    self.lost += hold.lost
                    previous = hold.due_s
                    pending.append((hold.due_s, piece))
                arrived.set()
        except (ConnectionError, OSError):
            pass
        finally:
            pending.append((previous, None))
            arrived.set()
            with contextlib.suppress(ConnectionError, OSError):
                await sender
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = split_host_port(self.cfg.target, "--to")
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()  # nobody at the target: the client reconnects later
            return
        self.connections += 1
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def serve(self) -> None:
        """Accept and forward until cancelled (SIGTERM and SIGINT cancel it)."""
        host, port = split_host_port(self.cfg.listen, "--listen")
        server = await asyncio.start_server(self._connection, host, port, reuse_address=True)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
        async with server:
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve_forever()


def run_relay(cfg: RelayConfig) -> None:
    """Run the relay in this process until SIGTERM or Ctrl-C.

    Raises ConfigError for a non-loopback address; OSError when the port is taken.
    """
    relay = Relay(cfg)
    if cfg.realtime_priority is not None:
        make_realtime(cfg.realtime_priority)  # best effort: without it delays grow under load
    try:
        asyncio.run(relay.serve())
    except OSError as exc:
        raise ConfigError(
            f"the relay cannot listen on {cfg.listen}: {exc.strerror or exc}; pick another port"
        ) from exc


def free_port() -> int:
    """A free tcp port on 127.0.0.1 below the ephemeral range (32768 up): while the relay is
    down, a client reconnecting to an ephemeral-range port can be given that very port as its
    own source and connect to itself (a TCP self-connect), keeping a restarted relay from ever
    seeing a connection."""
    rng = random.Random()
    while True:
        port = rng.randrange(20000, 32000)
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port


def start_relay(cfg: RelayConfig, timeout_s: float = 60.0) -> BaseProcess:
    """The relay in its own process, once it accepts connections; stop it with terminate()
    (or kill() to drop the link at once).

    Raises ConfigError when it does not listen within `timeout_s` (port taken, or it died).
    """
    host, port = split_host_port(cfg.listen, "--listen")
    proc = mp.get_context("spawn").Process(target=run_relay, args=(cfg,), daemon=True)
    proc.start()
    give_up = time.monotonic() + timeout_s
    while True:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.connect((host, port))
            return proc
        if not proc.is_alive() or time.monotonic() > give_up:
            proc.kill()
            proc.join(5)
            raise ConfigError(
                f"the relay did not listen on {cfg.listen} within {timeout_s:.0f} s (exit code "
                f"{proc.exitcode}); pick another port"
            )
        time.sleep(0.05)
