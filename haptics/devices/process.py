"""The driver process: owns one device, publishes every sample, applies the newest command.

Runs any `Device`. State goes out on an XPUB that first waits for the session's subscribers
(so the recorder sees sample 1). Commands arrive on a conflated SUB and are applied by their
own thread the moment they arrive, not at the next sample: device-to-command latency is then
a fraction of a period. Each state sample echoes the last applied command (its seq, the
sample it answered and the measured latency), as firmware does.

Driver watchdog: if the loop goes quiet for `watchdog_ms` while armed, force goes to zero
here, whatever the loop does; samples carry STATUS_WATCHDOG until commands resume.

What is recorded is what was applied: each sample carries the force the device applied
(afx..afz) beside the one it measured (fx..fz): the device's own report when the sample has one
(`Sample.applied`), else what the latest `write()` returned.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import zmq
from pydantic import BaseModel

from haptics.devices.device import ZERO, Device, Lifecycle, Vec3, plausible
from haptics.devices.registry import make_device
from haptics.errors import HapticsError
from haptics.process import child_setup, keep_off_loop_cpu, make_realtime, zmq_context
from haptics.wire.control import DEVICE_COMMANDS, ControlServer
from haptics.wire.messages import COMMAND, FLAG_ARMED, STATE, STATUS_BAD_SAMPLE, STATUS_WATCHDOG
from haptics.wire.transport import drain_subscriptions, publisher, subscriber, wait_for_subscribers

_RING = 4096  # publish times kept for latency matching (4 s at 1 kHz)
SILENT_MS = 200.0  # no sample for this long: the device is reported silent (lost)


class DeviceProcessConfig(BaseModel):
    device: str = "simulated"
    endpoints: dict[str, str]
    subscribers: int = 1  # state subscribers to wait for before streaming
    watchdog_ms: float = 50.0  # loop silent this long while armed → zero force
    start_timeout_s: float = 20.0
    session_duration_s: float | None = None
    operator_script: list[tuple[float, tuple[float, float, float]]] | None = None
    cpus: set[int] | None = None  # CPUs to stay on (off the loop's CPU)
    realtime_priority: int | None = None  # SCHED_FIFO (best effort), below the loop's


class CommandApplier:
    """Applies force commands on its own thread as they arrive; also the driver watchdog.

    The device is shared with the main thread (reads, arming), so every call that changes
    force goes through `lock`.
    """

    def __init__(self, device: Device, sock: zmq.Socket[bytes], watchdog_ms: float) -> None:
        self.device, self.sock = device, sock
        self.lock = threading.Lock()
        self.watchdog_ns = int(watchdog_ms * 1e6)
        self.ring_seq = [0] * _RING
        self.ring_t = [0] * _RING
        self.cmd_seq = 0
        self.cmd_state_seq = 0
        self.cmd_latency_ns = -1
        self.applied_force: Vec3 = ZERO  # what the latest write() returned
        self.last_cmd_ns = time.monotonic_ns()
        self.tripped = False
        self.trips = 0
        self.applied = 0
        self.bad = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, name="commands", daemon=True)

    def published(self, seq: int, t_ns: int) -> None:
        i = seq % _RING
        self.ring_seq[i], self.ring_t[i] = seq, t_ns

    def _run(self) -> None:
        unpack = COMMAND.unpack
        while self.running:
            if not self.sock.poll(50):
                continue
            raw = self.sock.recv()
            now = time.monotonic_ns()
            try:
                c = unpack(raw)
            except HapticsError:
                self.bad += 1
                continue
            seq, state_seq = int(c[2]), int(c[3])
            if seq == self.cmd_seq:
                continue
            force = (float(c[5]), float(c[6]), float(c[7])) if int(c[8]) & FLAG_ARMED else ZERO
            with self.lock:
                self.applied_force = self.device.write(force)
                self.last_cmd_ns = now
                self.tripped = False
            i = state_seq % _RING
            self.cmd_latency_ns = now - self.ring_t[i] if self.ring_seq[i] == state_seq else -1
            self.cmd_seq, self.cmd_state_seq = seq, state_seq
            self.applied += 1

    def check_watchdog(self, now_ns: int) -> bool:
        """Zero force if the loop has been silent too long while armed; True while tripped."""
        if (
            not self.tripped
            and self.device.state is Lifecycle.ARMED
            and now_ns - self.last_cmd_ns > self.watchdog_ns
        ):
            with self.lock:
                self.applied_force = self.device.write(ZERO)
                self.tripped = True
                self.trips += 1
        return self.tripped

    def stop(self) -> None:
        self.running = False
        if self.thread.is_alive():
            self.thread.join(1.0)


def run_device_process(cfg: DeviceProcessConfig) -> None:
    """Entry point of the driver process (multiprocessing target)."""
    stop = child_setup("haptics-device")
    keep_off_loop_cpu(cfg.cpus)
    sys.setswitchinterval(1e-4)  # hand the GIL to the command thread quickly
    rt = cfg.realtime_priority
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq_context(rt + 5 if rt else None, cfg.cpus)
    ctl = ControlServer(ctx, cfg.endpoints["ctl-device"], DEVICE_COMMANDS)
    device = make_device(cfg.device)
    info = device.open().model_dump()
    pub = publisher(ctx, cfg.endpoints["state"])
    applier = CommandApplier(
        device, subscriber(ctx, cfg.endpoints["command"], conflate=True), cfg.watchdog_ms
    )
    notes: list[str] = []
    if cfg.realtime_priority is not None:  # after the context: its I/O thread stays normal
        msg = make_realtime(cfg.realtime_priority)
        if msg:
            notes.append(msg)
    stats: dict[str, Any] = {
        "published": 0,
        "last_seq": 0,
        "streaming": False,
        "notes": notes,
        "silent": False,  # no sample for SILENT_MS: unplugged, reset, or the emulator died
        "silences": 0,
        "silent_ms": 0.0,
        "bad_samples": 0,  # non-finite or absurd: published with STATUS_BAD_SAMPLE
    }

    def between() -> bool:  # answer control while the session's subscribers connect
        req = ctl.poll(5)
        return stop.set or (req is not None and _handle(req, ctl, applier, stats, info))

    try:
        if wait_for_subscribers(pub, cfg.subscribers, cfg.start_timeout_s, between) is None:
            return
        device.start(cfg.session_duration_s, cfg.operator_script)
        stats["streaming"] = True
        applier.thread.start()
        _stream(device, pub, applier, ctl, stats, stop, info)
    finally:
        applier.stop()
        with applier.lock:
            device.close()
        pub.close(linger=500)
        applier.sock.close(0)
        ctl.close()
        ctx.term()


def _stream(
    device: Device,
    pub: zmq.Socket[bytes],
    applier: CommandApplier,
    ctl: ControlServer,
    stats: dict[str, Any],
    stop: Any,
    info: dict[str, Any],
) -> None:
    pack = STATE.pack
    n = 0
    last_sample_ns = time.monotonic_ns()
    while not stop.set:
        sample = device.read(0.05)
        now = time.monotonic_ns()
        tripped = applier.check_watchdog(now)
        if sample is None:
            silent_ms = (now - last_sample_ns) / 1e6
            if silent_ms > SILENT_MS and not stats["silent"]:
                stats["silent"] = True
                stats["silences"] += 1
            stats["silent_ms"] = round(silent_ms, 1)
        else:
            last_sample_ns = now
            stats["silent"] = False
            p, v, f = sample.position, sample.velocity, sample.force
            a = applier.applied_force if sample.applied is None else sample.applied
            status = sample.status | (STATUS_WATCHDOG if tripped else 0)
            if not plausible(p, v, f) or not plausible(p, v, a):
                status |= STATUS_BAD_SAMPLE
                stats["bad_samples"] += 1
            msg = pack(
                sample.seq, sample.device_time_ns, sample.host_time_ns,
                p[0], p[1], p[2], v[0], v[1], v[2], f[0], f[1], f[2],
                sample.buttons, status,
                applier.cmd_seq, applier.cmd_state_seq, applier.cmd_latency_ns,
                a[0], a[1], a[2],
            )  # fmt: skip
            applier.published(sample.seq, time.monotonic_ns())
            pub.send(msg)
            stats["published"] += 1
            stats["last_seq"] = sample.seq
        n += 1
        if n % 8 == 0:
            drain_subscriptions(pub)
            req = ctl.poll(0)
            if req is not None and _handle(req, ctl, applier, stats, info):
                return


def _handle(
    req: dict[str, Any],
    ctl: ControlServer,
    applier: CommandApplier,
    stats: dict[str, Any],
    info: dict[str, Any],
) -> bool:
    """Answer one control request; True means stop."""
    cmd = req["cmd"]
    device = applier.device
    figures = {
        "commands": applier.applied,
        "bad_commands": applier.bad,
        "watchdog_trips": applier.trips,
    }
    try:
        if cmd == "ping":
            ctl.reply({"ok": True, "streaming": stats["streaming"]})
        elif cmd == "info":
            ctl.reply(
                {"ok": True, "info": info, "schema": device.schema(device.argument).model_dump()}
            )
        elif cmd == "arm":
            with applier.lock:
                device.arm()
                applier.last_cmd_ns = time.monotonic_ns()
            ctl.reply({"ok": True, "state": device.state.value})
        elif cmd == "disarm":
            with applier.lock:
                device.disarm()
                applier.applied_force = ZERO
            ctl.reply({"ok": True, "state": device.state.value})
        elif cmd == "stats":
            ctl.reply({"ok": True, "state": device.state.value, **stats, **figures})
        elif cmd == "stop":
            applier.stop()
            with applier.lock:
                device.close()
            ctl.reply({"ok": True, **stats, **figures})
            return True
        else:
            ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})
    except HapticsError as exc:
        ctl.reply({"ok": False, "error": str(exc)})
    return False
