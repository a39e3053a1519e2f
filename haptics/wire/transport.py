"""ZeroMQ plumbing: endpoints, publishers that wait for their subscribers, draining.

Loss counting from sequence numbers lives in `haptics.wire.sequence`.

One endpoint per topic, single-part binary messages. Publishers are XPUB sockets so they can
wait until every expected subscriber has subscribed before streaming: a PUB socket silently
drops what it sends before a subscriber's subscription arrives (the "slow joiner"), and the
recorder must see every sample. State topics are never conflated; the device's command
subscription may be (single publisher, only the newest command matters).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import zmq

from haptics.errors import HapticsError
from haptics.wire.curve import KeyPair, secure_client, secure_server

TOPICS: Final = ("state", "command", "telemetry")
DEEP_HWM: Final = 2_000_000  # messages; ~30 min of 1 kHz per topic: the recorder never drops


def ipc_endpoints(run_dir: Path) -> dict[str, str]:
    """ipc:// endpoints for every topic and control socket under `run_dir` (one host)."""
    names = (*TOPICS, "ctl-device", "ctl-loop", "ctl-recorder")
    return {name: f"ipc://{run_dir / name}" for name in names}


def tcp_endpoints(host: str, base_port: int) -> dict[str, str]:
    """tcp:// endpoints on consecutive ports (operator and simulator on separate hosts)."""
    names = (*TOPICS, "ctl-device", "ctl-loop", "ctl-recorder")
    return {name: f"tcp://{host}:{base_port + i}" for i, name in enumerate(names)}


SUBSCRIPTION_HWM = 256


def is_loopback(endpoint: str) -> bool:
    """Whether a tcp:// endpoint's host is a loopback address (ipc:// and inproc:// count)."""
    if not endpoint.startswith("tcp://"):
        return True
    host = endpoint[len("tcp://") :].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name or interface: not provably loopback
        return False


def check_bind_allowed(endpoint: str, secured: bool = False) -> None:
    """Refuse a plain-tcp bind on a non-loopback address: off this machine every link is
    CurveZMQ (`secured`).

    Raises HapticsError with what to do instead.
    """
    if not secured and not is_loopback(endpoint):
        raise HapticsError(
            f"refusing to bind {endpoint}: plain tcp is loopback-only. Bind 127.0.0.1, or give "
            "CurveZMQ keys (haptics keys create) so the link is authenticated and encrypted."
        )


def publisher(
    ctx: zmq.Context[zmq.Socket[bytes]],
    endpoint: str,
    hwm: int = DEEP_HWM,
    curve: KeyPair | None = None,
) -> zmq.Socket[bytes]:
    """An XPUB socket bound to `endpoint` that reports every subscription (XPUB_VERBOSE).

    curve: our key pair, making it a CurveZMQ server (clients are checked by the context's
    authenticator, `haptics.wire.curve.start_authenticator`). Required off loopback.
    """
    check_bind_allowed(endpoint, secured=curve is not None)
    sock = ctx.socket(zmq.XPUB)
    if curve is not None:
        secure_server(sock, curve)
    sock.setsockopt(zmq.SNDHWM, hwm)
    # subscription frames queue at most this deep per peer: a peer flooding them is held back
    # by ZeroMQ instead of filling the publisher's memory and thread
    sock.setsockopt(zmq.RCVHWM, SUBSCRIPTION_HWM)
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.bind(endpoint)
    return sock


def wait_for_subscribers(
    sock: zmq.Socket[bytes],
    count: int,
    timeout_s: float,
    between: Callable[[], bool] | None = None,
) -> int | None:
    """Wait until `count` subscriptions arrived on an XPUB socket; return how many did.

    `between()` runs between checks (a process answers its control requests there, polling
    a few ms each); when it returns True the wait is abandoned and None is returned.
    Raises HapticsError on timeout, naming how
    many subscribers were expected and seen.
    """
    seen = 0
    deadline = time.monotonic() + timeout_s
    while True:
        seen += drain_subscriptions(sock)
        if seen >= count:
            return seen
        if time.monotonic() > deadline:
            raise HapticsError(
                f"only {seen} of {count} subscribers connected to "
                f"{sock.getsockopt_string(zmq.LAST_ENDPOINT)} within {timeout_s:.1f} s; "
                "is every process of the session running?"
            )
        if between is not None:
            if between():
                return None
        else:
            sock.poll(5, zmq.POLLIN)


def subscriber(
    ctx: zmq.Context[zmq.Socket[bytes]],
    endpoint: str,
    *,
    deep: bool = True,
    conflate: bool = False,
    curve: tuple[KeyPair, bytes] | None = None,
) -> zmq.Socket[bytes]:
    """A SUB socket connected to `endpoint`, subscribed to everything.

    deep=True gives an (almost) unbounded queue for the recorder; conflate=True keeps only
    the newest message (command topics only, never recorded streams); curve: (our key pair,
    the server's public key) for a CurveZMQ link.
    """
    sock = ctx.socket(zmq.SUB)
    if curve is not None:
        secure_client(sock, *curve)
    if conflate:
        sock.setsockopt(zmq.CONFLATE, 1)
    elif deep:
        sock.setsockopt(zmq.RCVHWM, DEEP_HWM)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    return sock


def drain_latest(sock: zmq.Socket[bytes], limit: int = 1 << 30) -> tuple[bytes | None, int]:
    """Read waiting messages without blocking, at most `limit` of them; return (the newest
    read or None, how many were read). A flood cannot hold the caller: the rest wait.

    Checks ZMQ_EVENTS instead of catching zmq.Again: no exception on the hot path.
    """
    latest: bytes | None = None
    n = 0
    while n < limit and int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
        latest = sock.recv(zmq.NOBLOCK)
        n += 1
    return latest, n


def drain_subscriptions(sock: zmq.Socket[bytes], limit: int = 64) -> int:
    """Read pending (un)subscription messages from an XPUB without blocking, at most `limit`
    of them (a flood of subscription frames cannot hold the caller; the rest wait); the net
    change in subscribers among those read."""
    delta = 0
    for _ in range(limit):
        try:
            msg = sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return delta
        if msg[:1] == b"\x01":
            delta += 1
        elif msg[:1] == b"\x00":
            delta -= 1
    return delta


def spin_until(
    deadline_ns: int,
    sock: zmq.Socket[bytes],
    spin_ns: int,
    until_arrival: bool = False,
    grace_ns: int = 0,
) -> tuple[int, int | None, bool]:
    """Wait for a tick: sleep until `spin_ns` before the deadline, then spin watching `sock`.

    Returns (wake_ns, arrival_ns, waiting): arrival_ns is when a message was first seen
    waiting during the spin, None if none was; `waiting` is True when one was already
    there as the spin began (it came during the sleep: its arrival time is unknown). With
    `until_arrival`, return the moment a message arrives, or `grace_ns` after the deadline
    without one (a late message is waited for that long).
    """
    remaining = deadline_ns - time.monotonic_ns()
    if remaining > spin_ns:
        time.sleep((remaining - spin_ns) / 1e9)
    arrival: int | None = None
    events, pollin = zmq.EVENTS, zmq.POLLIN
    end = deadline_ns + grace_ns if until_arrival else deadline_ns
    now = start = time.monotonic_ns()
    while now < end:
        if arrival is None and int(sock.getsockopt(events)) & pollin:
            arrival = now
            if until_arrival:
                return now, arrival, now == start
        now = time.monotonic_ns()
    return now, arrival, arrival == start
