"""Time-domain passivity observer (PO) and controller (PC) for a one-port impedance display.

After Hannaford & Ryu, "Time-domain passivity control of haptic interfaces", IEEE Trans.
Robotics and Automation 18(1), 2002. The port is the device: the loop reads its velocity v
and commands a force f. No public haptics framework ships one (see docs: CHAI3D, AMBF, H3D,
dVRK have none), which is why it lives here.

Sign convention
    `force` is the force the virtual environment commands on the device (what the loop
    sends); `velocity` is the device's velocity, both in the same frame. Power flowing from
    the operator into the environment is P = −f·v, and the observed energy
    E = Σ P·dt is **positive when energy flowed into the environment** (it absorbed energy:
    passive so far) and negative when the environment generated energy (active).

The variant implemented (one step per tick, plain floats, ~1 µs)
    1. Observer, time-correct pairing: the force that acted on the device during the period
       that just ended is paired with the velocity measured at its end:
       E(n) = E(n−1) − f_applied(n−1)·v(n)·dt. By default f_applied is this function's own
       previous output (zero-order hold, no transport delay); pass `applied=` — e.g. the
       force the device echoes in its state sample — when commands reach the device later
       or are changed downstream (safety clamps). With v(n) the backward difference
       (x(n) − x(n−1))/dt this is the exact energy of a held force, and it sees what the
       original f(n)·v(n) pairing cannot: a sampled, held spring generates ½·K·Σ Δx² of
       energy (Colgate's sampled-wall effect), and a delayed one more. Paired f(n)·v(n), a
       backward-difference spring even looks dissipative, so the PC never fires (checked
       in the stiffness bench: with that pairing it never acts and gains nothing).
    2. Controller, H&R's rule on the predicted energy: if this tick's force acting at the
       current velocity would leave W = E(n) − f(n)·v(n)·dt < 0, a variable damper
       α = −W / (|v|²·dt) is added, f_out = f − α·v, so W becomes 0. α is bounded by
       `max_damping_ns_per_m`; what a bounded α could not dissipate stays in E (carried
       over, never forgiven) and is worked off on later ticks.
    3. No reset: E accumulates for the whole session.

Guarantee: after each step the *predicted* energy is ≥ 0 whenever α did not saturate and
v ≠ 0. The *observed* energy one tick later differs from it by the prediction error
−f_out(n)·(v(n+1) − v(n))·dt (and by what the force that reaches the device differs from
f_out), so it can dip below zero by about one tick's worth before the PC repays it.

Known issues (documented, not solved here)
    * Velocity noise and quantisation: α = −W/(|v|²·dt) explodes as v → 0, so a noisy
      velocity makes the PC chatter (impulsive damping); hence the bound on α, which also
      keeps the *delayed* damper itself stable (α·dt/m well below 1 for the device mass m).
    * Deficit memory: with α bounded, a hard impact against a stiff wall can leave a deficit
      (tens of mJ) that small velocities repay only slowly, so after the impact the PC acts
      like a fixed damper of `max_damping_ns_per_m` until the operator's motion has worked
      it off. In the 1-D stiffness bench the PC is then saturated on nearly every contact
      tick, and a fixed wall damper of the same size stabilises the same stiffness: the PC's
      advantage is that it engages by itself, only after activity, not that it is gentler.
    * Energy bank: energy absorbed earlier (e.g. a spring pressed in, or a damper pushed
      through) is credit the environment may later give back as activity before the PC
      reacts. Passivity bounds the total energy generated, not its timing, so a pressed
      stiff wall may ring for a while before it settles.
    * "Reset" variants (E reset to 0 at contact loss, windowed observers, reference-energy
      following) remove the bank but leak energy: every reset that forgives a deficit lets
      the port generate that much again, so repeated contacts can pump a bouncing limit
      cycle. This module never resets; `PassivityState()` starts a new session.
    * The observer sees only the virtual environment, not the device's physical damping,
      so the PC is conservative: it acts on walls that the device's friction would have
      kept stable anyway (see haptics.bench.stiffness for what that costs and buys).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from haptics.devices.device import Vec3

# Default bound on the PC's damping, sized for the simulated stylus (0.1 kg) at 1 kHz:
# α·dt/m = 0.2, i.e. the damper removes at most a fifth of the velocity per tick. The PC's
# damper is itself delayed (computed from one sample, applied a tick or more later), and a
# delayed damper that is too strong turns active: in haptics.bench.stiffness 20 N·s/m gains
# 2.2-2.7x stiffness for 0 to 3 ticks of delay, while 50 N·s/m gains nothing at 0 ticks and
# only 1.4x at 2, and 100 N·s/m (one tick) is worse than no PC at all. Scale it with the
# device's mass: about 0.2·m/dt.
DEFAULT_MAX_DAMPING_NS_PER_M: Final = 20.0


class PassivityState(NamedTuple):
    """Observer state. Start a session with `PassivityState()`.

    energy_j: observed port energy (J, into the environment positive). dissipated_j: total
    energy the PC has dissipated (J, predicted α·|v|²·dt summed). fx, fy, fz: the corrected
    force returned last step (N), used as the applied force when none is given.
    """

    energy_j: float = 0.0
    dissipated_j: float = 0.0
    fx: float = 0.0
    fy: float = 0.0
    fz: float = 0.0


def passivity_step(
    state: PassivityState,
    force: Vec3,
    velocity: Vec3,
    dt_s: float,
    applied: Vec3 | None = None,
    max_damping_ns_per_m: float = DEFAULT_MAX_DAMPING_NS_PER_M,
) -> tuple[PassivityState, Vec3, float, float, float]:
    """Observe one period and correct this tick's force so the port stays passive.

    force: the environment's force on the device for this tick (N); velocity: the device
    velocity now (m/s; a backward difference of positions keeps the energy exact);
    dt_s: the tick period (s); applied: the force that acted on the device during the period
    that just ended (default: the previous output); max_damping_ns_per_m: bound on α
    (N·s/m; 0 turns the controller off and leaves the observer).
    Returns (new state, corrected force N, α N·s/m, observed energy J, energy the PC
    dissipates this tick J). Non-finite inputs never poison the energy: a non-finite power
    is skipped and the force is passed through unchanged (safety zeroes it downstream).
    Never raises.
    """
    vx, vy, vz = velocity
    if applied is None:
        ax, ay, az = state.fx, state.fy, state.fz
    else:
        ax, ay, az = applied
    e = state.energy_j
    observed = -(ax * vx + ay * vy + az * vz) * dt_s
    if observed - observed == 0.0:  # finite
        e += observed
    fx, fy, fz = force
    w = e - (fx * vx + fy * vy + fz * vz) * dt_s
    alpha = 0.0
    dissipated = 0.0
    if w < 0.0:  # False for NaN
        v2dt = (vx * vx + vy * vy + vz * vz) * dt_s
        if v2dt > 0.0 and v2dt - v2dt == 0.0:
            alpha = -w / v2dt
            if not alpha <= max_damping_ns_per_m:
                alpha = max_damping_ns_per_m
            fx, fy, fz = fx - alpha * vx, fy - alpha * vy, fz - alpha * vz
            dissipated = alpha * v2dt
    return (
        PassivityState(e, state.dissipated_j + dissipated, fx, fy, fz),
        (fx, fy, fz),
        alpha,
        e,
        dissipated,
    )
