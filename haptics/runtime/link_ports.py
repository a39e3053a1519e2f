"""The two ends of the teleoperation link, one tick each, as pure functions.

The operator's side (the leader port, `leader_tick`) turns the newest FOLLOWER message into
the force to show on the device: time-domain passivity on each axis (an adaptive damper
bounded by the device's, then force bounding: `haptics.loop.bilateral.leader_step`), a rise
limit (`max_rise_n` a tick), a watchdog that zeroes force when nothing valid came for
`watchdog_ms` (30 ms, dVRK's), and a ramp from zero when the link comes back, so force never
jumps on reconnect.

The follower's side (the follower port, `follower_tick`) turns the newest LEADER message into
the reference its loop follows: it moves toward the leader's position each tick at the
velocity the passivity controller allows (`follower_step`: shrunk, never reversed, while the
motion would let out more energy than the leader put in), with the contact force the loop
commanded as the port's effort, and never faster than `max_speed_m_per_s` (a reference that
fell behind catches up as a motion, never as a jump). While the link is down it holds still:
every tick the same reference (`FollowerOut.held`), so the follower's loop keeps the tool where
it is and keeps rendering its contact, rather than treating the link as lost input and fading
force out (which, with the tool in tissue, kept force off until the operator lifted off). Back
up, the reference continues from where it held toward where the leader was when the link went
down: what the leader moved meanwhile is not replayed (an offset takes it up), and a lag the
passivity controller left is still closed, not made permanent. While the operator presses the
clutch the reference follows the leader with zero velocity, whatever the delay, and the loop
holds the tool, so a release makes no jump.

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
_L_SENT = (_L["e_sent_x"], _L["e_sent_y"], _L["e_sent_z"])
_F_SENT = (_F["e_sent_x"], _F["e_sent_y"], _F["e_sent_z"])
Ports = tuple[PortEnergy, PortEnergy, PortEnergy]
NO_ENERGY: Final[Ports] = (PortEnergy(), PortEnergy(), PortEnergy())


class LinkParams(NamedTuple):
    """What does not change during a session."""

    dt_s: float = 0.001  # one tick (s)
    watchdog_ns: int = 30_000_000  # nothing valid for this long: the link is down
    ramp_ns: int = 250_000_000  # force returns from zero over this after a (re)connect
    max_damping_ns_per_m: float = 20.0  # the leader's damper bound (the device's stable damping)
    # share of its not-yet-sent energy a port keeps back each tick (`bilateral.send`): the
    # leader keeps what its hand put in for ~100 ms, so a device that gives a little back at
    # once can be shown force without waiting a round trip (force chatters otherwise)
    leader_keep: float = 0.99
    follower_keep: float = 0.0
    # the displayed force may grow by at most this per tick (N): after the passivity
    # controller cut it, force comes back over tens of ms, not at once (which, on a device that
    # takes a tick or two to apply it, makes it chatter full on, full off)
    max_rise_n: float = 0.2
    max_speed_m_per_s: float = 0.5  # the follower's reference moves toward the leader so fast
    passivity: bool = True  # False: the uncompensated baseline (tests and benches only)


# -- leader (operator's side) --------------------------------------------------------------------
class LeaderState(NamedTuple):
    ports: Ports = NO_ENERGY
    remote_sent: Vec3 = ZERO  # the energy the follower port sent, as last received (J)
    force: Vec3 = ZERO  # the follower's newest force (N, device frame)
    newest_seq: int = 0  # newest FOLLOWER link_seq taken
    newest_sender_ns: int = 0  # its sender time (follower clock)
    newest_rx_ns: int = 0  # when it arrived (operator clock); 0: never
    cmd_seq: int = 0  # the loop command it carried
    cmd_state_seq: int = 0
    up: bool = False
    up_since_ns: int = 0  # when the link last came up (the ramp starts there)
    shown: Vec3 = ZERO  # the force displayed last tick (N)
    silence_ns: int = 0  # the longest silence a message ended since the last tick
    drops: int = 0  # times the watchdog fired


class LeaderOut(NamedTuple):
    force: Vec3  # to command on the device (N)
    flags: int  # FLAG_ARMED while the link is up; FLAG_ENGAGING while ramping
    dropped: bool  # the watchdog fired this tick (force zeroed)
    came_up: bool  # the link came (back) up this tick


def leader_take(state: LeaderState, values: tuple[float | int, ...], now_ns: int) -> LeaderState:
    """Take one accepted FOLLOWER message (`haptics.wire.link.accept_link` values)."""
    return state._replace(
        remote_sent=_newer_sent(state.remote_sent, values, _F_SENT),
        force=(float(values[_F["fx"]]), float(values[_F["fy"]]), float(values[_F["fz"]])),
        newest_seq=int(values[_F["link_seq"]]),
        newest_sender_ns=int(values[_F["sender_ns"]]),
        newest_rx_ns=now_ns,
        silence_ns=max(state.silence_ns, now_ns - state.newest_rx_ns if state.up else 0),
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
    if state.up and fresh and state.silence_ns > p.watchdog_ns:
        # a silence this process did not see (it stalled itself): down and up again, so
        # force ramps back from zero
        state = state._replace(up=False, drops=state.drops + 1, shown=ZERO)
    state = state._replace(silence_ns=0)
    came_up = fresh and not state.up
    if came_up:
        state = state._replace(up=True, up_since_ns=now_ns)
    if not fresh:
        ports = tuple(account(port, 0.0, p.dt_s) for port in state.ports)
        state = state._replace(
            up=False,
            drops=state.drops + dropped,
            ports=ports,  # type: ignore[arg-type]
            shown=ZERO,
        )
        return state, LeaderOut(ZERO, 0, dropped, False)
    out: list[float] = []
    ports_out: list[PortEnergy] = []
    # the ramp scales the force the link asks for, before the port: what the port accounts
    # (and its passivity controller limits) is what the device is told to show
    ramp = min(1.0, (now_ns - state.up_since_ns) / p.ramp_ns) if p.ramp_ns > 0 else 1.0
    for i in range(3):
        asked = _rise_limited(state.force[i] * ramp, state.shown[i], p.max_rise_n)
        if p.passivity:
            port, f, _ = leader_step(
                state.ports[i], state.remote_sent[i], asked, velocity[i],
                p.dt_s, p.max_damping_ns_per_m, p.leader_keep,
            )  # fmt: skip
        else:
            f = state.force[i] * ramp
            port = account(state.ports[i], f * velocity[i], p.dt_s)
        ports_out.append(port)
        out.append(f)
    flags = FLAG_ARMED | (FLAG_ENGAGING if ramp < 1.0 else 0)
    force: Vec3 = (out[0], out[1], out[2])
    state = state._replace(ports=(ports_out[0], ports_out[1], ports_out[2]), shown=force)
    return state, LeaderOut(force, flags, False, came_up)


def _rise_limited(asked: float, shown: float, max_rise: float) -> float:
    """The force to ask the port for: `asked`, but grown from the force `shown` last tick by
    at most `max_rise` in magnitude. A drop is taken at once; a change of sign starts again
    from zero (at most `max_rise` the other way)."""
    if asked > 0.0 and shown >= 0.0 and asked > shown + max_rise:
        return shown + max_rise
    if asked < 0.0 and shown <= 0.0 and asked < shown - max_rise:
        return shown - max_rise
    if asked * shown < 0.0 and abs(asked) > max_rise:  # reversing: from zero
        return max_rise if asked > 0.0 else -max_rise
    return asked


# -- follower (the instrument's side) ------------------------------------------------------------
class FollowerState(NamedTuple):
    ports: Ports = NO_ENERGY
    remote_sent: Vec3 = ZERO  # the energy the leader port sent, as last received (J)
    reference: Vec3 = ZERO  # where the follower's loop is told the device is (m)
    newest_seq: int = 0  # newest LEADER link_seq taken
    newest_rx_ns: int = 0  # when it arrived (follower clock); 0: never
    up: bool = False
    drops: int = 0
    raw: Vec3 = ZERO  # the leader's newest position as received (m)
    moved_ns: int = 0  # when the reference last moved (follower clock); 0: never
    offset: Vec3 = ZERO  # added to it: what the leader moved while the link was down (m)


class FollowerOut(NamedTuple):
    position: Vec3  # the reference to publish as the sample's position (m)
    velocity: Vec3  # its velocity (m/s)
    buttons: int  # the leader's buttons (none while held)
    dropped: bool  # the watchdog fired this tick
    held: bool = False  # the link is down: the reference holds where it is


def follower_tick(
    p: LinkParams,
    state: FollowerState,
    leader: tuple[float | int, ...] | None,
    contact_force: Vec3,
    now_ns: int,
) -> tuple[FollowerState, FollowerOut | None]:
    """One tick at the follower: the sample to publish to its loop, or None (nothing new).

    While the link is down (after it was up) every tick gives a held sample: the last
    reference, still, so the loop keeps rendering the tool where it is (its own input
    watchdog stays for a link process that died) and the operator's ramp is what brings force
    back when the link returns. Back, the reference continues from where it held toward where
    the leader was when the link went down (what it moved meanwhile is not replayed), at most
    at `max_speed_m_per_s` and as passivity allows: no jump, and no lag made permanent.

    leader: this tick's newest accepted LEADER message (`accept_link` values) or None;
    contact_force: the force the follower's loop commanded last (N, device frame: the
    tissue pushing the tool back), the port's effort with the opposite sign.
    """
    if leader is None:
        if state.up and now_ns - state.newest_rx_ns > p.watchdog_ns:
            state = state._replace(up=False, drops=state.drops + 1)
            return state, FollowerOut(state.reference, ZERO, 0, True, True)
        if not state.up and state.newest_rx_ns != 0:  # down after having been up: hold
            return state, FollowerOut(state.reference, ZERO, 0, False, True)
        return state, None
    if state.up and now_ns - state.newest_rx_ns > p.watchdog_ns:
        # a message after a silence longer than the watchdog that this side did not see as
        # one (this process itself stalled): down and up again
        state = state._replace(up=False, drops=state.drops + 1)
    state = state._replace(
        remote_sent=_newer_sent(state.remote_sent, leader, _L_SENT),
        newest_seq=int(leader[_L["link_seq"]]),
        newest_rx_ns=now_ns,
    )
    raw: Vec3 = (float(leader[_L["px"]]), float(leader[_L["py"]]), float(leader[_L["pz"]]))
    buttons = int(leader[_L["buttons"]])
    first = not state.up and state.drops == 0
    if not state.up:
        o = state.offset
        if not first:  # back: what the leader moved while the link was down is not replayed
            last = state.raw
            o = (o[0] + last[0] - raw[0], o[1] + last[1] - raw[1], o[2] + last[2] - raw[2])
        state = state._replace(up=True, offset=o)
    o = state.offset
    state = state._replace(raw=raw)
    target: Vec3 = (raw[0] + o[0], raw[1] + o[1], raw[2] + o[2])
    if first or buttons & BUTTON_CLUTCH:
        # the first sample (nothing to continue from), or the operator's clutch: the loop
        # holds the tool while it is pressed, and the reference follows the leader at once,
        # so the release continues from where the leader is, whatever the delay
        ports = tuple(account(port, 0.0, p.dt_s) for port in state.ports)
        state = state._replace(reference=target, ports=ports, moved_ns=now_ns)  # type: ignore[arg-type]
        return state, FollowerOut(target, ZERO, buttons, False)
    dt = p.dt_s
    ref, vel, ports_out = [], [], []
    # a tick's step: at most max_speed over one period, and over the time since the last
    # step when ticks come faster (a burst of messages wakes this side early)
    since_s = (now_ns - state.moved_ns) / 1e9 if state.moved_ns else dt
    step = p.max_speed_m_per_s * min(dt, max(since_s, 0.0))
    for i in range(3):
        # toward the leader at most at max_speed: a reference that fell behind (energy was
        # short, messages were lost) catches up as a motion, never as a jump
        v = max(-step, min(step, target[i] - state.reference[i])) / dt
        effort = -contact_force[i]  # the tool pushes the tissue with minus what it feels
        if p.passivity:
            port, v, _ = follower_step(
                state.ports[i], state.remote_sent[i], v, dt, effort, 0.0, p.follower_keep
            )
        else:
            port = account(state.ports[i], effort * v, dt)
        ports_out.append(port)
        vel.append(v)
        ref.append(state.reference[i] + v * dt)
    reference: Vec3 = (ref[0], ref[1], ref[2])
    state = state._replace(
        reference=reference, ports=(ports_out[0], ports_out[1], ports_out[2]), moved_ns=now_ns
    )
    return state, FollowerOut(reference, (vel[0], vel[1], vel[2]), buttons, False)


def follower_keepalive(
    state: FollowerState, leader: tuple[float | int, ...], now_ns: int
) -> FollowerState:
    """Take a LEADER message that repeats the sample already taken (the operator sends one
    every tick, so the link's liveness does not depend on the device's timing): its energy
    and arrival count; the reference does not move."""
    return state._replace(
        remote_sent=_newer_sent(state.remote_sent, leader, _L_SENT),
        newest_seq=int(leader[_L["link_seq"]]),
        newest_rx_ns=now_ns if state.up else state.newest_rx_ns,
    )


def _newer_sent(
    known: Vec3, values: tuple[float | int, ...], fields: tuple[int, int, int]
) -> Vec3:
    """The other side's sent energy per axis: energies only grow, so a late, smaller value
    changes nothing."""
    return (
        max(known[0], float(values[fields[0]])),
        max(known[1], float(values[fields[1]])),
        max(known[2], float(values[fields[2]])),
    )


def energies(ports: Ports) -> Vec3:
    """Each axis's energy this port has sent the other side (J): what a message carries."""
    return (ports[0].sent, ports[1].sent, ports[2].sent)
