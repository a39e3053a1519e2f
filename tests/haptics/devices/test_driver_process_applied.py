"""The driver process keeps the force `write()` returned (what the device applied), for the
samples of devices that do not report it themselves; the driver watchdog's zero counts too.
Real ZeroMQ sockets and the real simulated driver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from haptics.devices.device import ZERO, Vec3
from haptics.devices.process import CommandApplier
from haptics.devices.registry import make_device
from haptics.wire.messages import COMMAND, FLAG_ARMED
from haptics.wire.transport import publisher, subscriber, wait_for_subscribers


@pytest.fixture
def link(tmp_path: Path) -> Iterator[tuple[zmq.Socket[bytes], CommandApplier]]:
    """A command publisher and an applier on an armed simulated device, connected."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    endpoint = f"ipc://{tmp_path}/command"
    pub = publisher(ctx, endpoint)
    device = make_device("simulated:1")  # found through its entry point, like the process
    device.open()
    device.arm()
    applier = CommandApplier(device, subscriber(ctx, endpoint, conflate=True), watchdog_ms=30.0)
    assert wait_for_subscribers(pub, 1, 5.0, lambda: False) is not None
    applier.thread.start()
    try:
        yield pub, applier
    finally:
        applier.stop()
        device.close()
        applier.sock.close(0)
        pub.close(0)
        ctx.term()


def _until(applier: CommandApplier, seq: int) -> None:
    end = time.monotonic() + 2.0
    while applier.cmd_seq != seq and time.monotonic() < end:
        time.sleep(0.001)
    assert applier.cmd_seq == seq


def test_applied_force_is_what_write_returned(
    link: tuple[zmq.Socket[bytes], CommandApplier],
) -> None:
    pub, applier = link
    assert applier.applied_force == ZERO  # nothing applied yet
    pub.send(COMMAND.make(seq=1, state_seq=1, fz=2.5, flags=FLAG_ARMED))
    _until(applier, 1)
    assert applier.applied_force == (0.0, 0.0, 2.5)
    pub.send(COMMAND.make(seq=2, state_seq=2, fz=50.0, flags=FLAG_ARMED))
    _until(applier, 2)
    limit = applier.device.schema().max_force_n
    assert applier.applied_force == (0.0, 0.0, limit)  # the device's clamp, not the ask
    pub.send(COMMAND.make(seq=3, state_seq=3, fz=2.0))  # not armed: the device applies zero
    _until(applier, 3)
    assert applier.applied_force == ZERO


def test_the_driver_watchdog_zero_is_recorded_as_applied(
    link: tuple[zmq.Socket[bytes], CommandApplier],
) -> None:
    pub, applier = link
    pub.send(COMMAND.make(seq=1, state_seq=1, fx=1.0, flags=FLAG_ARMED))
    _until(applier, 1)
    assert applier.applied_force == (1.0, 0.0, 0.0)
    time.sleep(0.05)  # the loop goes quiet for longer than the 30 ms watchdog
    assert applier.check_watchdog(time.monotonic_ns())
    zero: Vec3 = ZERO
    assert applier.applied_force == zero
