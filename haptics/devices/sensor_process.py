"""The driver process of a sense-only device (a tactile array): publishes its declared
streams, takes no command.

One XPUB per declared stream (waiting for the recorder first, so it sees frame 1). Every
message is checked against its stream's layout before it is published: one of the wrong
size, kind or version is dropped and counted (`bad`), one with a non-finite value is
published as it came and counted (`not_finite`); a driver call that raises a HapticsError is
counted (`errors`) and the stream goes on. Nothing a sensor sends can reach the force path:
this process has no socket to the loop's input.

Scheduling: it stays off the loop's CPU (`cpus`) and, with `nice` below 0 (a session asks for
-10 when it runs real-time), it is woken ahead of the recorder and the camera that share that
CPU, so a frame due every few milliseconds is made on time even when the camera keeps the CPU
busy. It still cannot starve them (a nice level is a weight, not a real-time priority); what
it takes is what its frames cost (the simulated 16×16 array at 200 Hz: about a quarter of a
core of the 2-core development machine, most of it caches gone cold between frames).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from pydantic import BaseModel

from haptics.devices.device import SensorDevice
from haptics.devices.registry import make_device
from haptics.errors import DeviceError, HapticsError
from haptics.process import child_setup, keep_off_loop_cpu, zmq_context
from haptics.wire.control import SENSOR_COMMANDS, ControlServer
from haptics.wire.messages import Layout
from haptics.wire.transport import publisher, wait_for_subscribers

SILENT_S = 0.5  # no message for this long while streaming: reported silent


class SensorProcessConfig(BaseModel):
    device: str
    control: str  # the control endpoint
    streams: dict[str, str]  # declared stream name → its publish endpoint
    inputs: dict[str, str]  # the session's endpoints the device may subscribe to
    scene: dict[str, Any] = {}
    subscribers: int = 1  # per stream, to wait for before streaming
    stream_subscribers: dict[str, int] = {}  # a stream that waits for another count (camera)
    start_timeout_s: float = 20.0
    cpus: set[int] | None = None
    nice: int = 0  # below 0: woken ahead of the recorder and camera on the shared CPUs


def message_problem(layout: Layout, msg: bytes) -> str | None:
    """'bad' for bytes that are not one message of `layout`, 'not_finite' for one holding a
    NaN or infinity, None for a good one."""
    if len(msg) != layout.size or msg[0] != layout.kind or msg[1] != layout.version:
        return "bad"
    if layout.has_arrays or any(t[0] == "f" for t in (f[1] for f in layout.fields)):
        rec = np.frombuffer(msg, layout.dtype)
        for name in layout.names:
            col = rec[name]
            if col.dtype.base.kind == "f" and not np.isfinite(col).all():
                return "not_finite"
    return None


def set_nice(nice: int) -> str | None:
    """Best effort: make this process's nice level `nice`; a message saying why not, if refused."""
    if nice == 0:
        return None
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        return None
    except (AttributeError, OSError) as exc:
        return f"nice {nice} not permitted ({exc}); the sensor runs at normal priority"


def run_sensor_process(cfg: SensorProcessConfig) -> None:
    """Entry point of a sense-only device's process (multiprocessing target).

    Raises HapticsError when the device cannot be made or opened (the caller reports it),
    or when the spec names a device that takes force.
    """
    stop = child_setup("haptics-sensor")
    keep_off_loop_cpu(cfg.cpus)
    refused = set_nice(cfg.nice)  # before any thread exists: ZeroMQ's I/O threads inherit it
    ctx = zmq_context()
    ctl = ControlServer(ctx, cfg.control, SENSOR_COMMANDS)  # pings answered while it imports
    try:
        device = make_device(cfg.device)
    except BaseException:
        ctl.close()
        ctx.term()
        raise
    if not isinstance(device, SensorDevice):
        ctl.close()
        ctx.term()
        raise DeviceError(
            f"'{cfg.device}' takes force commands: run it as the session's --device, not as "
            "a second (sense-only) device"
        )
    schema = device.schema(device.argument)
    layouts = {d.name: Layout.from_spec(d.layout) for d in schema.streams}
    pubs = {name: publisher(ctx, cfg.streams[name]) for name in layouts}
    counts: dict[str, dict[str, int]] = {
        n: {"published": 0, "bad": 0, "not_finite": 0} for n in layouts
    }
    stats: dict[str, Any] = {
        "streaming": False, "errors": 0, "last_error": "", "silent": False, "nice": os.nice(0),
    }  # fmt: skip
    if refused:
        stats["nice_refused"] = refused
    info: dict[str, Any] = {}
    final: dict[str, Any] | None = None

    def answer(timeout_ms: int) -> bool:
        """Answer one control request; True when asked to stop."""
        nonlocal final
        req = ctl.poll(timeout_ms)
        if req is None:
            return False
        cmd = req["cmd"]
        report = {"ok": True, **stats, "streams": counts, "device": device.stats()}
        if cmd == "ping":
            ctl.reply({"ok": True, "streaming": stats["streaming"]})
        elif cmd == "info":
            ctl.reply({"ok": True, "info": info, "schema": schema.model_dump()})
        elif cmd == "stats":
            ctl.reply(report)
        elif cmd == "stop":
            final = report
            return True
        return False

    try:
        device.attach(cfg.inputs, cfg.scene)
        info.update(device.open().model_dump())
        device.start()
        for name, sock in pubs.items():
            wanted = cfg.stream_subscribers.get(name, cfg.subscribers)
            done = wait_for_subscribers(
                sock, wanted, cfg.start_timeout_s, lambda: answer(5) or stop.set
            )
            if done is None:
                return
        stats["streaming"] = True
        last_msg = time.monotonic()
        while not stop.set:
            if answer(0):
                break
            try:
                messages = device.read_messages(0.005)
            except HapticsError as exc:
                stats["errors"] += 1
                stats["last_error"] = str(exc)
                time.sleep(0.005)
                messages = []
            now = time.monotonic()
            if messages:
                last_msg = now
            stats["silent"] = now - last_msg > SILENT_S
            for name, msg in messages:
                layout = layouts.get(name)
                if layout is None:
                    stats["errors"] += 1
                    stats["last_error"] = f"a message for undeclared stream '{name}'"
                    continue
                problem = message_problem(layout, msg)
                c = counts[name]
                if problem == "bad":
                    c["bad"] += 1
                    continue
                if problem == "not_finite":
                    c["not_finite"] += 1
                pubs[name].send(msg)
                c["published"] += 1
    finally:
        device.close()
        if final is not None:
            final["streaming"] = False
            ctl.reply(final)
        for sock in pubs.values():
            sock.close(200)
        ctl.close()
        ctx.term()
