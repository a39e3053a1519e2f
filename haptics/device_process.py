"""The driver process: owns one device, publishes every sample, applies the newest command.

Runs any `Device`. State goes out on an XPUB that first waits for the session's subscribers
(so the recorder sees sample 1). Commands arrive on a conflated SUB: only the newest matters.
Driver watchdog: if the loop goes quiet for `watchdog_ms` while armed, force goes to zero here,
whatever the loop does, and the samples carry STATUS_WATCHDOG until commands resume.
"""

from __future__ import annotations

import time
from typing import Any

import zmq
from pydantic import BaseModel

from haptics.control import ControlServer
from haptics.device import ZERO, Device, Lifecycle
from haptics.errors import HapticsError
from haptics.messages import COMMAND, FLAG_ARMED, STATE, STATUS_WATCHDOG
from haptics.process import child_setup, keep_off_loop_cpu
from haptics.registry import load_driver, split_device_spec
from haptics.transport import drain_subscriptions, publisher, subscriber


class DeviceProcessConfig(BaseModel):
    device: str = "simulated"
    endpoints: dict[str, str]
    subscribers: int = 1  # state subscribers to wait for before streaming
    watchdog_ms: float = 50.0  # loop silent this long while armed → zero force
    start_timeout_s: float = 20.0
    session_duration_s: float | None = None
    cpus: set[int] | None = None  # CPUs to stay on (off the loop's CPU)


def make_device(spec: str) -> Device:
    """Instantiate the driver named in `spec` ('name' or 'name:argument')."""
    name, argument = split_device_spec(spec)
    device: Device = load_driver(name)(argument)
    return device


def run_device_process(cfg: DeviceProcessConfig) -> None:
    """Entry point of the driver process (multiprocessing target)."""
    stop = child_setup("haptics-device")
    keep_off_loop_cpu(cfg.cpus)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctl = ControlServer(ctx, cfg.endpoints["ctl-device"])
    device = make_device(cfg.device)
    info = device.open()
    pub = publisher(ctx, cfg.endpoints["state"])
    commands = subscriber(ctx, cfg.endpoints["command"], conflate=True)
    stats: dict[str, Any] = {
        "published": 0,
        "commands": 0,
        "bad_commands": 0,
        "watchdog_trips": 0,
        "last_seq": 0,
        "streaming": False,
    }
    subscribers = 0
    try:
        # wait for the session's subscribers, answering control meanwhile
        give_up = time.monotonic() + cfg.start_timeout_s
        while subscribers < cfg.subscribers and not stop.set:
            subscribers += drain_subscriptions(pub)
            req = ctl.poll(5)
            if req is not None and _handle(req, ctl, device, stats, info.model_dump()):
                return
            if time.monotonic() > give_up:
                raise HapticsError(
                    f"device: {subscribers}/{cfg.subscribers} subscribers after "
                    f"{cfg.start_timeout_s} s"
                )
        device.start(cfg.session_duration_s)
        stats["streaming"] = True
        _stream(cfg, device, pub, commands, ctl, stats, stop, info.model_dump())
    finally:
        device.close()
        for sock in (pub, commands):
            sock.close(linger=500)
        ctl.close()
        ctx.term()


def _stream(
    cfg: DeviceProcessConfig,
    device: Device,
    pub: zmq.Socket[bytes],
    commands: zmq.Socket[bytes],
    ctl: ControlServer,
    stats: dict[str, Any],
    stop: Any,
    info: dict[str, Any],
) -> None:
    watchdog_ns = int(cfg.watchdog_ms * 1e6)
    last_cmd_ns = time.monotonic_ns()
    last_cmd_seq = -1
    tripped = False
    pack = STATE.pack
    n = 0
    while not stop.set:
        sample = device.read(0.05)
        now = time.monotonic_ns()
        if sample is not None:
            status = sample.status | (STATUS_WATCHDOG if tripped else 0)
            p, v, f = sample.position, sample.velocity, sample.force
            pub.send(
                pack(
                    sample.seq,
                    sample.device_time_ns,
                    sample.host_time_ns,
                    p[0],
                    p[1],
                    p[2],
                    v[0],
                    v[1],
                    v[2],
                    f[0],
                    f[1],
                    f[2],
                    sample.buttons,
                    status,
                )
            )
            stats["published"] += 1
            stats["last_seq"] = sample.seq
        try:
            raw = commands.recv(zmq.NOBLOCK)
        except zmq.Again:
            raw = None
        if raw is not None:
            try:
                c = COMMAND.unpack(raw)
            except HapticsError:
                stats["bad_commands"] += 1
                c = None
            if c is not None and c[2] != last_cmd_seq:
                last_cmd_seq = int(c[2])
                last_cmd_ns = now
                stats["commands"] += 1
                tripped = False
                force = (float(c[5]), float(c[6]), float(c[7])) if int(c[8]) & FLAG_ARMED else ZERO
                device.write(force)
        if device.state is Lifecycle.ARMED and not tripped and now - last_cmd_ns > watchdog_ns:
            device.write(ZERO)
            tripped = True
            stats["watchdog_trips"] += 1
        n += 1
        if n % 8 == 0:
            drain_subscriptions(pub)
            req = ctl.poll(0)
            if req is not None and _handle(req, ctl, device, stats, info):
                return


def _handle(
    req: dict[str, Any],
    ctl: ControlServer,
    device: Device,
    stats: dict[str, Any],
    info: dict[str, Any],
) -> bool:
    """Answer one control request; True means stop."""
    cmd = req["cmd"]
    try:
        if cmd == "ping":
            ctl.reply({"ok": True, "streaming": stats["streaming"]})
        elif cmd == "info":
            ctl.reply(
                {"ok": True, "info": info, "schema": device.schema(device.argument).model_dump()}
            )
        elif cmd == "arm":
            device.arm()
            ctl.reply({"ok": True, "state": device.state.value})
        elif cmd == "disarm":
            device.disarm()
            ctl.reply({"ok": True, "state": device.state.value})
        elif cmd == "stats":
            ctl.reply({"ok": True, "state": device.state.value, **stats})
        elif cmd == "stop":
            device.close()
            ctl.reply({"ok": True, **stats})
            return True
        else:
            ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})
    except HapticsError as exc:
        ctl.reply({"ok": False, "error": str(exc)})
    return False
