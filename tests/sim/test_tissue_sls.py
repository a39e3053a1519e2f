"""Standard linear solid: stress relaxation with the right time constant."""

from __future__ import annotations

import math

import numpy as np
import pytest

from haptics.errors import ConfigError
from sim.tissue import StandardLinearSolid, TissueInput
from sim.tissue.curves import hold, press_release_cycle

DEPTH = 0.01


def _value_at(time_s: np.ndarray, force: np.ndarray, t: float) -> float:
    return float(np.interp(t, time_s, force))


@pytest.mark.parametrize("dt", [1e-4, 1e-3])
@pytest.mark.parametrize("tau", [0.2, 1.0, 3.0])
def test_force_relaxes_with_time_constant_tau(dt: float, tau: float) -> None:
    model = StandardLinearSolid(150.0, 200.0, tau)
    curve = hold(model, DEPTH, 6.0 * tau, dt_s=dt)
    equilibrium = 150.0 * DEPTH
    peak = 350.0 * DEPTH
    expected_at_tau = equilibrium + (peak - equilibrium) * math.exp(-1.0)
    assert curve.force_n[0] == pytest.approx(peak, rel=0.01)
    assert _value_at(curve.time_s, curve.force_n, tau) == pytest.approx(expected_at_tau, rel=0.02)
    # Relaxed 63 % of the way at t = τ, toward the equilibrium value.
    relaxed = (peak - _value_at(curve.time_s, curve.force_n, tau)) / (peak - equilibrium)
    assert relaxed == pytest.approx(1.0 - math.exp(-1.0), abs=0.02)
    assert curve.force_n[-1] == pytest.approx(equilibrium, rel=0.01)
    assert np.all(np.diff(curve.force_n) <= 1e-12), "held force must decay monotonically"


def test_integration_is_exact_for_any_step() -> None:
    """Exact for piecewise-linear depth: 100 ms steps land on the 0.1 ms solution."""
    model = StandardLinearSolid()
    fine = hold(model, DEPTH, 2.0, dt_s=1e-4, ramp_s=1.0)
    coarse = hold(model, DEPTH, 2.0, dt_s=1e-1, ramp_s=1.0)
    for t in (0.5, 1.0, 2.0, 3.0):
        assert _value_at(coarse.time_s, coarse.force_n, t) == pytest.approx(
            _value_at(fine.time_s, fine.force_n, t), rel=1e-6
        )


def test_no_pull_on_fast_release_and_surface_recovers() -> None:
    model = StandardLinearSolid()
    curve = press_release_cycle(model, 0.02, 0.01)
    assert np.all(curve.force_n >= 0.0)
    # Slow release: the surface lags behind the tool, so contact is lost before depth 0.
    releasing = curve.velocity_m_s < 0.0
    assert np.any((curve.force_n == 0.0) & (curve.depth_m > 0.002) & releasing)
    # Then the surface creeps back and the tissue answers again from where it is.
    state = model.initial_state()
    for d in np.linspace(0.0, 0.02, 21)[1:]:
        state, _ = model.step(state, TissueInput(float(d), 0.0, 1e-3))
    state, out = model.step(state, TissueInput(0.0, 0.0, 1e-3))
    assert out.force_n == 0.0 and state.surface_depth_m > 0.0
    for _ in range(20000):
        state, _ = model.step(state, TissueInput(-0.001, 0.0, 1e-3))
    assert state.surface_depth_m < 1e-6


def test_surface_creeps_back_after_a_fast_release_before_touching_again() -> None:
    """No adhesion: after a fast release the tool finds the tissue only where it has crept to.

    The free surface relaxes with the creep time τ·(k∞ + k₁)/k∞; a model that kept the tool
    glued to the dashpot would touch again much earlier.
    """
    k_inf, k1, tau = 150.0, 200.0, 1.0
    model = StandardLinearSolid(k_inf, k1, tau)
    held, lifted, dt = 0.02, 0.005, 1e-4
    state = model.initial_state()
    state, _ = model.step(state, TissueInput(held, 0.0, dt))
    state, _ = model.step(state, TissueInput(held, 0.0, 10.0 * tau))  # fully relaxed
    forces = []
    for _ in range(40000):
        state, out = model.step(state, TissueInput(lifted, 0.0, dt))
        forces.append(out.force_n)
    # The instantaneous release leaves the surface where k∞·s + Fₘ = 0.
    surface = held * k1 / (k_inf + k1)
    creep = tau * (k_inf + k1) / k_inf
    expected = creep * math.log(surface / lifted)
    touched = (int(np.flatnonzero(np.asarray(forces) > 0.0)[0]) + 1) * dt
    assert touched == pytest.approx(expected, rel=0.02)
    # Then the force recovers from below toward the equilibrium value.
    assert 0.8 * k_inf * lifted < forces[-1] < k_inf * lifted


def test_invalid_time_constant_raises() -> None:
    with pytest.raises(ConfigError):
        StandardLinearSolid(relaxation_time_s=0.0)
