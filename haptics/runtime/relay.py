"""A delay, jitter and loss relay for testing a teleoperation link on one machine.

This machine's kernel has no netem, so the network's faults come from an application-level
relay: it accepts tcp connections on `listen` and forwards each byte stream to `target`,
both ways, holding every chunk for RTT/2 · (1 ± jitter) (uniform). It forwards the bytes as
they are: CurveZMQ stays end to end (the relay holds no key and reads nothing), so a wrong key
is refused through it exactly as without it.

Loss: ZeroMQ runs over TCP, where a lost segment is not lost but sent again after the
retransmission timeout; the relay models a loss as that wait (`rto_ms`, at least the round
trip), and everything behind it on that connection waits too (TCP's head-of-line blocking).
Order is always kept. Killing the relay drops the link; starting it again on the same port
lets the peers reconnect. Loopback only: it is a test tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import deque
from typing import NamedTuple

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
    loss: float = Field(0.0, ge=0, lt=1.0)  # fraction of chunks that wait for a resend
    rto_ms: float = Field(200.0, ge=0, le=10_000)  # Linux's minimum retransmission timeout
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
    if lost:
        delay += max(cfg.rto_ms / 1e3, cfg.rtt_ms / 1e3)
    return Hold(max(previous_due_s, now_s + delay), lost)


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
            while data := await reader.read(65536):
                hold = hold_until(self.cfg, loop.time(), previous, self.rng.random(),
                                  self.rng.random())  # fmt: skip
                previous = hold.due_s
                self.chunks += 1
                self.lost += hold.lost
                pending.append((hold.due_s, data))
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
