"""The 1 kHz control loop process.

Each tick: wake at an absolute deadline (sleep, then spin), take the newest device sample,
map it to the tool, ask the scene for contact and tissue force, apply safety, publish the
command and the tick's telemetry. Nothing else happens in a tick: no logging, no dicts, no
pydantic. Missed ticks (VM stalls) are skipped and counted, never caught up in a burst.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import zmq
from pydantic import BaseModel, Field

from haptics.devices.device import Vec3
from haptics.errors import HapticsError
from haptics.loop.clock import next_deadline, phase_correction, quantile_step
from haptics.loop.passivity import PassivityState, passivity_step
from haptics.loop.safety import (
    SAFETY_ESTOP,
    SAFETY_STALE,
    SafetyLimits,
    SafetyPolicy,
    SafetyState,
    command_flags,
    disengage,
    reset_estop,
    safety_step,
)
from haptics.loop.scene import Scene
from haptics.loop.teleop import Mapping, initial_teleop_state, scene_to_device_force, teleop_step
from haptics.plugins import load_scene
from haptics.process import child_setup, make_realtime, pin_to_cpu, quiet_gc, zmq_context
from haptics.wire.control import ControlServer
from haptics.wire.messages import (
    BUTTON_CLUTCH,
    COMMAND,
    EVENT_ESTOP,
    EVENT_OVERRUN,
    EVENT_STALE_INPUT,
    FLAG_ARMED,
    FLAG_BAD_INPUT,
    FLAG_STOPPING,
    STATE,
    STATUS_ARMED,
    STATUS_WATCHDOG,
    TELEMETRY,
)
from haptics.wire.transport import (
    drain_latest,
    drain_subscriptions,
    publisher,
    spin_until,
    subscriber,
    wait_for_subscribers,
)

I32_MAX = 2**31 - 1  # telemetry's int32 timing fields saturate instead of raising


class LoopConfig(BaseModel):
    endpoints: dict[str, str]
    scene: str = "palpation"
    scene_params: dict[str, Any] = Field(default_factory=dict)
    rate_hz: float = Field(1000.0, gt=0)
    safety: SafetyPolicy = Field(default_factory=SafetyPolicy)
    mapping: Mapping = Field(default_factory=Mapping)
    command_subscribers: int = 1
    telemetry_subscribers: int = 0
    # deadline: absolute deadlines, sleep then spin; naive: time.sleep(period), the baseline
    scheduler: Literal["deadline", "naive"] = "deadline"
    phase_lock: bool = True  # slide the grid so ticks follow the device's samples closely
    # grid: tick exactly on the (phase-locked) deadline; arrival: the moment a sample arrives
    # in the spin window before it (the deadline is then a fallback for a late sample)
    tick_on: Literal["grid", "arrival"] = "grid"
    arrival_margin_us: float = 60.0  # arrival: deadline this long after the typical arrival
    late_fraction: float = Field(0.05, gt=0, lt=0.5)  # samples allowed to arrive after the tick
    passivity: bool = True  # time-domain passivity observer + controller on the device port
    passivity_max_damping_ns_per_m: float = Field(20.0, ge=0)
    spin_us: float = 250.0
    cpu: int | None = None  # pin the loop here (best-effort)
    io_cpus: set[int] | None = None  # where its ZeroMQ I/O thread runs (off the loop's CPU)
    realtime_priority: int | None = 80  # SCHED_FIFO priority (best-effort); None: normal
    start_timeout_s: float = 20.0


def make_scene(name: str, params: dict[str, Any]) -> Scene:
    scene: Scene = load_scene(name)(params)
    return scene


def run_loop_process(cfg: LoopConfig) -> None:
    """Entry point of the loop process (multiprocessing target)."""
    stop = child_setup("haptics-loop")
    # the ZeroMQ context (and its I/O thread) exists before any pinning or priority change
    rt = cfg.realtime_priority
    io_cpus = cfg.io_cpus
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq_context(rt + 5 if rt else None, io_cpus)
    ctl = ControlServer(ctx, cfg.endpoints["ctl-loop"])
    scene = make_scene(cfg.scene, cfg.scene_params)
    scene.build()
    states = subscriber(ctx, cfg.endpoints["state"], deep=False)
    commands = publisher(ctx, cfg.endpoints["command"])
    telemetry = publisher(ctx, cfg.endpoints["telemetry"])
    notes: list[str] = []

    def between() -> bool:  # answer control while the session's subscribers connect
        req = ctl.poll(5)
        if req is not None and _answer(req, ctl, scene, {"ready": False}):
            ctl.reply({"ok": True, "ticks": 0})
            return True
        return stop.set

    try:
        for sock, count in (
            (commands, cfg.command_subscribers),
            (telemetry, cfg.telemetry_subscribers),
        ):
            if wait_for_subscribers(sock, count, cfg.start_timeout_s, between) is None:
                return
        if cfg.cpu is not None:
            msg = pin_to_cpu(cfg.cpu)
            if msg:
                notes.append(msg)
        if cfg.realtime_priority is not None:
            msg = make_realtime(cfg.realtime_priority)
            if msg:
                notes.append(msg)
        _run_ticks(cfg, scene, states, commands, telemetry, ctl, stop, notes)
    finally:
        scene.close()
        for s in (states, commands, telemetry):
            s.close(linger=500)
        ctl.close()
        ctx.term()


def _run_ticks(
    cfg: LoopConfig,
    scene: Scene,
    states: zmq.Socket[bytes],
    commands: zmq.Socket[bytes],
    telemetry: zmq.Socket[bytes],
    ctl: ControlServer,
    stop: Any,
    notes: list[str],
) -> None:
    period = round(1e9 / cfg.rate_hz)
    dt = period / 1e9
    mapping = cfg.mapping
    limits = SafetyLimits.from_policy(cfg.safety)
    safety = SafetyState()
    estop_requested = False
    pc = PassivityState()
    pc_on, pc_max_b = cfg.passivity, cfg.passivity_max_damping_ns_per_m
    alpha = energy = 0.0
    dev_pos: Vec3 = (0.0, 0.0, 1.0)
    dev_vel: Vec3 = (0.0, 0.0, 0.0)
    applied: Vec3 = (0.0, 0.0, 0.0)
    buttons = 0
    unpack_state, pack_cmd, pack_tel = STATE.unpack, COMMAND.pack, TELEMETRY.pack
    stats: dict[str, Any] = {
        "ready": True,
        "ticks": 0,
        "missed_ticks": 0,
        "bad_input": 0,
        "notes": notes,
    }
    teleop = initial_teleop_state(mapping)
    tool = (0.0, 0.0, 1.0)
    tool_vel = (0.0, 0.0, 0.0)
    last_seq = 0
    sample_ns = time.monotonic_ns()  # host time of the newest sample (its age is the input age)
    was_stale = was_estop = False
    tick = 0
    missed_total = 0
    stop_requested = False
    naive = cfg.scheduler == "naive"
    lock = cfg.phase_lock and not naive
    spin_ns = int(cfg.spin_us * 1000)
    on_arrival = cfg.tick_on == "arrival"
    margin_ns = int(cfg.arrival_margin_us * 1000)
    max_step_ns = 5_000
    down_ns = max(1, int(max_step_ns * cfg.late_fraction / (1.0 - cfg.late_fraction)))
    lag_ns = 0
    if not naive:
        quiet_gc()
    deadline = time.monotonic_ns() + period
    wake = deadline - period
    while True:
        if naive:
            time.sleep(period / 1e9)  # the baseline: what a naive loop does
            deadline = wake + period
            wake = time.monotonic_ns()
            arrival = None
        else:
            wake, arrival = spin_until(deadline, states, spin_ns, on_arrival)
        tick_deadline = deadline
        flags = FLAG_ARMED
        events = 0
        fresh: int | None = None
        raw, _ = drain_latest(states)
        if raw is not None:
            try:
                s = unpack_state(raw)
                seq = int(s[2])
                if seq > last_seq and all(map(math.isfinite, s[5:11])):
                    dev_pos, dev_vel = (s[5], s[6], s[7]), (s[8], s[9], s[10])
                    applied, buttons = (s[11], s[12], s[13]), int(s[14])
                    sample_ns = int(s[4])
                    status = int(s[15])
                    if status & STATUS_WATCHDOG or not status & STATUS_ARMED:
                        # the device holds zero force on its own: re-engage from zero
                        safety = disengage(safety)
                    teleop, tool, tool_vel = teleop_step(
                        mapping, teleop, dev_pos, dev_vel, bool(buttons & BUTTON_CLUTCH)
                    )
                    last_seq = seq
                    fresh = lag_ns = wake - sample_ns
                elif seq > last_seq:
                    flags |= FLAG_BAD_INPUT
                    stats["bad_input"] += 1
            except HapticsError:
                flags |= FLAG_BAD_INPUT
                stats["bad_input"] += 1
        t_input = time.monotonic_ns()
        c = scene.step(tool, tool_vel, dt)
        t_scene = time.monotonic_ns()
        rendered = force = scene_to_device_force(mapping, c.force)
        if pc_on:
            pc, force, alpha, energy, _ = passivity_step(pc, force, dev_vel, dt, applied, pc_max_b)
        estop = estop_requested or bool(buttons & limits.estop_buttons)
        safety, force, sbits = safety_step(
            limits, safety, force, dev_pos, dev_vel, wake - sample_ns, wake, estop
        )
        flags |= command_flags(sbits)
        stale = bool(sbits & SAFETY_STALE)
        if stale and not was_stale:
            events |= EVENT_STALE_INPUT
        was_stale = stale
        if sbits & SAFETY_ESTOP and not was_estop:
            events |= EVENT_ESTOP
        was_estop = bool(sbits & SAFETY_ESTOP)
        if stop.set:
            flags = FLAG_STOPPING
            force = (0.0, 0.0, 0.0)
        commands.send(
            pack_cmd(tick + 1, last_seq, time.monotonic_ns(), force[0], force[1], force[2], flags)
        )
        done = time.monotonic_ns()
        if lock:
            if on_arrival:  # keep the deadline `margin` after the arrivals
                lag = None if arrival is None else deadline - arrival
                deadline += phase_correction(lag, margin_ns, period, 0.05, max_step_ns)
            else:
                # Track the arrival quantile so ~late_fraction of samples come after the tick.
                # Late: none arrived in the spin window and none fresher than half a period.
                late = arrival is None and (fresh is None or fresh > period // 2)
                deadline += quantile_step(late, max_step_ns, down_ns)
        nxt, missed = (deadline, 0) if naive else next_deadline(deadline, period, done)
        if missed:
            events |= EVENT_OVERRUN
            missed_total += missed
        telemetry.send(
            pack_tel(
                tick,
                last_seq,
                tick_deadline,
                wake,
                min(done - wake, I32_MAX),
                min(t_input - wake, I32_MAX),
                min(t_scene - t_input, I32_MAX),
                min(lag_ns, I32_MAX),
                missed,
                tool[0],
                tool[1],
                tool[2],
                c.contact,
                c.layer,
                c.inclusion,
                c.depth_m,
                c.tissue_force_n,
                rendered[0],
                rendered[1],
                rendered[2],
                force[0],
                force[1],
                force[2],
                events | c.events,
                flags,
                sbits,
                energy,
                alpha,
                pc.dissipated_j,
            )
        )
        tick += 1
        if stop.set:
            stats["ticks"], stats["missed_ticks"] = tick, missed_total
            if stop_requested:
                ctl.reply({"ok": True, **stats})
            return
        if tick & 15 == 0:
            drain_subscriptions(commands)
            drain_subscriptions(telemetry)
            req = ctl.poll(0)
            if req is not None:
                stats["ticks"], stats["missed_ticks"] = tick, missed_total
                if req["cmd"] == "estop":  # latches: zero force until reset_estop
                    estop_requested = True
                    ctl.reply({"ok": True, "estop": True})
                elif req["cmd"] == "reset_estop":  # force re-engages like at start-up
                    estop_requested = False
                    safety = reset_estop(safety)
                    ctl.reply({"ok": True, "estop": False})
                elif _answer(req, ctl, scene, stats):
                    stop.set = True  # one more tick sends zero force with FLAG_STOPPING
                    stop_requested = True
        deadline = nxt


def _answer(req: dict[str, Any], ctl: ControlServer, scene: Scene, stats: dict[str, Any]) -> bool:
    """Answer one control request; True means stop."""
    cmd = req["cmd"]
    if cmd == "ping":
        ctl.reply({"ok": True, "ready": stats.get("ready", False)})
    elif cmd == "info":
        ctl.reply({"ok": True, "scene": scene.describe()})
    elif cmd == "stats":
        ctl.reply({"ok": True, **stats})
    elif cmd == "stop":
        return True  # answered after the final zero-force tick
    else:
        ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})
    return False
