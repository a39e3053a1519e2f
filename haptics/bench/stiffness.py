"""Highest stable virtual-wall stiffness, with and without the passivity controller.

The model (a sampled-data system, all of it in this file):

* **Device + hand** (continuous time, 1-D along the wall normal, x > 0 inside the wall):
  m·ẍ = −b·ẋ − k_h·(x − x_target) + F(t). Defaults are the simulated device's hand–arm
  model (drivers/simulated/hand.py, not imported: `haptics` never imports `drivers`):
  m = 0.1 kg, b = 8.9 N·s/m, k_h = 400 N/m. The hand starts at rest 5 mm outside the wall
  and aims 10 mm deep (like the palpation script's press), so it strikes the wall and
  then keeps pushing with ~4 N.
* **Sampling**: position and velocity are sampled every T = 1/rate_hz (1 kHz). The loop's
  velocity estimate is the backward difference of sampled positions.
* **Wall** (computed from sample n): F = −(K·p + B_w·v̂) while p = x > 0, never pulling.
* **Passivity controller** (optional): `haptics.loop.passivity.passivity_step` on F, observing the
  force actually applied during the last period (what a device echoes) against v̂.
* **Delay and hold**: the command computed from sample n reaches the device `delay_samples`
  periods later (default 1: one period of computation + communication) and is held
  constant for one period (zero-order hold). Between samples the linear device dynamics
  are integrated exactly (ZOH discretisation with the matrix exponential), so there is no
  integration error to mistake for (in)stability.

Stability criterion (the same for both, one simulated press of `duration_s`): let W1 and W2
be the last two windows of `window_s` each. The wall is **stable at K** iff
  1. the stylus touched the wall before W1 and never lost contact in W1 or W2 (no bounce,
     no limit cycle through contact loss),
  2. the oscillation decays: max|v| over W2 ≤ max(decay_ratio · max|v| over W1,
     velocity_floor_m_s) — a sustained or growing oscillation fails, one that decays by at
     least half per window (or is below 10 µm/s, i.e. tens of nm of motion) passes,
  3. the wall still holds: the mean penetration over W2 is within `hold_tolerance` (10 %)
     of the static penetration k_h·x_target / (K + k_h). This keeps the comparison honest:
     a controller that turned the wall into mush would fail here.
The highest stable stiffness is found by a geometric scan from `k_min` up to the first
unstable K, then bisection to `rel_tol`; a few stiffnesses above the result are checked
again, and `monotonic` reports whether they were all unstable.

References reported with the result: Colgate & Schenkel's passivity bound for an undelayed
sampled wall, b > K·T/2 + B_w, i.e. K < 2·(b − B_w)/T; the linear in-contact stability
bound of this very model without the controller (eigenvalues of the closed loop), which the
simulated criterion should reproduce (it lands a few % below: near the bound the decay is
too slow for the decay rule); and the highest stable K without the PC but with a fixed wall
damper as large as the PC's bound — in this 1-D model the PC stabilises about what that
damper does, because after the first impact it is saturated on most contact ticks (see
haptics.loop.passivity, "deficit memory").
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.linalg

from haptics.errors import ConfigError
from haptics.loop.passivity import PassivityState, passivity_step


@dataclass(frozen=True)
class BenchParams:
    """Everything the stiffness benchmark depends on. Raises ConfigError when inconsistent."""

    mass_kg: float = 0.1  # stylus + fingertip (simulated device's hand model)
    damping_ns_per_m: float = 8.9  # hand–arm damping b
    hand_stiffness_n_per_m: float = 400.0  # hand–arm stiffness k_h
    hand_target_m: float = 0.010  # where the hand aims, inside the wall (wall at x = 0)
    start_m: float = -0.005  # stylus at rest here at t = 0 (outside the wall)
    rate_hz: float = 1000.0  # sampling / servo rate
    delay_samples: int = 1  # command from sample n applied over [n + d, n + d + 1)
    wall_damping_ns_per_m: float = 0.0  # B_w, on the backward-difference velocity
    max_damping_ns_per_m: float = 20.0  # bound on the PC's α
    max_force_n: float | None = None  # device force saturation (None: linear, none)
    duration_s: float = 3.0  # one press
    window_s: float = 0.5  # the two judging windows at the end
    decay_ratio: float = 0.5  # W2 amplitude must be ≤ this × W1 amplitude ...
    velocity_floor_m_s: float = 1e-5  # ... or below this
    hold_tolerance: float = 0.1  # |mean / static penetration − 1| allowed
    k_min: float = 500.0  # scan start (N/m); must be stable
    k_max: float = 300_000.0  # scan end (N/m)
    grid_factor: float = 1.25  # scan step
    rel_tol: float = 0.01  # bisection stops at this relative width

    def __post_init__(self) -> None:
        positive = (
            "mass_kg",
            "damping_ns_per_m",
            "hand_stiffness_n_per_m",
            "hand_target_m",
            "rate_hz",
            "max_damping_ns_per_m",
            "duration_s",
            "window_s",
            "velocity_floor_m_s",
            "hold_tolerance",
            "k_min",
            "rel_tol",
        )
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"stiffness bench: {name} must be a positive number, got {value}")
        if not self.start_m < 0:
            raise ConfigError("stiffness bench: start_m must be outside the wall (< 0)")
        if self.delay_samples < 0:
            raise ConfigError("stiffness bench: delay_samples must be ≥ 0")
        if not 0 <= self.wall_damping_ns_per_m < math.inf:
            raise ConfigError("stiffness bench: wall_damping_ns_per_m must be ≥ 0")
        if not 0 < self.decay_ratio < 1:
            raise ConfigError("stiffness bench: decay_ratio must be in (0, 1)")
        if not self.grid_factor > 1:
            raise ConfigError("stiffness bench: grid_factor must be > 1")
        if not self.k_max > self.k_min:
            raise ConfigError("stiffness bench: k_max must be > k_min")
        if self.max_force_n is not None and not self.max_force_n > 0:
            raise ConfigError("stiffness bench: max_force_n must be > 0 (or None)")
        if self.duration_s < 2 * self.window_s + 0.2:
            raise ConfigError(
                "stiffness bench: duration_s must leave ≥ 0.2 s for the first contact before "
                "the two judging windows (duration_s ≥ 2·window_s + 0.2)"
            )

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz


@lru_cache(maxsize=32)
def _discretise(m: float, b: float, kh: float, t: float) -> tuple[float, ...]:
    """Exact ZOH discretisation of ẋ = v, m·v̇ = −b·v − k_h·x + u: (Φ11, Φ12, Φ21, Φ22, Γ1, Γ2)."""
    a = np.array([[0.0, 1.0, 0.0], [-kh / m, -b / m, 1.0 / m], [0.0, 0.0, 0.0]])
    e = scipy.linalg.expm(a * t)
    return tuple(float(x) for x in (e[0, 0], e[0, 1], e[1, 0], e[1, 1], e[0, 2], e[1, 2]))


@dataclass
class WallRun:
    """One simulated press at one stiffness, judged by the criterion."""

    k_n_per_m: float
    passivity: bool
    stable: bool
    reason: str
    first_contact_s: float | None
    bounces: int  # contact losses after the first contact
    amplitude_w1_m_s: float
    amplitude_w2_m_s: float
    contact_lost_in_windows: bool
    static_penetration_m: float
    mean_penetration_m: float  # over W2
    max_penetration_m: float  # whole run
    mean_force_n: float  # magnitude, over W2
    effective_stiffness_n_per_m: float  # mean force / mean penetration over W2
    pc_dissipated_j: float
    pc_active_fraction: float  # ticks with α > 0, after first contact
    pc_max_alpha_ns_per_m: float
    pc_min_energy_j: float

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values (NaN, for figures a run did not reach, becomes None)."""
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in dataclasses.asdict(self).items()
        }


def simulate_wall(params: BenchParams, k_n_per_m: float, passivity: bool) -> WallRun:
    """Simulate one press against a wall of stiffness `k_n_per_m` (N/m) and judge it."""
    p = params
    t_s = p.period_s
    p11, p12, p21, p22, g1, g2 = _discretise(
        p.mass_kg, p.damping_ns_per_m, p.hand_stiffness_n_per_m, t_s
    )
    k, bw, d = k_n_per_m, p.wall_damping_ns_per_m, p.delay_samples
    hand_u = p.hand_stiffness_n_per_m * p.hand_target_m
    sat = p.max_force_n if p.max_force_n is not None else math.inf
    amax = p.max_damping_ns_per_m
    n_steps = round(p.duration_s / t_s)
    n_win = round(p.window_s / t_s)
    w1_start, w2_start = n_steps - 2 * n_win, n_steps - n_win

    x, v = p.start_m, 0.0
    x_prev = x
    pending = [0.0] * d  # commands computed but not yet applied, oldest at index i
    i = 0
    applied_last = 0.0  # force that acted during the period that just ended
    pc = PassivityState()
    first: int | None = None
    in_contact = False
    bounces = 0
    pen = [0.0] * n_steps
    vel = [0.0] * n_steps
    force = [0.0] * n_steps
    max_pen = 0.0
    pc_active = 0
    pc_max_alpha = 0.0
    pc_min_e = 0.0
    diverged = False
    for n in range(n_steps):
        v_hat = (x - x_prev) / t_s
        contact = x > 0.0
        if contact:
            f = -(k * x + bw * v_hat)
            if f > 0.0:
                f = 0.0
            if first is None:
                first = n
            if x > max_pen:
                max_pen = x
        else:
            f = 0.0
            if in_contact:
                bounces += 1
        in_contact = contact
        if passivity:
            pc, out, alpha, energy, _ = passivity_step(
                pc, (f, 0.0, 0.0), (v_hat, 0.0, 0.0), t_s, (applied_last, 0.0, 0.0), amax
            )
            f = out[0]
            if first is not None:
                if alpha > 0.0:
                    pc_active += 1
                    if alpha > pc_max_alpha:
                        pc_max_alpha = alpha
                if energy < pc_min_e:
                    pc_min_e = energy
        if f > sat:
            f = sat
        elif f < -sat:
            f = -sat
        if d:
            u = pending[i]
            pending[i] = f
            i = i + 1 if i + 1 < d else 0
        else:
            u = f
        pen[n], vel[n], force[n] = x, v, u
        applied_last = u
        x_prev = x
        x, v = p11 * x + p12 * v + g1 * (u + hand_u), p21 * x + p22 * v + g2 * (u + hand_u)
        if not (abs(x) < 1.0 and abs(v) < 1e3):
            diverged = True
            break

    static = p.hand_stiffness_n_per_m * p.hand_target_m / (k + p.hand_stiffness_n_per_m)
    run = WallRun(
        k_n_per_m=k,
        passivity=passivity,
        stable=False,
        reason="",
        first_contact_s=None if first is None else first * t_s,
        bounces=bounces,
        amplitude_w1_m_s=math.nan,
        amplitude_w2_m_s=math.nan,
        contact_lost_in_windows=True,
        static_penetration_m=static,
        mean_penetration_m=math.nan,
        max_penetration_m=max_pen,
        mean_force_n=math.nan,
        effective_stiffness_n_per_m=math.nan,
        pc_dissipated_j=pc.dissipated_j,
        pc_active_fraction=0.0 if first is None else pc_active / (n_steps - first),
        pc_max_alpha_ns_per_m=pc_max_alpha,
        pc_min_energy_j=pc_min_e,
    )
    if diverged:
        run.reason = "diverged"
        return run
    if first is None or first >= w1_start:
        run.reason = "no contact before the judging windows"
        return run
    w1, w2 = range(w1_start, w2_start), range(w2_start, n_steps)
    run.contact_lost_in_windows = any(pen[j] <= 0.0 for j in range(w1_start, n_steps))
    run.amplitude_w1_m_s = max(abs(vel[j]) for j in w1)
    run.amplitude_w2_m_s = max(abs(vel[j]) for j in w2)
    run.mean_penetration_m = sum(pen[j] for j in w2) / n_win
    run.mean_force_n = sum(abs(force[j]) for j in w2) / n_win
    if run.mean_penetration_m > 0:
        run.effective_stiffness_n_per_m = run.mean_force_n / run.mean_penetration_m
    decaying = run.amplitude_w2_m_s <= max(
        p.decay_ratio * run.amplitude_w1_m_s, p.velocity_floor_m_s
    )
    holds = abs(run.mean_penetration_m / static - 1.0) <= p.hold_tolerance
    if run.contact_lost_in_windows:
        run.reason = "contact lost in the judging windows (bouncing / limit cycle)"
    elif not decaying:
        run.reason = "oscillation does not decay (sustained or growing)"
    elif not holds:
        run.reason = "wall does not hold: mean penetration off the static value"
    else:
        run.stable = True
        run.reason = "settled"
    return run


def highest_stable_stiffness(
    params: BenchParams, passivity: bool
) -> tuple[float | None, bool, list[WallRun]]:
    """Scan K geometrically, then bisect: (highest stable K or None, monotonic, all runs)."""
    runs: list[WallRun] = []

    def stable(k: float) -> bool:
        r = simulate_wall(params, k, passivity)
        runs.append(r)
        return r.stable

    lo = params.k_min
    if not stable(lo):
        return None, True, runs
    hi: float | None = None
    k = lo
    while k < params.k_max:
        k = min(k * params.grid_factor, params.k_max)
        if stable(k):
            lo = k
        else:
            hi = k
            break
    if hi is None:
        return lo, True, runs  # stable over the whole scan: a lower bound
    while hi - lo > params.rel_tol * lo:
        mid = math.sqrt(lo * hi)
        if stable(mid):
            lo = mid
        else:
            hi = mid
    monotonic = not any(stable(lo * f) for f in (1.1, 1.25, 1.5))
    return lo, monotonic, runs


def linear_contact_bound(params: BenchParams, k_hi: float = 1e7) -> float:
    """Highest K for which the in-contact closed loop without PC is linearly stable (N/m).

    The state is (x_n, v_n, x_{n−1}, the d pending commands); stability means every
    eigenvalue of the one-period map lies inside the unit circle. Raises ConfigError if
    even `k_min` is unstable.
    """
    p = params
    t_s = p.period_s
    p11, p12, p21, p22, g1, g2 = _discretise(
        p.mass_kg, p.damping_ns_per_m, p.hand_stiffness_n_per_m, t_s
    )
    d = p.delay_samples
    bw = p.wall_damping_ns_per_m / t_s

    def radius(k: float) -> float:
        size = 3 + d
        a = np.zeros((size, size))
        # the command computed now: F_n = −(K + B_w/T)·x_n + (B_w/T)·x_{n−1}
        f_row = np.zeros(size)
        f_row[0], f_row[2] = -(k + bw), bw
        # the command applied now: F_n itself (d = 0) or the oldest pending one
        u_row = f_row if d == 0 else np.eye(size)[2 + d]
        a[0, 0], a[0, 1] = p11, p12
        a[1, 0], a[1, 1] = p21, p22
        a[0] += g1 * u_row
        a[1] += g2 * u_row
        a[2, 0] = 1.0
        if d:
            a[3] = f_row
            for j in range(1, d):
                a[3 + j, 2 + j] = 1.0
        return float(max(abs(np.linalg.eigvals(a))))

    lo, hi = p.k_min, k_hi
    if radius(lo) >= 1.0:
        raise ConfigError(f"stiffness bench: even K = {lo} N/m is unstable in contact")
    if radius(hi) < 1.0:
        return hi
    while hi - lo > 1e-4 * lo:
        mid = math.sqrt(lo * hi)
        if radius(mid) < 1.0:
            lo = mid
        else:
            hi = mid
    return lo


def run_stiffness_bench(params: BenchParams | None = None, **overrides: Any) -> dict[str, Any]:
    """Highest stable wall stiffness without and with the passivity controller.

    `overrides` replace fields of `params` (default `BenchParams()`), e.g. delay_samples=0.
    Returns a JSON-ready dict: device parameters, delay, criterion, the two stiffnesses and
    their ratio, the wall at each (mean penetration and force), reference bounds, every run
    and the runtime. Raises ConfigError for inconsistent parameters.
    """
    started = time.perf_counter()
    try:
        p = dataclasses.replace(params or BenchParams(), **overrides)
    except TypeError as exc:
        raise ConfigError(f"stiffness bench: {exc}") from exc
    t_s = p.period_s
    results: dict[str, Any] = {}
    all_runs: list[dict[str, Any]] = []
    for label, pc in (("without_pc", False), ("with_pc", True)):
        k, monotonic, runs = highest_stable_stiffness(p, pc)
        at = simulate_wall(p, k, pc) if k is not None else None
        results[label] = {
            "k_max_stable_n_per_m": k,
            "reached_scan_end": k is not None and k >= p.k_max,
            "monotonic": monotonic,
            "at_k_max": None if at is None else at.as_dict(),
        }
        all_runs += [r.as_dict() for r in sorted(runs, key=lambda r: r.k_n_per_m)]
    k0 = results["without_pc"]["k_max_stable_n_per_m"]
    k1 = results["with_pc"]["k_max_stable_n_per_m"]
    # The same stiffness as the PC's best, rendered without the PC: what the PC prevented.
    contrast = simulate_wall(p, k1, False).as_dict() if k1 is not None else None
    # A fixed wall damper as large as the PC's bound, without the PC: the PC's competition.
    damped = dataclasses.replace(
        p, wall_damping_ns_per_m=p.wall_damping_ns_per_m + p.max_damping_ns_per_m
    )
    k_damped = highest_stable_stiffness(damped, False)[0]
    return {
        "device": {
            "mass_kg": p.mass_kg,
            "damping_ns_per_m": p.damping_ns_per_m,
            "hand_stiffness_n_per_m": p.hand_stiffness_n_per_m,
            "hand_target_m": p.hand_target_m,
            "start_m": p.start_m,
            "max_force_n": p.max_force_n,
        },
        "rate_hz": p.rate_hz,
        "delay_samples": p.delay_samples,
        "delay_s": p.delay_samples * t_s,
        "hold": "zero-order hold, one period",
        "wall_damping_ns_per_m": p.wall_damping_ns_per_m,
        "pc_max_damping_ns_per_m": p.max_damping_ns_per_m,
        "criterion": {
            "duration_s": p.duration_s,
            "window_s": p.window_s,
            "decay_ratio": p.decay_ratio,
            "velocity_floor_m_s": p.velocity_floor_m_s,
            "hold_tolerance": p.hold_tolerance,
            "rule": "stable iff: first contact before the last two windows; no contact loss "
            "in them; max|v| in the last window ≤ max(decay_ratio × max|v| in the window "
            "before, velocity_floor); mean penetration in the last window within "
            "hold_tolerance of k_h·x_target/(K + k_h)",
            "search": f"geometric scan ×{p.grid_factor} from {p.k_min} N/m, then bisection "
            f"to {p.rel_tol:.0%}",
        },
        "without_pc": results["without_pc"],
        "with_pc": results["with_pc"],
        "ratio": (k1 / k0) if (k0 and k1) else None,
        "without_pc_at_with_pc_k": contrast,
        "reference": {
            "colgate_bound_undelayed_n_per_m": 2.0
            * (p.damping_ns_per_m - p.wall_damping_ns_per_m)
            / t_s,
            "colgate_rule": "b > K·T/2 + B_w (passivity of an undelayed sampled wall)",
            "linear_contact_bound_without_pc_n_per_m": linear_contact_bound(p),
            "fixed_wall_damper": {
                "wall_damping_ns_per_m": damped.wall_damping_ns_per_m,
                "k_max_stable_without_pc_n_per_m": k_damped,
                "note": "a constant wall damper as large as the PC's bound, no PC",
            },
        },
        "runs": all_runs,
        "runtime_s": time.perf_counter() - started,
    }
