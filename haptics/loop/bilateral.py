"""Time-domain passivity for a bilateral leader–follower link with delay, jitter and loss.

The link is a two-port network between the operator's device (the leader, which is shown a
force) and the follower instrument (whose position controller is given a velocity reference):
a position–force architecture. With any delay the network can create energy, and on stiff
contact an uncompensated link oscillates and grows. We keep it passive with the time-domain
passivity approach (TDPA) for delayed links (Ryu, Artigas & Preusche, "A passivity controller
for stable haptic interaction with time delay", and Artigas, Ryu, Preusche & Hirzinger,
"Network representation and passivity of delayed teleoperation systems", IROS 2011):

* Each port observes the energy that flows into the network there (`e_in`) and out of it
  there (`e_out`), as cumulative, never-decreasing sums, and sends its `e_in` to the other side
  with every packet.
* The network is passive if, at every moment, the energy leaving at one port is at most the
  energy that entered at the other, as far as this side knows:
  `e_out_leader(t) ≤ e_in_follower(t − T_f→l)` and `e_out_follower(t) ≤ e_in_leader(t − T_l→f)`.
* A passivity controller at each port removes any excess in the same tick: at the leader (an
  impedance port: the network sets a force) an adaptive damper, F' = F − α·v; at the follower (an
  admittance port: the network sets a velocity) the velocity reference is reduced,
  v' = v + β with β of opposite sign to the force.

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
    """Cumulative energy through one port of the network (J), each never decreasing."""

    e_in: float = 0.0  # entered the network at this port
    e_out: float = 0.0  # left the network at this port


def account(port: PortEnergy, power_out_w: float, dt_s: float) -> PortEnergy:
    """Add one tick of `power_out_w` (W, out of the network at this port; negative: in)."""
    e = power_out_w * dt_s
    if e >= 0.0:
        return PortEnergy(port.e_in, port.e_out + e)
    return PortEnergy(port.e_in - e, port.e_out)


def leader_step(
    port: PortEnergy,
    remote_e_in: float,
    force: float,
    velocity: float,
    dt_s: float,
    max_damping_ns_per_m: float = float("inf"),
) -> tuple[PortEnergy, float, float]:
    """Impedance-type passivity controller at the leader: the force to display.

    remote_e_in: the follower's e_in as last received (J); force: the force the link asks to
    display (N); velocity: the leader's velocity now (m/s). Returns (new port energy, force to
    display N, damping α N·s/m applied). α is bounded by `max_damping_ns_per_m` (a device's
    stable damping); a bounded α may leave a residue the next ticks then remove.
    """
    out = force * velocity * dt_s
    alpha = 0.0
    if out > 0.0:
        excess = port.e_out + out - remote_e_in
        v2dt = velocity * velocity * dt_s
        if excess > 0.0 and v2dt > 0.0:
            alpha = min(excess / v2dt, max_damping_ns_per_m)
            force -= alpha * velocity
    return account(port, force * velocity, dt_s), force, alpha


def follower_step(
    port: PortEnergy,
    remote_e_in: float,
    velocity_ref: float,
    dt_s: float,
    force_offset: float,
    force_per_velocity: float = 0.0,
) -> tuple[PortEnergy, float, float]:
    """Admittance-type passivity controller at the follower: the velocity reference to track.

    The follower controller's effort depends on the reference it is given:
    F(v) = force_offset + force_per_velocity·v (a PD controller: offset Kp·(x_r − x) − Kd·ẋ,
    slope Kd; a pure force source: slope 0). remote_e_in: the leader's e_in as last received
    (J); velocity_ref: the reference the link asks for (m/s).
    Returns (new port energy, velocity reference to use m/s, effort F at that reference N).
    The reference is shrunk toward zero, never reversed, until the energy it lets out is at
    most what the leader put in.
    """
    a, kd = force_offset, force_per_velocity
    v = velocity_ref
    out = (a + kd * v) * v * dt_s
    if out > 0.0:
        allowed = max(remote_e_in - port.e_out, 0.0) / dt_s  # W this tick
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
    return account(port, force * v, dt_s), v, force


def network_energy(leader: PortEnergy, follower: PortEnergy) -> float:
    """Energy the network has generated so far (J): out minus in over both ports.

    A passive network keeps this ≤ 0 at all times (up to the energy still in flight).
    """
    return leader.e_out + follower.e_out - leader.e_in - follower.e_in
