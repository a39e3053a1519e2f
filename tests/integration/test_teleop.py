"""Teleoperation across machines, on this machine: real processes, real tcp on 127.0.0.1 only,
CurveZMQ end to end, through the delay/jitter/loss relay.

* a wrong key is refused and the operator is told why (the real `haptics operator` command);
* a peer's malformed and replayed messages are counted and ignored;
* a session over the relay records the leader's samples with both hosts' clocks and the round
  trip; killing the relay zeroes the operator's force within the 30 ms watchdog, the follower
  holds still, and after the relay is back force returns through the ramp, with no jump.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import multiprocessing as mp
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

import haptics
from haptics.errors import HapticsError
from haptics.runtime.link_ports import LinkParams
from haptics.runtime.relay import RelayConfig, free_port, start_relay
from haptics.runtime.teleop import (
    FollowerConfig,
    FollowerRun,
    LinkConfig,
    OperatorConfig,
    OperatorRun,
    run_follower_link,
)
from haptics.session.clock import link_clock
from haptics.wire import control
from haptics.wire.curve import create_link_keys, load_keys, load_public, secure_client
from haptics.wire.link import LEADER
from haptics.wire.messages import (
    COMMAND,
    FLAG_ARMED,
    FLAG_ENGAGING,
    STATUS_LINK_HELD,
)
from haptics.wire.transport import ipc_endpoints, subscriber
from tests.integration.conftest import haptics as run_cli

WATCHDOG_NS = 30_000_000


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return create_link_keys(tmp_path, ("follower", "operator", "intruder"))


@pytest.fixture
def follower_link(tmp_path: Path, keys: dict[str, Path]) -> Iterator[tuple[str, dict[str, str]]]:
    """The follower's link process alone (no loop): its tcp endpoint and local endpoints."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    endpoints = {**ipc_endpoints(run_dir), "ctl-link": f"ipc://{run_dir / 'ctl-link'}"}
    peer = f"tcp://127.0.0.1:{free_port()}"
    cfg = LinkConfig(
        endpoints=endpoints, peer=peer, keys=keys["follower_secret"],
        authorized=keys["authorized"], subscribers=0,
    )  # fmt: skip
    proc = mp.get_context("spawn").Process(target=run_follower_link, args=(cfg,))
    proc.start()
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        give_up = time.monotonic() + 60
        while not _ask(ctx, endpoints, "ping").get("ready"):
            assert proc.is_alive() and time.monotonic() < give_up, "follower link did not start"
            time.sleep(0.1)
        yield peer, endpoints
    finally:
        _ask(ctx, endpoints, "stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        ctx.term()


def _ask(ctx: zmq.Context[zmq.Socket[bytes]], endpoints: dict[str, str], cmd: str) -> Any:
    try:
        return control.request(ctx, endpoints["ctl-link"], cmd, 1.0)
    except HapticsError:
        return {}


def test_a_wrong_key_is_refused_and_the_operator_is_told_why(
    tmp_path: Path, keys: dict[str, Path], follower_link: tuple[str, dict[str, str]]
) -> None:
    peer, _ = follower_link
    intruder = run_cli(
        "operator", "--connect", peer, "--keys", str(keys["intruder_secret"]),
        "--follower-key", str(keys["follower"]), "--duration", "1",
        cwd=tmp_path, timeout=180,
    )  # fmt: skip
    assert intruder.returncode == 2, intruder.stdout + intruder.stderr
    assert "the peer refused our key" in intruder.stderr
    assert "authorized-keys folder" in intruder.stderr  # what to do about it


def test_malformed_and_replayed_messages_are_counted_and_ignored(
    keys: dict[str, Path], follower_link: tuple[str, dict[str, str]]
) -> None:
    peer, endpoints = follower_link
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    secure_client(sock, load_keys(keys["operator_secret"]), load_public(keys["follower"]))
    sock.connect(peer)
    try:
        sock.send(LEADER.make(link_seq=5, dev_seq=5, status=1))
        sock.send(LEADER.make(link_seq=5, dev_seq=5, status=1))  # replayed
        sock.send(LEADER.make(link_seq=3, dev_seq=3, status=1))  # older: replayed
        sock.send(b"\x10\x01 not a leader message")  # malformed
        sock.send(LEADER.make(link_seq=6, px=math.nan))  # non-finite
        sock.send(LEADER.make(link_seq=7, dev_seq=7, status=1))
        give_up = time.monotonic() + 30
        stats: dict[str, Any] = {}
        while time.monotonic() < give_up:
            stats = _ask(ctx, endpoints, "stats")
            if stats.get("received", 0) + stats.get("replayed", 0) + stats.get("bad", 0) >= 6:
                break
            time.sleep(0.1)
        assert (stats["received"], stats["replayed"], stats["bad"]) == (2, 2, 2), stats
        assert stats["ticks"] > 0  # and it carried on
    finally:
        sock.close(0)
        ctx.term()


def _relay(listen: int, target: int) -> BaseProcess:
    """The relay in its own process (20 ms round trip, 10 % jitter), accepting."""
    return start_relay(RelayConfig(listen=f"127.0.0.1:{listen}", target=f"127.0.0.1:{target}",
                                   rtt_ms=20.0, jitter=0.1, realtime_priority=60))  # fmt: skip


def _drain(sock: zmq.Socket[bytes], into: list[bytes]) -> None:
    while sock.poll(0):
        into.append(sock.recv())


def test_session_over_the_relay_survives_a_dropped_link(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    follower_port, relay_port = free_port(), free_port()
    relay = _relay(relay_port, follower_port)
    follower = FollowerRun(
        FollowerConfig(
            record_dir=tmp_path / "sessions",
            monitor=False,
            link=LinkConfig(
                endpoints={},
                peer=f"tcp://127.0.0.1:{follower_port}",
                keys=keys["follower_secret"],
                authorized=keys["authorized"],
            ),
        )
    )
    operator = OperatorRun(
        OperatorConfig(
            duration_s=8.0,
            link=LinkConfig(
                endpoints={},
                peer=f"tcp://127.0.0.1:{relay_port}",
                keys=keys["operator_secret"],
                peer_key=keys["follower"],
                connect_timeout_s=60.0,
            ),
        )
    )
    commands: list[bytes] = []
    try:
        with follower, operator, contextlib.ExitStack() as stack:
            cmd_sock = subscriber(operator.children.ctx, operator.endpoints["command"])
            stack.callback(cmd_sock.close, 0)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 6.0:  # until the operator feels the tissue
                _drain(cmd_sock, commands)
                time.sleep(0.1)
                force = operator.stats().get("force", [0.0])
                if time.monotonic() - t0 > 2.0 and max(abs(x) for x in force) > 0.2:
                    break
            killed_ns = time.monotonic_ns()
            relay.kill()
            relay.join(10)
            while time.monotonic_ns() - killed_ns < 1e9:
                _drain(cmd_sock, commands)
                time.sleep(0.02)
            relay = _relay(relay_port, follower_port)
            give_up = time.monotonic() + 20
            while time.monotonic() < give_up:  # until the link is back, then 1.5 s more
                _drain(cmd_sock, commands)
                time.sleep(0.25)
                events = operator.stats().get("events", [])
                if any(e["event"] == "up" and e["at_ns"] > killed_ns for e in events):
                    give_up = min(give_up, time.monotonic() + 1.5)
            _drain(cmd_sock, commands)
            fl_stats = follower.stats()
    finally:
        relay.terminate()
        relay.join(10)
    op_stats = operator.result["link"]
    session = follower.result["session"]
    assert session is not None

    # the operator: zero force, unarmed, from the watchdog on, until the link is back
    # (a loaded machine may stall a link for 30 ms before: the kill's drop is the one after it)
    downs = [e for e in op_stats["events"] if e["event"] == "down" and e["zeroed_ns"] > killed_ns]
    ups = [e for e in op_stats["events"] if e["event"] == "up"]
    assert downs and len(ups) >= 2, op_stats["events"]
    down = downs[0]
    back = next(e["at_ns"] for e in ups if e["at_ns"] > down["zeroed_ns"])
    c = COMMAND.to_array(commands)
    t = c["host_time_ns"]
    f = np.sqrt(c["fx"] ** 2 + c["fy"] ** 2 + c["fz"] ** 2)
    before = (t > down["last_rx_ns"] - 1_000_000_000) & (t <= down["last_rx_ns"])
    assert f[before].max() > 0.1, (
        "no force before the drop: the test proves nothing",
        {k: op_stats.get(k) for k in ("drops", "received", "sent", "ticks")},
        {k: fl_stats.get(k) for k in ("drops", "received", "published", "ticks", "rtt_ms")},
    )
    silent = (t > down["last_rx_ns"] + WATCHDOG_NS) & (t < back)
    assert silent.sum() > 100
    assert np.all(f[silent] == 0.0) and np.all((c["flags"][silent] & FLAG_ARMED) == 0)
    # back: from zero, through the ramp
    after = np.flatnonzero(t >= back)
    assert after.size > 300
    assert f[after[0]] < 0.05
    assert np.any(c["flags"][after[:250]] & FLAG_ENGAGING)
    # no jump on the way back: force grows by at most the leader's rise limit a tick (the
    # passivity controller may still cut it at once: a drop toward zero is the safe way)
    rise = np.diff(np.abs(c["fz"][after[:250]]))
    assert rise.max() <= LinkParams().max_rise_n + 1e-9, rise.max()

    # the follower: while down its link republished the held reference every tick (still,
    # marked held), then moved on from there
    assert fl_stats["drops"] >= 1 and fl_stats["bad"] == 0 and fl_stats["held"] > 500
    s = haptics.open_session(session)
    state = s.arrays("state")
    host = state["host_time_ns"]
    held = (state["status"] & STATUS_LINK_HELD) != 0
    edges = np.flatnonzero(np.diff(held.astype(np.int8))) + 1  # where holds start and end
    holds = [(a, b) for a, b in itertools.pairwise(edges) if held[a]]  # [a, b): one hold
    start, back_at = max(holds, key=lambda ab: host[ab[1] - 1] - host[ab[0]])
    assert host[back_at - 1] - host[start] > 500_000_000  # the relay was away for a second
    assert np.all(state["vz"][held] == 0.0) and np.ptp(state["pz"][start:back_at]) == 0.0
    # back: the reference moves on from where it held, no faster than the speed limit
    after = slice(back_at - 1, back_at + 300)
    allowed = LinkParams().max_speed_m_per_s * np.diff(host[after]) / 1e9 + 1e-4
    assert np.all(np.abs(np.diff(state["pz"][after])) <= allowed)

    # both clocks: the operator's at send, the follower's on receipt, and the round trip
    rtt = state["cmd_latency_ns"]
    known = rtt[rtt >= 0]
    assert known.size > 200  # enough for a clock fit
    assert np.median(known) >= 20e6  # the relay's 20 ms round trip is in it
    sender = state["device_time_ns"][~held].astype(np.int64)
    assert np.all(np.diff(sender) > 0)  # the operator's clock, in order
    fit = link_clock(state["device_time_ns"], state["host_time_ns"], rtt)
    assert abs(fit["offset_ns"]) < 10e6  # one machine: both "hosts" share one clock
    manifest = s.manifest
    assert "operator host's CLOCK_MONOTONIC" in manifest.clock["link"]
    assert "device_to_host" in manifest.clock
