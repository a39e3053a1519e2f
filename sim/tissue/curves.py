"""Run a tissue model through a depth profile and collect its answers as arrays.

Offline helpers for tests, plots and parameter tuning: faster than real time, pure (a model
and a profile in, arrays out). numpy is used to build profiles and hold results; the model's
`step` still sees plain floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Curve:
    """One run of a model, one row per step.

    time_s: time at the end of each step (dt, 2·dt, …).
    depth_m, velocity_m_s, tangential_velocity_m_s: the inputs.
    force_n, tangential_force_n, layer, events: the outputs.
    """

    time_s: FloatArray
    depth_m: FloatArray
    velocity_m_s: FloatArray
    tangential_velocity_m_s: FloatArray
    force_n: FloatArray
    tangential_force_n: FloatArray
    layer: IntArray
    events: IntArray

    def steps_with(self, event: int) -> NDArray[np.intp]:
        """Indices of the steps that raised `event` (an EVENT_* bit)."""
        return np.flatnonzero(self.events & event)


def _check_dt(dt_s: float) -> None:
    if not 0.0 < dt_s < math.inf:
        raise ConfigError(f"dt_s must be finite and > 0 (1e-3 at 1 kHz), got {dt_s}")


def run_profile(
    model: TissueModel[Any],
    depths_m: ArrayLike,
    dt_s: float = 1.0e-3,
    velocities_m_s: ArrayLike | None = None,
    tangential_velocities_m_s: ArrayLike | None = None,
) -> Curve:
    """Step `model` once per sample of `depths_m`, from its initial state.

    Velocity defaults to the backward difference of the depths, with the tool at depth 0
    before the first sample. Tangential velocity defaults to 0.

    Raises ConfigError if dt_s is not positive or the arrays differ in length.
    """
    _check_dt(dt_s)
    depth = np.asarray(depths_m, dtype=np.float64).reshape(-1)
    n = depth.size
    if velocities_m_s is None:
        velocity = np.diff(depth, prepend=0.0) / dt_s
    else:
        velocity = np.broadcast_to(np.asarray(velocities_m_s, dtype=np.float64), (n,)).copy()
    if tangential_velocities_m_s is None:
        tangential = np.zeros(n)
    else:
        tangential = np.broadcast_to(
            np.asarray(tangential_velocities_m_s, dtype=np.float64), (n,)
        ).copy()
    if velocity.size != n or tangential.size != n:
        raise ConfigError("depths, velocities and tangential velocities must have equal length")

    force = np.zeros(n)
    tangential_force = np.zeros(n)
    layer = np.zeros(n, dtype=np.int64)
    events = np.zeros(n, dtype=np.int64)
    state = model.initial_state()
    step = model.step
    samples = zip(depth.tolist(), velocity.tolist(), tangential.tolist(), strict=True)
    for k, (d, v, vt) in enumerate(samples):
        state, out = step(state, TissueInput(d, v, dt_s, vt))
        force[k] = out.force_n
        tangential_force[k] = out.tangential_force_n
        layer[k] = out.layer
        events[k] = out.events
    return Curve(
        time_s=dt_s * np.arange(1, n + 1, dtype=np.float64),
        depth_m=depth,
        velocity_m_s=velocity,
        tangential_velocity_m_s=tangential,
        force_n=force,
        tangential_force_n=tangential_force,
        layer=layer,
        events=events,
    )


def sweep(
    model: TissueModel[Any],
    depths_m: ArrayLike,
    velocity_m_s: float | None = None,
    dt_s: float = 1.0e-3,
) -> Curve:
    """Run `model` through `depths_m`, one step each.

    With `velocity_m_s` given every step sees that velocity (e.g. 0 for a quasi-static
    force-depth curve of a damped model); otherwise it is the backward difference.
    """
    return run_profile(model, depths_m, dt_s, velocities_m_s=velocity_m_s)


def _ramp(start_m: float, stop_m: float, speed_m_s: float, dt_s: float) -> FloatArray:
    """Samples after `start_m` up to and including `stop_m`, at `speed_m_s`."""
    steps = max(1, math.ceil(abs(stop_m - start_m) / (speed_m_s * dt_s) - 1e-9))
    return np.linspace(start_m, stop_m, steps + 1)[1:]


def press_release_profile(
    max_depth_m: float, speed_m_s: float, dt_s: float = 1.0e-3, hold_s: float = 0.0
) -> FloatArray:
    """Depths: 0 → `max_depth_m` at `speed_m_s`, hold for `hold_s`, back to 0.

    Raises ConfigError if the speed or depth is not positive.
    """
    _check_dt(dt_s)
    if not (0.0 < speed_m_s < math.inf and 0.0 < max_depth_m < math.inf):
        raise ConfigError(
            f"speed and depth must be finite and > 0, got {speed_m_s} m/s, {max_depth_m} m"
        )
    press = _ramp(0.0, max_depth_m, speed_m_s, dt_s)
    held = np.full(round(hold_s / dt_s), max_depth_m)
    release = _ramp(max_depth_m, 0.0, speed_m_s, dt_s)
    return np.concatenate([press, held, release])


def press_release_cycle(
    model: TissueModel[Any],
    max_depth_m: float,
    speed_m_s: float,
    dt_s: float = 1.0e-3,
    hold_s: float = 0.0,
) -> Curve:
    """Press to `max_depth_m` at `speed_m_s`, optionally hold, and release to depth 0.

    For a needle this is an insertion followed by a full retraction.
    """
    return run_profile(model, press_release_profile(max_depth_m, speed_m_s, dt_s, hold_s), dt_s)


def hold(
    model: TissueModel[Any],
    depth_m: float,
    duration_s: float,
    dt_s: float = 1.0e-3,
    ramp_s: float = 0.0,
) -> Curve:
    """Indent to `depth_m` over `ramp_s` (0: within the first step) and hold.

    The curve covers ramp and hold; the hold starts at time `max(ramp_s, dt_s)`.
    """
    _check_dt(dt_s)
    ramp_steps = max(1, round(ramp_s / dt_s))
    ramp = np.linspace(0.0, depth_m, ramp_steps + 1)[1:]
    held = np.full(max(0, round(duration_s / dt_s)), depth_m)
    return run_profile(model, np.concatenate([ramp, held]), dt_s)


def cycle_work(curve: Curve) -> float:
    """Work done by the tool on the tissue, ∫F·dd in J (trapezoidal rule, from depth 0).

    Over a cycle that starts and ends out of contact this is ∮F·dd, >= 0 for a passive model.
    """
    depth = np.concatenate([[0.0], curve.depth_m])
    force = np.concatenate([[0.0], curve.force_n])
    return float(np.sum(0.5 * (force[1:] + force[:-1]) * np.diff(depth)))
