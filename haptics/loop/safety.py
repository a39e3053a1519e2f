"""Safety on the force path: a policy as data, and pure step functions of (state, input, time).

The policy (`SafetyPolicy`) is a pydantic model, one per device, loaded from TOML with
`load_policy`. The tick never touches it: `SafetyLimits.from_policy` turns it once into a
NamedTuple of plain floats and ints, and `safety_step` takes that, the previous
`SafetyState`, the rendered force and the device state, and returns the new state, the force
that is safe to command and `SAFETY_*` flag bits. Time is an argument (`now_ns`), so the same
function runs in the loop, in tests faster than real time, and could move to firmware.

What one `safety_step` does, in order (each step only ever makes the force smaller or
slower, never creates force):

1. **E-stop** (input `estop` or latched): zero force, `SAFETY_ESTOP`, disengaged. The latch
   holds until `reset_estop(state)`; then force re-engages like at start-up.
2. **No device force**: no sample from the device yet (`waiting`), or the device reports it
   holds zero force on its own (`device_off`: disarmed, its watchdog tripped): zero force,
   disengaged (`SAFETY_WAITING` / `SAFETY_DEVICE_OFF`), so force returns through engage-below
   and the ramp, never as a jump to the loop's last force.
3. **Bad input**: any non-finite force, position or velocity component, or an input age that
   is NaN or more negative than the clock skew allowed (`CLOCK_SKEW_NS`): zero force,
   `SAFETY_BAD_INPUT`, disengaged.
4. **Input watchdog**: input older than `input_watchdog_ms` (the driver went silent): zero
   force, `SAFETY_INPUT_LOST | SAFETY_STALE`, disengaged. The loop should stop pushing.
5. **Clamp** the magnitude to `max_force_n` (`SAFETY_CLAMPED`), direction kept.
6. **Stale input** (older than `stale_hold_ms`): scale by a gain fading linearly to zero over
   `stale_fade_ms` (`SAFETY_STALE`).
7. **Velocity**: above `max_velocity_m_s` the target force is zero (`SAFETY_VELOCITY`); the
   rate limit below turns that into a fade, not a jolt.
8. **Fence**: outside the axis-aligned workspace box, only components that push the stylus
   back toward the box on the axes where it is outside are kept; everything else is zeroed
   (`SAFETY_FENCE`). Safety never *adds* a restoring force: it only filters, so outside the
   box the force is restoring or zero.
9. **Engage** (CHAI3D's start-up rule): while disengaged the output is zero and
   `SAFETY_ENGAGING` is set; force engages on the first tick where the rendered force
   (clamped, but before the stale/velocity fades and the fence, so a fade or the fence
   hiding a large force cannot sneak it in) is below `engage_below_n`; then the target is
   scaled by a ramp going 0 → 1 over `ramp_in_s`.
10. **Rate limit**: the output moves from the previous output toward the target by at most
   `max_force_rate_n_per_s × dt` (vector norm; `SAFETY_RATE_LIMITED`), with dt the time since
   the previous call, clipped to [0, `RATE_WINDOW_NS`] so a stalled or out-of-order clock
   never unlocks a big jump.
11. The fence is applied once more to the output: components the fence forbids are **cut to
    zero at once** instead of faded (the stylus is already outside).

Rate-limit exemptions (deliberate): cuts to zero for safety are immediate, not rate limited —
e-stop, bad input and input loss zero the whole vector, the fence zeroes forbidden
components. Everything else — clamping, stale fade, the velocity fade, engaging, the ramp,
ordinary changes of the rendered force — is rate limited. Precisely: for every call, the
components of the output that are not exactly zero changed (jointly, as a vector) by at most
`max_force_rate_n_per_s × dt`.

Invariants (property-tested in tests/haptics/test_safety_policy.py): the output is finite,
its norm is ≤ max_force_n, zero while the e-stop is latched, zero until engaged, its norm is
≤ ramp × max_force_n during the ramp, and restoring-or-zero outside the fence.

"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Final, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from haptics.devices.device import ZERO, Vec3
from haptics.errors import ConfigError
from haptics.wire.messages import (
    FLAG_BAD_INPUT,
    FLAG_CLAMPED,
    FLAG_ENGAGING,
    FLAG_ESTOP,
    FLAG_STALE_INPUT,
)

# -- flag bits returned by safety_step ---------------------------------------------------------
SAFETY_CLAMPED: Final = 1 << 0  # magnitude clamped to max_force_n
SAFETY_RATE_LIMITED: Final = 1 << 1  # the change was limited by max_force_rate_n_per_s
SAFETY_VELOCITY: Final = 1 << 2  # stylus faster than max_velocity_m_s: force fading to zero
SAFETY_FENCE: Final = 1 << 3  # outside the workspace fence: only restoring force (or zero)
SAFETY_ENGAGING: Final = 1 << 4  # not engaged yet, or ramping in
SAFETY_STALE: Final = 1 << 5  # input older than stale_hold_ms: force fading
SAFETY_ESTOP: Final = 1 << 6  # e-stop latched: zero force until reset_estop
SAFETY_BAD_INPUT: Final = 1 << 7  # non-finite force/position/velocity or bad age: zero force
SAFETY_INPUT_LOST: Final = 1 << 8  # input older than input_watchdog_ms: zero force
SAFETY_WAITING: Final = 1 << 9  # no sample from the device yet: zero force
SAFETY_DEVICE_OFF: Final = 1 << 10  # the device holds zero force itself (disarmed, watchdog)

SAFETY_FLAG_NAMES: Final = {
    SAFETY_CLAMPED: "clamped",
    SAFETY_RATE_LIMITED: "rate_limited",
    SAFETY_VELOCITY: "velocity",
    SAFETY_FENCE: "fence",
    SAFETY_ENGAGING: "engaging",
    SAFETY_STALE: "stale",
    SAFETY_ESTOP: "estop",
    SAFETY_BAD_INPUT: "bad_input",
    SAFETY_INPUT_LOST: "input_lost",
    SAFETY_WAITING: "waiting",
    SAFETY_DEVICE_OFF: "device_off",
}

# Flags whose force change is an immediate safety cut (to zero), exempt from the rate limit.
SAFETY_CUTS: Final = (
    SAFETY_ESTOP
    | SAFETY_WAITING
    | SAFETY_DEVICE_OFF
    | SAFETY_BAD_INPUT
    | SAFETY_INPUT_LOST
    | SAFETY_FENCE
)

# The rate limit allows at most this much time's worth of change in one call (2 ms): after a
# stall the force does not jump by the whole stall's allowance at once.
RATE_WINDOW_NS: Final = 2_000_000
# Input ages down to −5 ms are accepted as fresh (the loop stamps its wake before the newest
# sample was published, so small negative ages are normal); more negative is bad input.
CLOCK_SKEW_NS: Final = 5_000_000

_INF: Final = math.inf


# -- the policy (pydantic, at the edges) --------------------------------------------------------
class SafetyPolicy(BaseModel):
    """Safety limits for one device, loaded from config (see `load_policy`).

    Units are in the field names. The device's own schema caps `max_force_n` when a session
    starts. Unknown keys are rejected so that a misspelt limit is an error, not a silent
    default; every number must be finite and within a sane upper bound (a watchdog of `inf`
    is no watchdog). Raises pydantic.ValidationError on invalid values (load_policy turns
    that into ConfigError).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_force_n: float = Field(8.0, gt=0, le=200.0, description="never command more than this (N)")
    max_force_rate_n_per_s: float = Field(
        2000.0,
        gt=0,
        le=1e7,
        description="largest change of the force vector per second (N/s); 2000 N/s lets a "
        "stiff wall build up 2 N per 1 ms tick",
    )
    max_velocity_m_s: float = Field(
        1.0,
        gt=0,
        le=100.0,
        description="above this stylus speed (m/s) the force fades to zero: palpation stays "
        "well under 0.5 m/s, a stylus flung by an unstable rendering does not",
    )
    fence_min_m: tuple[float, float, float] | None = Field(
        None, description="workspace fence, lower corner (m, device frame); None: no fence"
    )
    fence_max_m: tuple[float, float, float] | None = Field(
        None, description="workspace fence, upper corner (m, device frame); None: no fence"
    )
    engage_below_n: float = Field(
        0.2,
        gt=0,
        le=200.0,
        description="force engages only once the rendered force is below this (N)",
    )
    ramp_in_s: float = Field(
        0.5,
        ge=0,
        le=60.0,
        description="after engaging, force ramps 0 → 100 % over this long (s); 0: no ramp. "
        "CHAI3D uses 2 s on hardware; 0.5 s by default because engaging already requires a "
        "force below engage_below_n and the rate limit bounds every change, so the ramp only "
        "has to let an operator feel force build up (0.5 s is over twice a reaction time) "
        "and simulated sessions and tests stay short. Set 2.0 in a hardware policy.",
    )
    stale_hold_ms: float = Field(
        5.0, ge=0, le=1000.0, description="keep rendering this long without a new sample"
    )
    stale_fade_ms: float = Field(
        20.0, gt=0, le=10_000.0, description="then fade force to zero over this long"
    )
    driver_watchdog_ms: float = Field(
        30.0,
        gt=0,
        le=1000.0,
        description="the driver zeroes force when no command came for this long (ms); "
        "dVRK's hardware watchdog is 30 ms",
    )
    input_watchdog_ms: float = Field(
        50.0,
        gt=0,
        le=1000.0,
        description="the loop zeroes force and flags input_lost when the newest sample is "
        "older than this (ms)",
    )
    estop_buttons: int = Field(
        0, ge=0, description="device button bits that act as an e-stop (0: none)"
    )

    @model_validator(mode="after")
    def _check_fence(self) -> Self:
        lo, hi = self.fence_min_m, self.fence_max_m
        if (lo is None) != (hi is None):
            raise ValueError("set both fence_min_m and fence_max_m, or neither")
        if lo is not None and hi is not None:
            for axis, a, b in zip("xyz", lo, hi, strict=True):
                if not (math.isfinite(a) and math.isfinite(b) and a < b):
                    raise ValueError(
                        f"fence {axis}: need finite fence_min_m < fence_max_m, got {a} and {b}"
                    )
        return self


def load_policy(path: str | Path) -> SafetyPolicy:
    """Load a device's `SafetyPolicy` from a TOML file whose top-level keys are its fields.

    Raises ConfigError when the file cannot be read, is not valid TOML, or holds an unknown
    key or an invalid value; the message names the file and the offending fields.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read safety policy {p}: {exc}; check the path") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"safety policy {p} is not valid TOML: {exc}") from exc
    try:
        return SafetyPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"safety policy {p} is invalid: {problems}. "
            "Fix these keys (see docs/examples/safety-simulated.toml)."
        ) from exc


# -- the tick's view of the policy --------------------------------------------------------------
class SafetyLimits(NamedTuple):
    """The policy precomputed into plain floats and ints for the tick (see `from_policy`)."""

    max_force_n: float
    rate_n_per_ns: float  # max_force_rate_n_per_s / 1e9
    max_velocity_sq: float  # (m/s)²
    fence: bool
    fence_min_x: float
    fence_min_y: float
    fence_min_z: float
    fence_max_x: float
    fence_max_y: float
    fence_max_z: float
    engage_below_n: float
    ramp_ns: int
    stale_hold_ns: int
    stale_fade_ns: int
    input_watchdog_ns: int
    driver_watchdog_ns: int
    estop_buttons: int

    @classmethod
    def from_policy(cls, policy: SafetyPolicy) -> SafetyLimits:
        """Precompute a policy's limits (call once, outside the tick)."""
        lo = policy.fence_min_m or (-_INF, -_INF, -_INF)
        hi = policy.fence_max_m or (_INF, _INF, _INF)
        return cls(
            max_force_n=float(policy.max_force_n),
            rate_n_per_ns=policy.max_force_rate_n_per_s * 1e-9,
            max_velocity_sq=policy.max_velocity_m_s**2,
            fence=policy.fence_min_m is not None,
            fence_min_x=float(lo[0]),
            fence_min_y=float(lo[1]),
            fence_min_z=float(lo[2]),
            fence_max_x=float(hi[0]),
            fence_max_y=float(hi[1]),
            fence_max_z=float(hi[2]),
            engage_below_n=float(policy.engage_below_n),
            ramp_ns=round(policy.ramp_in_s * 1e9),
            stale_hold_ns=round(policy.stale_hold_ms * 1e6),
            stale_fade_ns=max(1, round(policy.stale_fade_ms * 1e6)),
            input_watchdog_ns=round(policy.input_watchdog_ms * 1e6),
            driver_watchdog_ns=round(policy.driver_watchdog_ms * 1e6),
            estop_buttons=policy.estop_buttons,
        )


class SafetyState(NamedTuple):
    """What safety remembers between ticks. Start with `SafetyState()`.

    fx, fy, fz: the force commanded last tick (N). engaged: force allowed (after the
    engage-below check). ramp: ramp-in fraction 0..1. estop: e-stop latched. last_ns: the
    `now_ns` of the previous call (None before the first).
    """

    fx: float = 0.0
    fy: float = 0.0
    fz: float = 0.0
    engaged: bool = False
    ramp: float = 0.0
    estop: bool = False
    last_ns: int | None = None

    @property
    def force(self) -> Vec3:
        """The force commanded last tick (N)."""
        return (self.fx, self.fy, self.fz)


def reset_estop(state: SafetyState) -> SafetyState:
    """Clear a latched e-stop. Force stays zero and re-engages like at start-up.

    If the e-stop input is still asserted on the next `safety_step`, it latches again.
    """
    return SafetyState(0.0, 0.0, 0.0, False, 0.0, False, state.last_ns)


def safety_step(
    limits: SafetyLimits,
    state: SafetyState,
    force: Vec3,
    position: Vec3,
    velocity: Vec3,
    input_age_ns: int,
    now_ns: int,
    estop: bool,
    *,
    waiting: bool = False,
    device_off: bool = False,
) -> tuple[SafetyState, Vec3, int]:
    """One tick of safety: returns (new state, force safe to command in N, SAFETY_* bits).

    force: rendered force (N, device frame); position (m) and velocity (m/s): the newest
    device sample; input_age_ns: now − that sample's time (negative down to −CLOCK_SKEW_NS is
    accepted as fresh); now_ns: the tick's time (any monotonic ns clock; going backwards is
    tolerated and treated as no time passing); estop: the e-stop input this tick;
    waiting: no sample from the device has arrived yet; device_off: the newest sample says
    the device holds zero force on its own (disarmed, or its watchdog tripped).
    Never raises for any float input; the rules are listed in the module docstring.
    """
    (
        max_f,
        rate,
        vmax_sq,
        fence,
        x_lo,
        y_lo,
        z_lo,
        x_hi,
        y_hi,
        z_hi,
        engage_below,
        ramp_ns,
        hold_ns,
        fade_ns,
        input_wd_ns,
        _driver_wd_ns,
        _estop_buttons,
    ) = limits
    lx, ly, lz, engaged, ramp, latched, last_ns = state

    if estop or latched:
        return SafetyState(0.0, 0.0, 0.0, False, 0.0, True, now_ns), ZERO, SAFETY_ESTOP
    if waiting or device_off:
        return (
            SafetyState(0.0, 0.0, 0.0, False, 0.0, False, now_ns),
            ZERO,
            (SAFETY_WAITING if waiting else 0) | (SAFETY_DEVICE_OFF if device_off else 0),
        )

    fx, fy, fz = force
    px, py, pz = position
    vx, vy, vz = velocity
    # x * 0.0 is 0.0 for every finite x and NaN for ±inf and NaN: one sum checks all nine.
    if (
        fx * 0.0
        + fy * 0.0
        + fz * 0.0
        + px * 0.0
        + py * 0.0
        + pz * 0.0
        + vx * 0.0
        + vy * 0.0
        + vz * 0.0
        != 0.0
    ) or not (input_age_ns >= -CLOCK_SKEW_NS):
        return SafetyState(0.0, 0.0, 0.0, False, 0.0, False, now_ns), ZERO, SAFETY_BAD_INPUT
    if input_age_ns > input_wd_ns:
        return (
            SafetyState(0.0, 0.0, 0.0, False, 0.0, False, now_ns),
            ZERO,
            SAFETY_INPUT_LOST | SAFETY_STALE,
        )

    if last_ns is None:
        dt_ns = 0
    else:
        dt_ns = now_ns - last_ns
        if dt_ns < 0:
            dt_ns = 0
        elif dt_ns > RATE_WINDOW_NS:
            dt_ns = RATE_WINDOW_NS
    flags = 0

    # 4. clamp (hypot avoids squaring; only components near the float limit give inf)
    n = math.hypot(fx, fy, fz)
    if n > max_f:
        if n == _INF:  # components near the float limit: rescale first
            m = max(abs(fx), abs(fy), abs(fz))
            fx, fy, fz = fx / m, fy / m, fz / m
            n = math.hypot(fx, fy, fz)
        s = max_f / n
        fx, fy, fz = fx * s, fy * s, fz * s
        flags = SAFETY_CLAMPED
        n = max_f
    # 5. stale fade
    if input_age_ns > hold_ns:
        g = 1.0 - (input_age_ns - hold_ns) / fade_ns
        if g < 0.0:
            g = 0.0
        fx, fy, fz = fx * g, fy * g, fz * g
        flags |= SAFETY_STALE
    # 6. velocity
    if vx * vx + vy * vy + vz * vz > vmax_sq:
        fx = fy = fz = 0.0
        flags |= SAFETY_VELOCITY
    # 7. fence on the target
    outside = fence and (px < x_lo or px > x_hi or py < y_lo or py > y_hi or pz < z_lo or pz > z_hi)
    if outside:
        flags |= SAFETY_FENCE
        fx = _restoring(fx, px, x_lo, x_hi)
        fy = _restoring(fy, py, y_lo, y_hi)
        fz = _restoring(fz, pz, z_lo, z_hi)
    # 8. engage, then ramp
    if engaged:
        if ramp < 1.0:
            ramp = ramp + dt_ns / ramp_ns if ramp_ns > 0 else 1.0
            if ramp > 1.0:
                ramp = 1.0
    elif n < engage_below:  # the rendered force, before fades and fence
        engaged = True
        ramp = 0.0 if ramp_ns > 0 else 1.0
    else:
        return (
            SafetyState(0.0, 0.0, 0.0, False, 0.0, False, now_ns),
            ZERO,
            flags | SAFETY_ENGAGING,
        )
    if ramp < 1.0:
        fx, fy, fz = fx * ramp, fy * ramp, fz * ramp
        flags |= SAFETY_ENGAGING
    # 9. rate limit
    dx, dy, dz = fx - lx, fy - ly, fz - lz
    d2 = dx * dx + dy * dy + dz * dz
    step = rate * dt_ns
    if d2 > step * step:
        s = step / math.sqrt(d2)
        fx, fy, fz = lx + dx * s, ly + dy * s, lz + dz * s
        flags |= SAFETY_RATE_LIMITED
    # 10. the fence cuts forbidden components of the output at once
    if outside:
        fx = _restoring(fx, px, x_lo, x_hi)
        fy = _restoring(fy, py, y_lo, y_hi)
        fz = _restoring(fz, pz, z_lo, z_hi)
    return SafetyState(fx, fy, fz, engaged, ramp, False, now_ns), (fx, fy, fz), flags


def _restoring(f: float, p: float, lo: float, hi: float) -> float:
    """One axis of the fence rule: keep `f` only if the stylus is outside on this axis and `f`
    points back toward the box; otherwise zero."""
    if p > hi:
        return f if f < 0.0 else 0.0
    if p < lo:
        return f if f > 0.0 else 0.0
    return 0.0


def command_flags(safety_flags: int) -> int:
    """Map SAFETY_* bits onto the COMMAND/TELEMETRY FLAG_* bits that exist today.

    Limits (clamp, rate, velocity, fence) → FLAG_CLAMPED; stale or lost input →
    FLAG_STALE_INPUT; bad input → FLAG_BAD_INPUT. E-stop and engaging have no FLAG_* bit yet:
    record the SAFETY_* bits themselves where they matter.
    """
    out = 0
    if safety_flags & (SAFETY_CLAMPED | SAFETY_RATE_LIMITED | SAFETY_VELOCITY | SAFETY_FENCE):
        out |= FLAG_CLAMPED
    if safety_flags & (SAFETY_STALE | SAFETY_INPUT_LOST):
        out |= FLAG_STALE_INPUT
    if safety_flags & SAFETY_BAD_INPUT:
        out |= FLAG_BAD_INPUT
    if safety_flags & SAFETY_ESTOP:
        out |= FLAG_ESTOP
    if safety_flags & (SAFETY_ENGAGING | SAFETY_WAITING | SAFETY_DEVICE_OFF):
        out |= FLAG_ENGAGING
    return out


def describe_flags(safety_flags: int) -> list[str]:
    """Names of the SAFETY_* bits set in `safety_flags` (for logs and the CLI, not the tick)."""
    return [name for bit, name in SAFETY_FLAG_NAMES.items() if safety_flags & bit]
