"""The two ends of the teleoperation link, one tick each, as pure functions.

The operator's side (the leader port, `leader_tick`) turns the newest FOLLOWER message into
the force to show on the device: time-domain passivity on each axis (an adaptive damper,
`haptics.loop.bilateral.leader_step`), a watchdog that zeroes force when nothing valid came
for `watchdog_ms` (30 ms, dVRK's), and a ramp from zero when the link comes back, so force
never jumps on reconnect.

The follower's side (the follower port, `follower_tick`) turns the newest LEADER message into
the reference its loop follows: it moves toward the leader's position each tick at the
velocity the passivity controller allows (`follower_step`: shrunk, never reversed, while the
motion would let out more energy than the leader put in), with the contact force the loop
commanded as the port's effort. When the link was down it holds still (no new reference), and
on the first messages after it re-anchors: the reference jumps to the leader's position with
the clutch bit set for `REANCHOR_SAMPLES` samples, so the loop's teleop mapping holds the tool
and continues from where it was held (`haptics.loop.teleop`: a clutch release never makes the
tool jump). The same holds while the operator presses the clutch: the reference follows the
leader with zero velocity, whatever the delay, so a release makes no jump.

Vectors are per axis (three independent 1-D ports: passive per axis is passive in all).
Nothing here keeps a clock: `now_ns` is an argument.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from haptics.devices.device import ZERO, Vec3
from haptics.loop.bilateral import PortEnergy, account, follower_step, leader_step
from haptics.wire.link import FOLLOWER, LEADER
from haptics.wire.messages import BUTTON_CLUTCH, FLAG_ARMED, FLAG_ENGAGING

_L = {name: i for i, name in enumerate(LEADER.names)}
_F = {name: i for i, name in enumerate(FOLLOWER.names)}
# samples sent with the clutch bit after a (re)connect: 20 ms, so a loop that ticks late and
# reads only the newest of several samples still sees one (with 2, `haptics bench teleop
# --link` saw the loop miss both and the tool jump by what the leader moved while down)
REANCHOR_SAMPLES: Final = 20
Ports = tuple[PortEnergy, PortEnergy, PortEnergy]
NO_ENERGY: Final[Ports] = (PortEnergy(), PortEnergy(), PortEnergy())


class LinkParams(NamedTuple):
    """What does not change during a session."""

    dt_s: float = 0.001  # one tick (s)
    watchdog_ns: int = 30_000_000  # nothing valid for this long: the link is down
    ramp_ns: int = 250_000_000  # force returns from zero over this after a (re)connect
    max_damping_ns_per_m: float = 20.0  # the leader's damper bound (the device's stable damping)
    passivity: bool = True  # False: the uncompensated baseline (tests and benches only)


# -- leader (operator's side) --------------------------------------------------------------------
class LeaderState(NamedTuple):
    ports: Ports = NO_ENERGY
    remote_e_in: Vec3 = ZERO  # the follower's e_in as last received (J)
    force: Vec3 = ZERO  # the follower's newest force (N, device frame)
    newest_seq: int = 0  # newest FOLLOWER link_seq taken
    newest_sender_ns: int = 0  # its sender time (follower clock)
    newest_rx_ns: int = 0  # when it arrived (operator clock); 0: never
    cmd_seq: int = 0  # the loop command it carried
    cmd_state_seq: int = 0
    up: bool = False
    up_since_ns: int = 0  # when the link last came up (the ramp starts there)
    drops: int = 0  # times the watchdog fired


class LeaderOut(NamedTuple):
    force: Vec3  # to command on the device (N)
    flags: int  # FLAG_ARMED while the link is up; FLAG_ENGAGING while ramping
    dropped: bool  # the watchdog fired this tick (force zeroed)
    came_up: bool  # the link came (back) up this tick


def leader_take(state: LeaderState, values: tuple[float | int, ...], now_ns: int) -> LeaderState:
    """Take one accepted FOLLOWER message (`haptics.wire.link.accept_link` values)."""
    r = state.remote_e_in
    remote: Vec3 = (  # energies only grow; a late smaller value changes nothing
        max(r[0], float(values[_F["e_in_x"]])),
        max(r[1], float(values[_F["e_in_y"]])),
        max(r[2], float(values[_F["e_in_z"]])),
    )
    return state._replace(
        remote_e_in=remote,
        force=(float(values[_F["fx"]]), float(values[_F["fy"]]), float(values[_F["fz"]])),
        newest_seq=int(values[_F["link_seq"]]),
        newest_sender_ns=int(values[_F["sender_ns"]]),
        newest_rx_ns=now_ns,
        cmd_seq=int(values[_F["cmd_seq"]]),
        cmd_state_seq=int(values[_F["cmd_state_seq"]]),
    )


def leader_tick(
    p: LinkParams, state: LeaderState, velocity: Vec3, now_ns: int
) -> tuple[LeaderState, LeaderOut]:
    """The force to show on the leader now, after `leader_take` took this tick's messages.

    velocity: the device's velocity (m/s). Zero force without FLAG_ARMED while the link is
    down (never up, or nothing valid for `watchdog_ns`).
    """
    fresh = state.newest_rx_ns != 0 and now_ns - state.newest_rx_ns <= p.watchdog_ns
    dropped = state.up and not fresh
    came_up = fresh and not state.up
    if came_up:
        state = state._replace(up=True, up_since_ns=now_ns)
    if not fresh:
        ports = tuple(account(port, 0.0, p.dt_s) for port in state.ports)
        state = state._replace(
            up=False,
            drops=state.drops + dropped,
            ports=ports,  # type: ignore[arg-type]
        )
        return state, LeaderOut(ZERO, 0, dropped, False)
    out: list[float] = []
    ports_out: list[PortEnergy] = []
    # the ramp scales the force the link asks for, before the port: what the port accounts
    # (and its passivity controller limits) is what the device is told to show
    ramp = min(1.0, (now_ns - state.up_since_ns) / p.ramp_ns) if p.ramp_ns > 0 else 1.0
    for i in range(3):
        if p.passivity:
            port, f, _ = leader_step(
                state.ports[i], state.remote_e_in[i], state.force[i] * ramp, velocity[i],
                p.dt_s, p.max_damping_ns_per_m,
            )  # fmt: skip
        else:
            f = state.force[i] * ramp
            port = account(state.ports[i], f * velocity[i], p.dt_s)
        ports_out.append(port)
        out.append(f)
    flags = FLAG_ARMED | (FLAG_ENGAGING if ramp < 1.0 else 0)
    force: Vec3 = (out[0], out[1], out[2])
    state = state._replace(ports=(ports_out[0], ports_out[1], ports_out[2]))
    return state, LeaderOut(force, flags, False, came_up)


# -- follower (the instrument's side) ------------------------------------------------------------
class FollowerState(NamedTuple):
    ports: Ports = NO_ENERGY
    remote_e_in: Vec3 = ZERO  # the leader's e_in as last received (J)
    reference: Vec3 = ZERO  # where the follower's loop is told the device is (m)
    newest_seq: int = 0  # newest LEADER link_seq taken
    newest_rx_ns: int = 0  # when it arrived (follower clock); 0: never
    up: bool = False
    reanchor: int = 0  # samples still to send with the clutch bit
    drops: int = 0


class FollowerOut(NamedTuple):
    position: Vec3  # the reference to publish as the sample's position (m)
    velocity: Vec3  # its velocity (m/s)
    buttons: int  # the leader's buttons, with the clutch bit while re-anchoring
    dropped: bool  # the watchdog fired this tick


def follower_tick(
    p: LinkParams,
    state: FollowerState,
    leader: tuple[float | int, ...] | None,
    contact_force: Vec3,
    now_ns: int,
) -> tuple[FollowerState, FollowerOut | None]:
    """One tick at the follower: the sample to publish to its loop, or None (nothing new).

    leader: this tick's newest accepted LEADER message (`accept_link` values) or None;
    contact_force: the force the follower's loop commanded last (N, device frame: the
    tissue pushing the tool back), the port's effort with the opposite sign.
    """
    if leader is None:
        if state.up and now_ns - state.newest_rx_ns > p.watchdog_ns:
            return state._replace(up=False, drops=state.drops + 1), FollowerOut(
                state.reference, ZERO, 0, True
            )
        return state, None
    r = state.remote_e_in
    state = state._replace(
        remote_e_in=(
            max(r[0], float(leader[_L["e_in_x"]])),
            max(r[1], float(leader[_L["e_in_y"]])),
            max(r[2], float(leader[_L["e_in_z"]])),
        ),
        newest_seq=int(leader[_L["link_seq"]]),
        newest_rx_ns=now_ns,
    )
    target: Vec3 = (float(leader[_L["px"]]), float(leader[_L["py"]]), float(leader[_L["pz"]]))
    buttons = int(leader[_L["buttons"]])
    if not state.up:  # (re)connected: re-anchor under the clutch
        state = state._replace(up=True, reanchor=REANCHOR_SAMPLES)
    if state.reanchor > 0 or buttons & BUTTON_CLUTCH:
        # the loop holds the tool while the clutch bit is set: follow the leader at once
        left = max(state.reanchor - 1, 0)
        ports = tuple(account(port, 0.0, p.dt_s) for port in state.ports)
        state = state._replace(reference=target, reanchor=left, ports=ports)  # type: ignore[arg-type]
        return state, FollowerOut(target, ZERO, buttons | BUTTON_CLUTCH, False)
    dt = p.dt_s
    ref, vel, ports_out = [], [], []
    for i in range(3):
        v = (target[i] - state.reference[i]) / dt
        effort = -contact_force[i]  # the tool pushes the tissue with minus what it feels
        if p.passivity:
            port, v, _ = follower_step(state.ports[i], state.remote_e_in[i], v, dt, effort)
        else:
            port = account(state.ports[i], effort * v, dt)
        ports_out.append(port)
        vel.append(v)
        ref.append(state.reference[i] + v * dt)
    reference: Vec3 = (ref[0], ref[1], ref[2])
    state = state._replace(reference=reference, ports=(ports_out[0], ports_out[1], ports_out[2]))
    return state, FollowerOut(reference, (vel[0], vel[1], vel[2]), buttons, False)


def follower_keepalive(
    state: FollowerState, leader: tuple[float | int, ...], now_ns: int
) -> FollowerState:
    """Take a LEADER message that repeats the sample already taken (the operator sends one
    every tick, so the link's liveness does not depend on the device's timing): its energy
    and arrival count; the reference does not move."""
    r = state.remote_e_in
    return state._replace(
        remote_e_in=(
            max(r[0], float(leader[_L["e_in_x"]])),
            max(r[1], float(leader[_L["e_in_y"]])),
            max(r[2], float(leader[_L["e_in_z"]])),
        ),
        newest_seq=int(leader[_L["link_seq"]]),
        newest_rx_ns=now_ns if state.up else state.newest_rx_ns,
    )


def energies(ports: Ports) -> Vec3:
    """Each axis's energy into the network at this port (J): what a message carries."""
    return (ports[0].e_in, ports[1].e_in, ports[2].e_in)
