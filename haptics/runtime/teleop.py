"""Teleoperation across machines: the operator's host and the follower's host, one link between.

Each host runs an ordinary local session over ipc plus one small bridge, the *link*, between
that session and a ZeroMQ tcp connection authenticated and encrypted with CurveZMQ
(`haptics.wire.curve`; there is no plain mode):

    operator host                                         follower host
    device process ─state→ operator link ══LEADER══►  follower link ─state→ loop (scene) ─┐
                  ←command─  (leader port)  ◄══FOLLOWER══ (follower port) ←command──────┘
                                                          recorder: state, command, telemetry

* The follower binds (a ROUTER, CurveZMQ server: only public keys in its authorized folder get
  in); the operator connects (a DEALER, CurveZMQ client that must know the follower's public
  key). A refused handshake stops the operator at start with the reason (`handshake_result`).
* The operator link sends every device sample with its time-domain passivity energy
  (`haptics.runtime.link_ports.leader_tick`) and shows the follower's force through the leader
  port's damper, a 30 ms watchdog (force zero and the reason in its stats) and a ramp back.
* The follower link republishes each sample to its loop as a STATE whose position is the
  passivity-limited reference (`follower_tick`), `device_time_ns` the operator's clock at
  send, `host_time_ns` its own on receipt and `cmd_latency_ns` the link's round trip, so the
  recorded state stream relates the two clocks (`haptics.session.clock.link_clock`).
  Link down: every tick it publishes the last reference again, still, marked
  `STATUS_LINK_HELD` (the loop holds the tool and keeps rendering its contact; the operator's
  side has zeroed force); back up: the reference moves on from where it held (what the leader
  did meanwhile is not replayed, no faster than `LinkParams.max_speed_m_per_s`), and the
  operator's ramp brings force back.
* Both links count malformed and replayed messages and ignore them (`accept_link`).
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import math
import multiprocessing as mp
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Final

import zmq
from pydantic import BaseModel, ConfigDict, Field

from haptics.devices.device import ZERO, Vec3
from haptics.devices.process import DeviceProcessConfig, run_device_process
from haptics.devices.registry import load_driver, split_device_spec
from haptics.errors import HapticsError, RunError
from haptics.loop.process import LoopConfig, run_loop_process
from haptics.loop.safety import SafetyPolicy
from haptics.loop.scene import load_scene
from haptics.loop.teleop import Mapping
from haptics.process import child_setup, make_realtime, zmq_context
from haptics.runtime.link_ports import (
    FollowerState,
    LeaderState,
    LinkParams,
    Ports,
    energies,
    follower_keepalive,
    follower_tick,
    leader_take,
    leader_tick,
)
from haptics.runtime.orchestrator import (
    CHILD_ERROR_EXIT,
    check_record_dir,
    check_scene,
    child_error_path,
    new_session_dir,
    run_child,
)
from haptics.session.manifest import Manifest
from haptics.session.recorder import RecorderConfig, run_recorder_process
from haptics.wire import control
from haptics.wire.control import ControlServer
from haptics.wire.curve import (
    handshake_result,
    load_keys,
    load_public,
    require_curve,
    secure_client,
    secure_server,
    start_authenticator,
    watch_handshake,
)
from haptics.wire.link import FOLLOWER, LEADER, LINK_BAD, LINK_NEW, LINK_REPLAY, accept_link
from haptics.wire.messages import COMMAND, FLAG_STOPPING, STATE, STATUS_LINK_HELD
from haptics.wire.transport import (
    check_bind_allowed,
    drain_latest,
    drain_subscriptions,
    ipc_endpoints,
    publisher,
    subscriber,
    wait_for_subscribers,
)

LINK_COMMANDS: Final = frozenset({"ping", "info", "stats", "stop"})
MAX_LINK_MESSAGE: Final = 1024  # bytes; ZeroMQ drops anything larger unread
MAX_LINK_DRAIN: Final = 256  # link messages read per tick: a flood cannot stall the tick
LINK_HWM: Final = 100  # messages queued per direction (100 ms at 1 kHz): no stale backlog
_MAX_EVENTS: Final = 50  # link events kept in the stats
_MAX_TRACE: Final = 37_500  # energy samples kept (every 16 ticks: 10 minutes at 1 kHz)


class LinkConfig(BaseModel):
    """One side's link process. Endpoints: the local session's "state", "command" and
    "ctl-link"; `peer`: tcp://host:port to bind (follower) or connect to (operator)."""

    model_config = ConfigDict(allow_inf_nan=False)

    endpoints: dict[str, str]
    peer: str
    keys: Path  # our `.key_secret`
    peer_key: Path | None = None  # operator: the follower's public `.key`
    authorized: Path | None = None  # follower: folder of accepted public keys
    subscribers: int = 1  # local subscribers to wait for before streaming
    rate_hz: float = Field(1000.0, ge=50.0, le=10_000.0)
    watchdog_ms: float = Field(30.0, gt=0, le=1000.0)
    ramp_ms: float = Field(250.0, ge=0, le=10_000.0)
    max_damping_ns_per_m: float = Field(20.0, ge=0)
    # the share of its unsent energy the leader port keeps each tick (`bilateral.send`)
    leader_keep: float = Field(LinkParams._field_defaults["leader_keep"], ge=0.0, lt=1.0)
    passivity: bool = True
    connect_timeout_s: float = Field(10.0, gt=0, le=600.0)
    start_timeout_s: float = 20.0
    realtime_priority: int | None = 75  # SCHED_FIFO (best effort), between device and loop

    def params(self) -> LinkParams:
        return LinkParams(
            dt_s=1.0 / self.rate_hz,
            watchdog_ns=int(self.watchdog_ms * 1e6),
            ramp_ns=int(self.ramp_ms * 1e6),
            max_damping_ns_per_m=self.max_damping_ns_per_m,
            leader_keep=self.leader_keep,
            passivity=self.passivity,
        )


def _link_socket(ctx: zmq.Context[Any], kind: int) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_LINK_MESSAGE)
    sock.setsockopt(zmq.SNDHWM, LINK_HWM)
    sock.setsockopt(zmq.RCVHWM, 10 * LINK_HWM)
    return sock


def _wait(sock: zmq.Socket[bytes], deadline_ns: int) -> None:
    """Sleep until a message waits on `sock` or the deadline passes: a link ticks when its
    input arrives (the device's sample, the leader's message), the deadline is the fallback
    (two links on a loaded 2-core host must not spin)."""
    left_ms = (deadline_ns - time.monotonic_ns()) / 1e6
    if left_ms > 0 and not int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
        sock.poll(math.ceil(left_ms))


def _trace_energy(trace: list[list[float]], now_ns: int, ports: Ports) -> None:
    """Every 16th tick: [host ns, energy in, energy out] at this port, summed over the axes
    (J); the stop reply carries it (`energy_trace`), so a caller holding both sides' traces
    can tell what the network generated. Oldest dropped past 10 minutes."""
    trace.append([float(now_ns), ports[0].e_in + ports[1].e_in + ports[2].e_in,
                  ports[0].e_out + ports[1].e_out + ports[2].e_out])  # fmt: skip
    if len(trace) > _MAX_TRACE:
        del trace[: len(trace) - _MAX_TRACE]


def _note(stats: dict[str, Any], event: dict[str, Any]) -> None:
    events: list[dict[str, Any]] = stats["events"]
    events.append(event)
    del events[:-_MAX_EVENTS]


# -- the operator's link -------------------------------------------------------------------------
def run_operator_link(cfg: LinkConfig) -> None:
    """Entry point of the operator's link process (multiprocessing target).

    SIGUSR1 prints where it is (faulthandler), for a link that seems stuck.

    Raises HapticsError (its message shown to the operator) when the keys cannot be read or
    the follower refuses the handshake, saying why.
    """
    stop = child_setup("haptics-oplink")
    faulthandler.register(signal.SIGUSR1)
    require_curve()
    if cfg.peer_key is None:
        raise HapticsError("the operator needs the follower's public key (--follower-key)")
    own, server = load_keys(cfg.keys), load_public(cfg.peer_key)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq_context()
    link = _link_socket(ctx, zmq.DEALER)
    link.setsockopt(zmq.IMMEDIATE, 1)  # queue nothing for a connection that is not up
    secure_client(link, own, server)
    monitor = watch_handshake(link)
    link.connect(cfg.peer)
    why = handshake_result(monitor, cfg.connect_timeout_s)
    link.disable_monitor()  # its reader is closed: nothing may queue events for it
    if why is not None:
        link.close(0)
        ctx.term()
        raise HapticsError(f"cannot join the follower at {cfg.peer}: {why}")
    ctl = ControlServer(ctx, cfg.endpoints["ctl-link"], LINK_COMMANDS)
    states = subscriber(ctx, cfg.endpoints["state"], deep=False)
    commands = publisher(ctx, cfg.endpoints["command"])
    stats: dict[str, Any] = {
        "ready": False, "ticks": 0, "up": False, "drops": 0, "received": 0, "bad": 0,
        "replayed": 0, "sent": 0, "unsent": 0, "force": [0.0, 0.0, 0.0], "events": [],
        "peer": cfg.peer,
        "notes": [m for m in [cfg.realtime_priority and make_realtime(cfg.realtime_priority)] if m],
    }  # fmt: skip

    def between() -> bool:
        req = ctl.poll(5)
        if req is not None:
            if req["cmd"] == "stop":
                ctl.reply({"ok": True, **stats})
                return True
            _answer(req, ctl, stats)
        return stop.set

    try:
        if wait_for_subscribers(commands, cfg.subscribers, cfg.start_timeout_s, between) is None:
            return
        stats["ready"] = True
        _operator_ticks(cfg, link, states, commands, ctl, stats, stop)
    finally:
        for s in (link, states, commands):
            s.close(0)
        ctl.close()
        ctx.term()


def _operator_ticks(
    cfg: LinkConfig,
    link: zmq.Socket[bytes],
    states: zmq.Socket[bytes],
    commands: zmq.Socket[bytes],
    ctl: ControlServer,
    stats: dict[str, Any],
    stop: Any,
) -> None:
    p = cfg.params()
    period = round(1e9 / cfg.rate_hz)
    st = LeaderState()
    trace: list[list[float]] = []
    sample: tuple[float | int, ...] | None = None
    link_seq = 0
    velocity: Vec3 = ZERO
    tick_no = 0
    deadline = time.monotonic_ns() + period
    while True:
        _wait(states, deadline)
        raw, _ = drain_latest(states, 64)
        if raw is not None:
            try:
                sample = STATE.unpack(raw)
                velocity = (float(sample[8]), float(sample[9]), float(sample[10]))
            except HapticsError:
                stats["bad_samples"] = stats.get("bad_samples", 0) + 1
        now = time.monotonic_ns()
        for _ in range(MAX_LINK_DRAIN):
            if not int(link.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                break
            verdict, values = accept_link(FOLLOWER, link.recv(zmq.NOBLOCK), st.newest_seq)
            if verdict == LINK_NEW and values is not None:
                st = leader_take(st, values, now)
                stats["received"] += 1
            else:
                stats["bad" if verdict == LINK_BAD else "replayed"] += 1
        st, out = leader_tick(p, st, velocity, now)
        if out.dropped:
            _note(
                stats,
                {
                    "event": "down",
                    "last_rx_ns": st.newest_rx_ns,
                    "zeroed_ns": now,
                    "zeroed_after_ms": round((now - st.newest_rx_ns) / 1e6, 2),
                },
            )
        elif out.came_up:
            _note(stats, {"event": "up", "at_ns": now})
        stopping = stop.set
        f, flags = (ZERO, FLAG_STOPPING) if stopping else (out.force, out.flags)
        dev_seq = int(sample[2]) if sample is not None else 0
        commands.send(COMMAND.pack(tick_no + 1, dev_seq, now, f[0], f[1], f[2], flags))
        if sample is not None:  # every tick, a repeat too: the link's heartbeat
            link_seq += 1
            e = energies(st.ports)
            hold = now - st.newest_rx_ns if st.newest_rx_ns else -1
            msg = LEADER.pack(
                link_seq, time.monotonic_ns(), dev_seq, sample[3], *sample[5:14],
                *sample[19:22], sample[14], sample[15], e[0], e[1], e[2],
                st.newest_seq, st.newest_sender_ns, hold, st.cmd_seq, st.cmd_state_seq,
            )  # fmt: skip
            try:
                link.send(msg, zmq.NOBLOCK)
                stats["sent"] += 1
            except zmq.Again:  # no connection (down): nothing is queued for later
                stats["unsent"] += 1
        tick_no += 1
        if stopping:
            return
        if tick_no & 15 == 0:
            stats.update(ticks=tick_no, up=st.up, drops=st.drops, force=list(f))
            _trace_energy(trace, now, st.ports)
            drain_subscriptions(commands)
            req = ctl.poll(0)
            if req is not None:
                if req["cmd"] == "stop":
                    stop.set = True  # one more tick sends zero force with FLAG_STOPPING
                    ctl.reply({"ok": True, **stats, "energy_trace": trace})
                else:
                    _answer(req, ctl, stats)
        deadline = time.monotonic_ns() + period


def _answer(req: dict[str, Any], ctl: ControlServer, stats: dict[str, Any]) -> None:
    cmd = req["cmd"]
    if cmd == "ping":
        ctl.reply({"ok": True, "ready": stats["ready"]})
    elif cmd in ("stats", "info"):
        ctl.reply({"ok": True, **stats})
    else:
        ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})


# -- the follower's link -------------------------------------------------------------------------
def run_follower_link(cfg: LinkConfig) -> None:
    """Entry point of the follower's link process (multiprocessing target).

    Raises HapticsError when the keys or the authorized folder cannot be read, or the
    endpoint cannot be bound, saying what to do.
    """
    stop = child_setup("haptics-fllink")
    require_curve()
    if cfg.authorized is None:
        raise HapticsError("the follower needs a folder of authorized public keys (--authorized)")
    own = load_keys(cfg.keys)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq_context()
    ctl = ControlServer(ctx, cfg.endpoints["ctl-link"], LINK_COMMANDS)
    auth = start_authenticator(ctx, cfg.authorized)
    link = _link_socket(ctx, zmq.ROUTER)
    secure_server(link, own)
    check_bind_allowed(cfg.peer, secured=True)
    try:
        link.bind(cfg.peer)
    except zmq.ZMQError as exc:
        auth.stop()
        raise HapticsError(
            f"cannot listen on {cfg.peer}: {exc}; pick another port (--listen)"
        ) from exc
    states = publisher(ctx, cfg.endpoints["state"])
    commands = subscriber(ctx, cfg.endpoints["command"], conflate=True)
    stats: dict[str, Any] = {
        "ready": False, "ticks": 0, "up": False, "drops": 0, "received": 0, "bad": 0,
        "replayed": 0, "published": 0, "held": 0, "sent": 0, "rtt_ms": None, "rtt_min_ms": None,
        "events": [], "peer": cfg.peer,
        "notes": [m for m in [cfg.realtime_priority and make_realtime(cfg.realtime_priority)] if m],
    }  # fmt: skip

    def between() -> bool:
        req = ctl.poll(5)
        if req is not None:
            if req["cmd"] == "stop":
                ctl.reply({"ok": True, **stats})
                return True
            _answer(req, ctl, stats)
        return stop.set

    try:
        if wait_for_subscribers(states, cfg.subscribers, cfg.start_timeout_s, between) is None:
            return
        stats["ready"] = True
        _follower_ticks(cfg, link, states, commands, ctl, stats, stop)
    finally:
        auth.stop()
        link.close(0)
        states.close(linger=500)
        commands.close(0)
        ctl.close()
        ctx.term()


def _follower_ticks(
    cfg: LinkConfig,
    link: zmq.Socket[bytes],
    states: zmq.Socket[bytes],
    commands: zmq.Socket[bytes],
    ctl: ControlServer,
    stats: dict[str, Any],
    stop: Any,
) -> None:
    p = cfg.params()
    period = round(1e9 / cfg.rate_hz)
    st = FollowerState()
    trace: list[list[float]] = []
    peer: bytes | None = None
    force: Vec3 = ZERO
    cmd: tuple[int, int, int] = (0, 0, 0)  # the loop's command seq, its state_seq, flags
    link_seq = 0
    tick_no = 0
    rtt_min = -1
    out_seq = 0  # the seq of the newest STATE published (held samples count on from it)
    last: tuple[float | int, ...] | None = None  # the newest LEADER sample published
    deadline = time.monotonic_ns() + period
    while not stop.set:
        _wait(link, deadline)
        now = time.monotonic_ns()
        newest: tuple[float | int, ...] | None = None
        for _ in range(MAX_LINK_DRAIN):
            if not int(link.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                break
            frames = link.recv_multipart(zmq.NOBLOCK)
            if len(frames) != 2:
                stats["bad"] += 1
                continue
            # after a drop the peer may have restarted: its sequence starts over
            base = st.newest_seq if st.up else 0
            taken = max(base, int(newest[2])) if newest is not None else base
            verdict, values = accept_link(LEADER, frames[1], taken)
            if verdict == LINK_NEW and values is not None:
                newest, peer = values, frames[0]
                stats["received"] += 1
            elif verdict == LINK_REPLAY:
                stats["replayed"] += 1
            else:
                stats["bad"] += 1
        raw, _ = drain_latest(commands, 64)
        if raw is not None:
            try:
                c = COMMAND.unpack(raw)
                force = (float(c[5]), float(c[6]), float(c[7]))
                cmd = (int(c[2]), int(c[3]), int(c[8]))
            except HapticsError:
                stats["bad_commands"] = stats.get("bad_commands", 0) + 1
        if newest is not None and st.up and last is not None and newest[4] == last[4]:
            st, newest = follower_keepalive(st, newest, now), None  # a repeated sample
        was_up = st.up
        st, out = follower_tick(p, st, newest, force, now)
        if out is not None and out.dropped:
            _note(stats, {"event": "down", "last_rx_ns": st.newest_rx_ns, "at_ns": now})
        if out is not None and out.held and last is not None:
            # down: the last sample again, still, under the clutch and marked held
            pos = out.position
            out_seq += 1
            states.send(STATE.pack(
                out_seq, last[3], now, pos[0], pos[1], pos[2], 0.0, 0.0, 0.0, *last[12:15],
                out.buttons, int(last[19]) | STATUS_LINK_HELD, last[26], last[27], -1,
                *last[15:18],
            ))  # fmt: skip
            stats["held"] += 1
        elif out is not None and newest is not None:
            if not was_up:
                _note(stats, {"event": "up", "at_ns": now})
            rtt = now - int(newest[24]) - int(newest[25]) if int(newest[23]) else -1
            if rtt >= 0:
                rtt_min = rtt if rtt_min < 0 else min(rtt_min, rtt)
                stats["rtt_ms"], stats["rtt_min_ms"] = round(rtt / 1e6, 3), round(rtt_min / 1e6, 3)
            pos, vel = out.position, out.velocity
            # the device's seq, unless held samples ran ahead of it (the loop wants it rising)
            out_seq = max(int(newest[4]), out_seq + 1)
            states.send(STATE.pack(
                out_seq, newest[3], now, pos[0], pos[1], pos[2], vel[0], vel[1], vel[2],
                *newest[12:15], out.buttons, newest[19], newest[26], newest[27], rtt,
                *newest[15:18],
            ))  # fmt: skip
            stats["published"] += 1
            last = newest
        stats["up"] = st.up
        if peer is not None and st.up:
            link_seq += 1
            e = energies(st.ports)
            msg = FOLLOWER.pack(
                link_seq,
                time.monotonic_ns(),
                cmd[0],
                cmd[1],
                force[0],
                force[1],
                force[2],
                cmd[2],
                e[0],
                e[1],
                e[2],
            )
            try:
                link.send_multipart([peer, msg], zmq.NOBLOCK)
                stats["sent"] += 1
            except zmq.ZMQError:  # the peer is gone (or its queue is full): nothing queued
                pass
        tick_no += 1
        if tick_no & 15 == 0:
            stats.update(ticks=tick_no, drops=st.drops)
            _trace_energy(trace, now, st.ports)
            drain_subscriptions(states)
            req = ctl.poll(0)
            if req is not None:
                if req["cmd"] == "stop":
                    ctl.reply({"ok": True, **stats, "energy_trace": trace})
                    return
                _answer(req, ctl, stats)
        deadline = time.monotonic_ns() + period


# -- the processes of one side -------------------------------------------------------------------
class _Children:
    """A side's child processes: started in order, asked over their control sockets, stopped."""

    def __init__(self) -> None:
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.run_dir = Path(tempfile.mkdtemp(prefix="haptics-teleop-"))
        self.endpoints = {
            **ipc_endpoints(self.run_dir),
            "ctl-link": f"ipc://{self.run_dir / 'ctl-link'}",
        }
        self.procs: dict[str, BaseProcess] = {}

    def spawn(self, name: str, target: Callable[[Any], None], cfg: BaseModel) -> None:
        proc = mp.get_context("spawn").Process(
            target=run_child,
            args=(target, cfg, child_error_path(self.run_dir, name)),
            name=f"haptics-{name}",
        )
        proc.start()
        self.procs[name] = proc
        self.wait(name, lambda: bool(self.ask(name, "ping", 0.5).get("ok")), 30.0)

    def ask(self, name: str, cmd: str, timeout_s: float = 2.0, **args: Any) -> dict[str, Any]:
        proc = self.procs.get(name)
        if proc is None or not proc.is_alive():
            return {"ok": False, "error": f"no running {name} process"}
        try:
            return control.request(self.ctx, self.endpoints[f"ctl-{name}"], cmd, timeout_s, **args)
        except HapticsError as exc:
            return {"ok": False, "error": str(exc)}

    def wait(self, name: str, ready: Callable[[], bool], timeout_s: float) -> None:
        """Wait until `ready()`; raises HapticsError with the child's own message if it died."""
        give_up = time.monotonic() + timeout_s
        while not ready():
            proc = self.procs[name]
            if not proc.is_alive():
                raise HapticsError(self.death(name, "could not start"))
            if time.monotonic() > give_up:
                raise HapticsError(f"the {name} process did not become ready in {timeout_s:.0f} s")
            time.sleep(0.05)

    def death(self, name: str, what: str) -> str:
        proc = self.procs[name]
        proc.join(1.0)
        try:
            message = child_error_path(self.run_dir, name).read_text(encoding="utf-8").strip()
        except OSError:
            message = ""
        if message and proc.exitcode == CHILD_ERROR_EXIT:
            return f"the {name} process {what}: {message}"
        return f"the {name} process {what} (exit code {proc.exitcode})" + (
            f": {message}" if message else ""
        )

    def dead(self, names: tuple[str, ...]) -> str | None:
        for name in names:
            proc = self.procs.get(name)
            if proc is not None and not proc.is_alive():
                return self.death(name, "died")
        return None

    def close(self) -> None:
        for proc in self.procs.values():
            proc.join(5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(3.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        self.ctx.destroy(linger=0)  # closes what a caller left open too: never hangs
        shutil.rmtree(self.run_dir, ignore_errors=True)


class OperatorConfig(BaseModel):
    """The operator's host: a device and the link to the follower."""

    model_config = ConfigDict(allow_inf_nan=False)

    device: str = "simulated"
    scene: str = "palpation"  # the simulated operator's script comes from this scene
    # or, given, this one: waypoints (fraction of the session, device position m)
    operator_script: list[tuple[float, tuple[float, float, float]]] | None = None
    duration_s: float | None = Field(10.0, gt=0)
    link: LinkConfig


class OperatorRun:
    """The operator's side; `with OperatorRun(cfg) as run: run.watch()`."""

    def __init__(self, cfg: OperatorConfig) -> None:
        self.cfg = cfg
        self.children = _Children()
        self.endpoints = self.children.endpoints
        self.started = 0.0
        self.armed = False
        self.result: dict[str, Any] = {}

    def __enter__(self) -> OperatorRun:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Connect the link (refused keys stop here, with the reason), start the device, arm.

        Raises HapticsError naming what failed.
        """
        cfg, ch = self.cfg, self.children
        name, argument = split_device_spec(cfg.device)
        schema = load_driver(name).schema(argument)
        link = cfg.link.model_copy(
            update={
                "endpoints": self.endpoints,
                "subscribers": 1,
                "max_damping_ns_per_m": schema.max_damping_ns_per_m,
            }
        )
        ch.spawn("link", run_operator_link, link)
        ch.spawn(
            "device",
            run_device_process,
            DeviceProcessConfig(
                device=cfg.device,
                endpoints=self.endpoints,
                subscribers=1,
                watchdog_ms=cfg.link.watchdog_ms,
                session_duration_s=cfg.duration_s,
                operator_script=cfg.operator_script or load_scene(cfg.scene)({}).operator_script(),
                realtime_priority=70,
            ),
        )
        ch.wait("link", lambda: bool(ch.ask("link", "ping").get("ready")), 30.0)
        ch.wait("device", lambda: bool(ch.ask("device", "ping").get("streaming")), 30.0)
        armed = ch.ask("device", "arm")
        if not armed.get("ok"):
            raise HapticsError(f"the device refused to arm: {armed.get('error')}; check it")
        self.armed = True
        self.started = time.monotonic()

    def stats(self) -> dict[str, Any]:
        return self.children.ask("link", "stats", 0.5)

    def watch(
        self, poll_s: float = 0.25, on_poll: Callable[[OperatorRun], None] | None = None
    ) -> str:
        """Until the duration is over: "finished", or why it must stop (a process died)."""
        while True:
            time.sleep(poll_s)
            if on_poll is not None:
                on_poll(self)
            problem = self.children.dead(("device", "link"))
            if problem:
                return problem
            d = self.cfg.duration_s
            if d and time.monotonic() - self.started >= d:
                return "finished"

    def stop(self) -> dict[str, Any]:
        """Disarm the device first, then stop the link and the device (once; later calls
        return the first result)."""
        if self.result:
            return self.result
        ch = self.children
        disarm = ch.ask("device", "disarm")
        link = ch.ask("link", "stop", 10.0)
        device = ch.ask("device", "stop", 3.0)
        ch.close()
        self.result = {
            "disarmed": not self.armed or bool(disarm.get("ok")),
            "link": link,
            "device": device,
        }
        return self.result


class FollowerConfig(BaseModel):
    """The follower's host: the link, the loop with its scene, the recorder."""

    model_config = ConfigDict(allow_inf_nan=False)

    scene: str = "palpation"
    scene_params: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = Field(None, gt=0)
    record_dir: Path | None = Path("sessions")
    rate_hz: float = Field(1000.0, ge=50.0, le=10_000.0)
    # the loop engages at any force (after a stop or the operator's device going off), then
    # ramps in: its force reaches no hand directly, only through the operator's link, which
    # ramps from zero whenever the link comes back and limits how fast force grows. The
    # usual engage-below rule would keep force off for as long as the tool is in tissue.
    safety: SafetyPolicy = Field(default_factory=lambda: SafetyPolicy(engage_below_n=200.0))
    mapping: Mapping = Field(default_factory=Mapping)
    monitor: bool = True
    link: LinkConfig


class FollowerRun:
    """The follower's side; `with FollowerRun(cfg) as run: run.watch()`."""

    def __init__(self, cfg: FollowerConfig) -> None:
        self.cfg = cfg
        self.children = _Children()
        self.endpoints = self.children.endpoints
        self.session_dir = new_session_dir(cfg.record_dir, cfg.scene) if cfg.record_dir else None
        self.monitor: zmq.Socket[bytes] | None = None
        self.started = 0.0
        self.result: dict[str, Any] = {}

    def __enter__(self) -> FollowerRun:
        try:
            self.start()
        except BaseException:
            self.stop("failed to start")
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop("interrupted" if exc[0] is KeyboardInterrupt else "finished")

    def start(self) -> None:
        """Check the scene and folder, then start link → recorder → loop.

        Raises HapticsError naming what failed.
        """
        cfg, ch = self.cfg, self.children
        check_scene(cfg.scene, cfg.scene_params)
        if cfg.record_dir is not None:
            check_record_dir(cfg.record_dir)
        recording = self.session_dir is not None
        link = cfg.link.model_copy(
            update={"endpoints": self.endpoints, "subscribers": 1 + recording}
        )
        ch.spawn("link", run_follower_link, link)
        if recording:
            assert self.session_dir is not None
            manifest = Manifest(
                provenance="teleoperation",
                loop={"rate_hz": cfg.rate_hz, "safety": cfg.safety.model_dump(),
                      "mapping": cfg.mapping.model_dump()},
                clock={
                    "host_clock": "CLOCK_MONOTONIC (time.monotonic_ns) of the follower's host",
                    "monotonic_ns_at_start": time.monotonic_ns(),
                    "utc_at_start": dt.datetime.now(dt.UTC).isoformat(),
                    "link": "state.device_time_ns is the operator host's CLOCK_MONOTONIC when "
                    "it sent the sample, host_time_ns the follower's on receipt, "
                    "cmd_latency_ns the link's round trip (-1: not yet known); "
                    "haptics.session.clock.link_clock relates the two clocks",
                },
                device={"spec": f"link:{cfg.link.peer}", "link": {"peer": cfg.link.peer,
                        "watchdog_ms": cfg.link.watchdog_ms, "passivity": cfg.link.passivity}},
            )  # fmt: skip
            rc = RecorderConfig(
                endpoints=self.endpoints, session_dir=self.session_dir, manifest=manifest
            )
            ch.spawn("recorder", run_recorder_process, rc)
        if cfg.monitor:
            self.monitor = subscriber(ch.ctx, self.endpoints["telemetry"], deep=True)
        lc = LoopConfig(
            endpoints=self.endpoints,
            scene=cfg.scene,
            scene_params=cfg.scene_params,
            rate_hz=cfg.rate_hz,
            safety=cfg.safety,
            mapping=cfg.mapping,
            command_subscribers=1 + recording,
            telemetry_subscribers=recording + cfg.monitor,
            realtime_priority=80,
        )
        ch.spawn("loop", run_loop_process, lc)
        ch.wait("loop", lambda: bool(ch.ask("loop", "ping").get("ready")), 30.0)
        ch.wait("link", lambda: bool(ch.ask("link", "ping").get("ready")), 30.0)
        if recording:
            scene = ch.ask("loop", "info").get("scene", {})
            ch.ask("recorder", "annotate", scene=scene, provenance="teleoperation")
        self.started = time.monotonic()

    def stats(self) -> dict[str, Any]:
        return self.children.ask("link", "stats", 0.5)

    def watch(
        self, poll_s: float = 0.25, on_poll: Callable[[FollowerRun], None] | None = None
    ) -> str:
        """Until the duration is over (forever without one): "finished", or why it must stop."""
        while True:
            time.sleep(poll_s)
            if on_poll is not None:
                on_poll(self)
            problem = self.children.dead(("loop", "link"))
            if problem:
                return problem
            d = self.cfg.duration_s
            if d and time.monotonic() - self.started >= d:
                return "finished"

    def run_to_end(self) -> dict[str, Any]:
        """`watch`, then `stop`; raises RunError when a process died before the end."""
        reason = self.watch()
        result = self.stop(reason)
        if reason != "finished":
            raise RunError(f"the follower stopped early: {reason}")
        return result

    def stop(self, reason: str) -> dict[str, Any]:
        """Stop the loop (its last command is zero force), the link, then the recorder."""
        if self.result:
            return self.result
        ch = self.children
        loop = ch.ask("loop", "stop", 3.0)
        link = ch.ask("link", "stop", 10.0)
        published: dict[str, int] = {}
        if link.get("ok"):
            published["state"] = int(link.get("published", 0))
        if loop.get("ok"):
            published["command"] = published["telemetry"] = int(loop.get("ticks", 0))
        recorder = {}
        if "recorder" in ch.procs:
            recorder = ch.ask("recorder", "stop", 30.0, published=published, reason=reason)
        if self.monitor is not None:
            self.monitor.close(0)
        ch.close()
        session = self.session_dir if self.session_dir and self.session_dir.is_dir() else None
        self.result = {
            "reason": reason,
            "session": str(session) if session else None,
            "loop": loop,
            "link": link,
            "recorder": recorder,
        }
        return self.result
