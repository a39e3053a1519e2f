"""The 1 kHz control loop process.

Each tick: wake at an absolute deadline (sleep, then spin), take the newest device sample,
map it to the tool, ask the scene for contact and tissue force, apply safety, publish the
command and the tick's telemetry. Nothing else happens in a tick: no logging, no dicts, no
pydantic. Missed ticks (VM stalls) are skipped and counted, never caught up in a burst.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import zmq
from pydantic import BaseModel, Field

from haptics.loop.clock import arrival_step, next_deadline, quantile_step
from haptics.loop.safety import SafetyPolicy
from haptics.loop.scene import Scene, make_scene
from haptics.loop.teleop import Mapping
from haptics.loop.tick import (
    CONTROL_ESTOP,
    CONTROL_STOPPING,
    SAMPLE_NEW,
    TickParams,
    TickState,
    after_estop_reset,
    initial_state,
    tick,
)
from haptics.process import child_setup, make_realtime, pin_to_cpu, quiet_gc, zmq_context
from haptics.wire.control import LOOP_COMMANDS, ControlServer
from haptics.wire.messages import COMMAND, EVENT_OVERRUN, TELEMETRY
from haptics.wire.transport import (
    drain_latest,
    drain_subscriptions,
    publisher,
    spin_until,
    subscriber,
    wait_for_subscribers,
)

I32_MAX = 2**31 - 1  # telemetry's int32 timing fields saturate instead of raising
# At most this many state messages are read per tick: a flood cannot starve the tick; the rest
# wait (the subscriber's queue is bounded) and the skipped ones are counted.
MAX_DRAIN = 64
# Ticking on arrival, the deadline moves at most 5 µs a tick while it tracks the arrivals,
# and by this much while the arrivals fall outside its window (clock.arrival_step).
ARRIVAL_CATCH_UP_NS = 25_000


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
    # in the spin window around it (from spin_us before to half a period after: a tick
    # without a sample comes only when none has come by then)
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


def run_loop_process(cfg: LoopConfig) -> None:
    """Entry point of the loop process (multiprocessing target)."""
    stop = child_setup("haptics-loop")
    # the ZeroMQ context (and its I/O thread) exists before any pinning or priority change
    rt = cfg.realtime_priority
    io_cpus = cfg.io_cpus
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq_context(rt + 5 if rt else None, io_cpus)
    ctl = ControlServer(ctx, cfg.endpoints["ctl-loop"], LOOP_COMMANDS)
    # sockets first: the device and the recorder connect and subscribe while the scene builds
    # (a slow build must not run out their wait for subscribers)
    states = subscriber(ctx, cfg.endpoints["state"], deep=False)
    commands = publisher(ctx, cfg.endpoints["command"])
    telemetry = publisher(ctx, cfg.endpoints["telemetry"])
    try:
        scene = make_scene(cfg.scene, cfg.scene_params)
        scene.build()
    except BaseException:
        for s in (states, commands, telemetry):
            s.close(0)
        ctl.close()
        ctx.term()
        raise
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
    """Schedule ticks and move bytes; what a tick computes is `haptics.loop.tick.tick`."""
    params = TickParams.make(
        cfg.rate_hz, cfg.safety, cfg.mapping, cfg.passivity, cfg.passivity_max_damping_ns_per_m
    )
    period = params.period_ns
    state = initial_state(params)
    control = 0
    pack_cmd, pack_tel = COMMAND.pack, TELEMETRY.pack
    clock = time.monotonic_ns
    scene_step = scene.step
    stats: dict[str, Any] = {
        "ready": True,
        "ticks": 0,
        "missed_ticks": 0,
        "bad_input": 0,
        "input_skipped": 0,
        "seq_restarts": 0,
        "notes": notes,
    }
    skipped = 0
    tick_no = 0
    missed_total = 0
    stop_requested = False
    naive = cfg.scheduler == "naive"
    lock = cfg.phase_lock and not naive
    spin_ns = int(cfg.spin_us * 1000)
    on_arrival = cfg.tick_on == "arrival"
    margin_ns = int(cfg.arrival_margin_us * 1000)
    # ticking on arrival, a late sample is waited for up to half a period past the deadline
    grace_ns = period // 2 if on_arrival else 0
    max_step_ns = 5_000
    down_ns = max(1, int(max_step_ns * cfg.late_fraction / (1.0 - cfg.late_fraction)))
    if not naive:
        quiet_gc()
    deadline = clock() + period
    wake = deadline - period
    while True:
        if naive:
            time.sleep(period / 1e9)  # the baseline: what a naive loop does
            deadline = wake + period
            wake = clock()
            arrival, waiting = None, False
        else:
            wake, arrival, waiting = spin_until(deadline, states, spin_ns, on_arrival, grace_ns)
        tick_deadline = deadline
        raw, n = drain_latest(states, MAX_DRAIN)
        if n > 1:
            skipped += n - 1
        if stop.set:
            control |= CONTROL_STOPPING
        state, out = tick(params, state, raw, wake, scene_step, clock, control)
        force = out.force
        commands.send(pack_cmd(tick_no + 1, state.seq, clock(), force[0], force[1], force[2],
                               out.flags))
        done = clock()
        if lock:
            if on_arrival:  # keep the deadline `margin` after the arrivals
                lag = None if arrival is None else deadline - arrival
                deadline += arrival_step(
                    lag, waiting, out.input_lag_ns, margin_ns, period, 0.05, max_step_ns,
                    ARRIVAL_CATCH_UP_NS,
                )  # fmt: skip
            else:
                # Track the arrival quantile so ~late_fraction of samples come after the tick.
                # Late: none arrived in the spin window and none fresher than half a period.
                fresh = out.verdict == SAMPLE_NEW and out.input_lag_ns <= period // 2
                deadline += quantile_step(arrival is None and not fresh, max_step_ns, down_ns)
        nxt, missed = (deadline, 0) if naive else next_deadline(deadline, period, done)
        events = out.events
        if missed:
            events |= EVENT_OVERRUN
            missed_total += missed
        c, rendered = out.contact, out.rendered
        telemetry.send(
            pack_tel(
                tick_no,
                state.seq,
                tick_deadline,
                wake,
                min(done - wake, I32_MAX),
                min(out.input_done_ns - wake, I32_MAX),
                min(out.scene_done_ns - out.input_done_ns, I32_MAX),
                out.input_lag_ns,
                missed,
                state.tool[0],
                state.tool[1],
                state.tool[2],
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
                events,
                out.flags,
                out.safety,
                out.energy_j,
                out.alpha,
                out.dissipated_j,
            )
        )
        tick_no += 1
        if control & CONTROL_STOPPING:
            _fill_stats(stats, tick_no, missed_total, state, skipped)
            if stop_requested:
                ctl.reply({"ok": True, **stats})
            return
        if tick_no & 15 == 0:
            drain_subscriptions(commands)
            drain_subscriptions(telemetry)
            req = ctl.poll(0)
            if req is not None:
                _fill_stats(stats, tick_no, missed_total, state, skipped)
                if req["cmd"] == "estop":  # latches: zero force until reset_estop
                    control |= CONTROL_ESTOP
                    ctl.reply({"ok": True, "estop": True})
                elif req["cmd"] == "reset_estop":  # force re-engages like at start-up
                    control &= ~CONTROL_ESTOP
                    state = after_estop_reset(state)
                    ctl.reply({"ok": True, "estop": False})
                elif _answer(req, ctl, scene, stats):
                    stop.set = True  # one more tick sends zero force with FLAG_STOPPING
                    stop_requested = True
        deadline = nxt


def _fill_stats(
    stats: dict[str, Any], ticks: int, missed: int, state: TickState, skipped: int
) -> None:
    stats["ticks"], stats["missed_ticks"] = ticks, missed
    stats["bad_input"], stats["seq_restarts"] = state.bad_input, state.restarts
    stats["input_skipped"] = skipped


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
