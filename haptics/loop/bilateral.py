"""Time-domain passivity for a bilateral leader–follower link with delay, jitter and loss.

The link is a two-port network between the operator's device (the leader, which is shown a
force) and the follower instrument (whose position controller is given a velocity reference):
a position–force architecture. With any delay the network can create energy, and on stiff
contact an uncompensated link oscillates and grows. We keep it passive with the time-domain
passivity approach (TDPA) for delayed links (Ryu, Artigas & Preusche, "A passivity controller
for stable haptic interaction with time delay", and Artigas, Ryu, Preusche & Hirzinger,
"Network representation and passivity of delayed teleoperation systems", IROS 2011):

* Each port observes the energy that flows into the network there (`e_in`) and out of it
  there (`e_out`), as cumulative, never-decreasing sums, and passes energy that entered on to
  the other side (`sent`, also cumulative) with every packet.
* The network is passive if, at every moment, each port lets out at most what the other side
  sent it plus what entered here and was not sent:
  `e_out_L ≤ sent_F(t − T_f→l) + e_in_L − sent_L` and the same with L and F swapped; summed,
  out ≤ in over both ports. With everything sent at once (`keep` = 0) this is the classic
  `e_out_L ≤ e_in_F(t − T)`. Keeping a share back a while (`send`) lets a port reflect energy
  it was just given (a device that pressed in and gives a little back) without waiting a
  round trip for the other side's, which is what makes a held contact chatter otherwise.
* A passivity controller at each port removes any excess in the same tick: at the leader (an
  impedance port: the network sets a force) an adaptive damper, F' = F − α·v, bounded by the
  device's stable damping, and where that bound is not enough the force itself shrinks toward
  zero, never past it (force bounding); at the follower (an admittance port: the network sets
  a velocity) the velocity reference is shrunk toward zero, never reversed.

Why TDPA and not wave variables: wave variables are passive for a *constant* delay, but a
jittered or lossy link (the cases the bench runs) breaks that unless extra wave-energy
bookkeeping is added, and they drift. TDPA's energies are cumulative and monotone, so a lost
or late packet only makes the controller more conservative (it uses the last, smaller,
received value): variable delay and loss need nothing special. Its price is position drift
between leader and follower after the controller acted; the bench reports it.
(docs/decisions/0004-bilateral-delay.md.)

Sign conventions (1-D along the contact normal, + pushes into tissue): at the leader the
network applies force F_m to the device moving at v_m, so power flows out of the network at
F_m·v_m; at the follower the network sets the reference velocity v_r and the follower's
controller pushes with effort F_s, so power flows out at F_s·v_r. Everything is a pure
function of (state, inputs, dt); nothing keeps a clock.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class PortEnergy(NamedTuple):
    """Cumulative energy through one port of the network (J), each never decreasing.

    `sent` is the part of `e_in` this port has passed on to the other side (what its messages
    carry): the other side may let that much out. What entered here and was not sent is this
    port's own reserve, which it may let out again here (energy reflection), so a contact that
    gives back energy it was just given need not wait a round trip for it.
    """

    e_in: float = 0.0  # entered the network at this port
    e_out: float = 0.0  # left the network at this port
    sent: float = 0.0  # of e_in, passed on to the other side (≤ e_in)


def account(port: PortEnergy, power_out_w: float, dt_s: float) -> PortEnergy:
    """Add one tick of `power_out_w` (W, out of the network at this port; negative: in)."""
    e = power_out_w * dt_s
    if e >= 0.0:
        return PortEnergy(port.e_in, port.e_out + e, port.sent)
    return PortEnergy(port.e_in - e, port.e_out, port.sent)


def available(port: PortEnergy, remote_sent: float) -> float:
    """Energy this port may still let out (J): what the other side sent it, plus what entered
    here and was kept, less what already left here. Negative: a deficit (a bounded damper
    could not remove everything); the next ticks work it off."""
    return remote_sent + port.e_in - port.sent - port.e_out


def send(port: PortEnergy, remote_sent: float, keep: float) -> PortEnergy:
    """Pass on to the other side the energy that entered here, but for a share kept a while.

    keep (0..1): the share of the not-yet-sent energy kept back each tick. 0 sends everything
    at once: the classic two-port TDPA, where what enters at one port is the other's to let
    out. A `keep` near 1 releases it slowly (a first-order lag of dt/(1 − keep) ticks), and
    until then this port may let it out again itself (energy reflection): a contact that
    gives back at once the energy it was just given need not wait a round trip for it. Never
    sends energy this port has already let out itself; `sent` only grows.

    Passivity holds for any `keep`: this port lets out at most remote_sent + e_in − sent and the
    other side at most sent, together at most what entered at both.
    """
    unsent = port.e_in - port.sent
    target = min(port.sent + unsent * (1.0 - keep), remote_sent + port.e_in - port.e_out)
    if target > port.sent:
        return PortEnergy(port.e_in, port.e_out, target)
    return port


def leader_step(
    port: PortEnergy,
    remote_sent: float,
    force: float,
    velocity: float,
    dt_s: float,
    max_damping_ns_per_m: float = float("inf"),
    keep: float = 0.0,
) -> tuple[PortEnergy, float, float]:
    """Impedance-type passivity controller at the leader: the force to display.

    remote_sent: the energy the follower has sent, as last received (J); force: the force the
    link asks to display (N); velocity: the leader's velocity now (m/s); reserve_j: energy this
    port keeps for itself (`send`). Returns (new port energy, force to display N, damping α
    N·s/m applied). α is bounded by `max_damping_ns_per_m` (a device's stable damping); when
    the bounded damper is not enough, the force itself shrinks toward zero (never past it), so
    the port lets out no more than it may.
    """
    out = force * velocity * dt_s
    alpha = 0.0
    if out > 0.0:
        excess = out - available(port, remote_sent)
        v2dt = velocity * velocity * dt_s
        if excess > 0.0 and v2dt > 0.0:
            alpha = min(excess / v2dt, max_damping_ns_per_m)
            force -= alpha * velocity
            rest = excess - alpha * v2dt
            if rest > 0.0 and force * velocity > 0.0:
                # the damper is at its bound: shrink the force itself toward zero, never past
                # it, so what leaves stays within what may (force bounding)
                shrunk = force - rest / (velocity * dt_s)
                force = shrunk if shrunk * velocity > 0.0 else 0.0
    port = account(port, force * velocity, dt_s)
    return send(port, remote_sent, keep), force, alpha


def follower_step(
    port: PortEnergy,
    remote_sent: float,
    velocity_ref: float,
    dt_s: float,
    force_offset: float,
    force_per_velocity: float = 0.0,
    keep: float = 0.0,
) -> tuple[PortEnergy, float, float]:
    """Admittance-type passivity controller at the follower: the velocity reference to track.

    The follower controller's effort depends on the reference it is given:
    F(v) = force_offset + force_per_velocity·v (a PD controller: offset Kp·(x_r − x) − Kd·ẋ,
    slope Kd; a pure force source: slope 0). remote_sent: the energy the leader has sent, as
    last received (J); velocity_ref: the reference the link asks for (m/s); reserve_j: energy
    this port keeps for itself (`send`).
    Returns (new port energy, velocity reference to use m/s, effort F at that reference N).
    The reference is shrunk toward zero, never reversed, until the energy it lets out is at
    most what this port may let out.
    """
    a, kd = force_offset, force_per_velocity
    v = velocity_ref
    out = (a + kd * v) * v * dt_s
    if out > 0.0:
        allowed = max(available(port, remote_sent), 0.0) / dt_s  # W this tick
        if out > allowed * dt_s:
            # largest |v'| ≤ |v| (same sign) with (a + kd·v')·v' ≤ allowed
            if kd > 0.0:
                disc = a * a + 4.0 * kd * allowed
                roots = ((-a + math.sqrt(disc)) / (2 * kd), (-a - math.sqrt(disc)) / (2 * kd))
                v = min((r for r in roots if r * v >= 0.0 and abs(r) <= abs(v)),
                        key=lambda r: -abs(r), default=0.0)
            elif a != 0.0:
                v = allowed / a if (allowed / a) * v >= 0.0 else 0.0
            else:
                v = 0.0
    force = a + kd * v
    port = account(port, force * v, dt_s)
    return send(port, remote_sent, keep), v, force


def network_energy(leader: PortEnergy, follower: PortEnergy) -> float:
    """Energy the network has generated so far (J): out minus in over both ports.

    A passive network keeps this ≤ 0 at all times (up to the energy still in flight).
    """
    return leader.e_out + follower.e_out - leader.e_in - follower.e_in
