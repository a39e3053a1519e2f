import threading
import time
from pathlib import Path

import pytest
import zmq

from haptics.errors import HapticsError
from haptics.wire.transport import (
    check_bind_allowed,
    drain_latest,
    ipc_endpoints,
    publisher,
    spin_until,
    subscriber,
    wait_for_subscribers,
)


def test_plain_tcp_bind_refused_off_loopback() -> None:
    check_bind_allowed("tcp://127.0.0.1:5000")
    check_bind_allowed("ipc:///tmp/x")
    with pytest.raises(HapticsError, match="CurveZMQ"):
        check_bind_allowed("tcp://0.0.0.0:5000")


def test_publisher_waits_for_subscribers_then_nothing_is_lost(tmp_path: Path) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ep = ipc_endpoints(tmp_path)["state"]
    pub = publisher(ctx, ep)
    subs = [subscriber(ctx, ep), subscriber(ctx, ep)]
    assert wait_for_subscribers(pub, 2, timeout_s=5.0) == 2
    for i in range(5000):
        pub.send(i.to_bytes(4, "little"))
    for sub in subs:
        got = []
        while len(got) < 5000 and sub.poll(2000):
            got.append(int.from_bytes(sub.recv(), "little"))
        assert got == list(range(5000))
    for s in (pub, *subs):
        s.close(0)
    ctx.term()


def test_wait_for_subscribers_times_out_with_a_clear_message(tmp_path: Path) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = publisher(ctx, ipc_endpoints(tmp_path)["state"])
    with pytest.raises(HapticsError, match="0 of 1 subscribers"):
        wait_for_subscribers(pub, 1, timeout_s=0.2)
    pub.close(0)
    ctx.term()


def test_drain_latest_keeps_only_the_newest(tmp_path: Path) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ep = ipc_endpoints(tmp_path)["state"]
    pub = publisher(ctx, ep)
    sub = subscriber(ctx, ep, deep=False)
    wait_for_subscribers(pub, 1, 5.0)
    assert drain_latest(sub) == (None, 0)
    for i in range(10):
        pub.send(bytes([i]))
    time.sleep(0.2)
    latest, n = drain_latest(sub)
    assert (latest, n) == (bytes([9]), 10)
    pub.close(0)
    sub.close(0)
    ctx.term()


def test_a_flood_is_drained_a_bounded_number_at_a_time(tmp_path: Path) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ep = ipc_endpoints(tmp_path)["state"]
    pub = publisher(ctx, ep)
    sub = subscriber(ctx, ep, deep=False)
    wait_for_subscribers(pub, 1, 5.0)
    for i in range(500):
        pub.send(i.to_bytes(2, "little"))
    time.sleep(0.3)
    reads = []
    while True:
        latest, n = drain_latest(sub, 64)
        if n == 0:
            break
        assert n <= 64 and latest is not None
        reads.append((int.from_bytes(latest, "little"), n))
    assert sum(n for _, n in reads) == 500 and reads[-1][0] == 499
    assert all(n == 64 for _, n in reads[:-1])
    pub.close(0)
    sub.close(0)
    ctx.term()


def test_control_request_times_out_when_nobody_answers(tmp_path: Path) -> None:
    from haptics.wire.control import ControlServer, request

    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ep = ipc_endpoints(tmp_path)["ctl-loop"]
    with pytest.raises(HapticsError, match="no answer"):
        request(ctx, ep, "ping", timeout_s=0.2)
    server = ControlServer(ctx, ep, frozenset({"ping"}))

    def answer() -> None:
        req = server.poll(2000)
        assert req is not None
        server.reply({"ok": True, "echo": req["cmd"]})

    th = threading.Thread(target=answer)
    th.start()
    assert request(ctx, ep, "ping", timeout_s=2.0) == {"ok": True, "echo": "ping"}
    th.join()
    server.close()
    ctx.term()


def test_spin_until_says_when_a_message_came_and_waits_a_grace_for_a_late_one(
    tmp_path: Path,
) -> None:
    """What a loop ticking on arrival learns from its wait: a message that came during the
    sleep is reported as already waiting (its arrival time unknown); one that comes after the
    deadline, within the grace, is ticked on when it arrives; none, and the wait ends at the
    deadline plus the grace."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ep = ipc_endpoints(tmp_path)["state"]
    pub = publisher(ctx, ep)
    sub = subscriber(ctx, ep, deep=False)
    wait_for_subscribers(pub, 1, 5.0)
    ms = 1_000_000
    # sent before the wait: already waiting when the spin began
    pub.send(b"early")
    time.sleep(0.05)
    deadline = time.monotonic_ns() + 300 * ms  # far: a pause cannot push the spin past it
    wake, arrival, waiting = spin_until(deadline, sub, 2 * ms, until_arrival=True)
    assert waiting and arrival == wake and wake < deadline
    assert drain_latest(sub) == (b"early", 1)
    # nothing comes: the wait ends at the deadline plus the grace, nothing seen
    deadline = time.monotonic_ns() + 10 * ms
    wake, arrival, waiting = spin_until(deadline, sub, 2 * ms, until_arrival=True, grace_ns=30 * ms)
    assert arrival is None and not waiting and wake >= deadline + 30 * ms
    # a late message: sent 20 ms after the deadline, inside a 500 ms grace, and ticked on then
    deadline = time.monotonic_ns() + 10 * ms
    sender = threading.Timer(0.03, lambda: pub.send(b"late"))
    sender.start()
    wake, arrival, waiting = spin_until(deadline, sub, 2 * ms, True, grace_ns=500 * ms)
    sender.join()
    assert arrival == wake and not waiting
    assert deadline + 15 * ms < wake < deadline + 500 * ms
    assert drain_latest(sub) == (b"late", 1)
    # without until_arrival the grace is not waited: a grid tick is on its deadline
    deadline = time.monotonic_ns() + 10 * ms
    wake, arrival, waiting = spin_until(deadline, sub, 2 * ms, False, grace_ns=200 * ms)
    assert deadline <= wake < deadline + 100 * ms and not waiting
    pub.close(0)
    sub.close(0)
    ctx.term()
