"""Kelvin–Voigt and Hunt–Crossley contact laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.tissue import HuntCrossley, KelvinVoigt, TissueInput, kelvin_voigt_force
from sim.tissue.curves import press_release_cycle


def test_kelvin_voigt_is_spring_plus_damper() -> None:
    assert kelvin_voigt_force(0.01, 0.1, 300.0, 1.0) == pytest.approx(3.0 + 0.1)
    _, out = KelvinVoigt().step(None, TissueInput(0.01, -0.5, 1e-3))
    assert out.force_n == pytest.approx(3.0 - 0.5)


def test_kelvin_voigt_is_clamped_on_fast_release() -> None:
    _, out = KelvinVoigt().step(None, TissueInput(0.001, -10.0, 1e-3))
    assert out.force_n == 0.0


def test_hunt_crossley_matches_its_equation() -> None:
    model = HuntCrossley(stiffness_n_per_m_pow_n=2000.0, exponent=1.5, damping_s_per_m=1.0)
    _, out = model.step(None, TissueInput(0.01, 0.2, 1e-3))
    elastic = 2000.0 * 0.01**1.5
    assert out.force_n == pytest.approx(elastic + model.damping_lambda * 0.01**1.5 * 0.2)


@given(
    speed=st.floats(min_value=1e-4, max_value=100.0),
    depth=st.floats(min_value=1e-4, max_value=0.05),
    damping=st.floats(min_value=0.0, max_value=50.0),
)
def test_hunt_crossley_never_pulls_on_release(speed: float, depth: float, damping: float) -> None:
    model = HuntCrossley(damping_s_per_m=damping)
    _, out = model.step(None, TissueInput(depth, -speed, 1e-3))
    assert out.force_n >= 0.0


@pytest.mark.parametrize("speed", [0.001, 0.1, 1.0, 10.0])
def test_hunt_crossley_release_branch_is_nonnegative_and_continuous(speed: float) -> None:
    curve = press_release_cycle(HuntCrossley(), 0.02, speed, dt_s=1e-4)
    assert np.all(curve.force_n >= 0.0)
    # Damping is scaled by dⁿ, so the force vanishes at the surface: no impact spike on
    # contact at any speed, unlike a linear damper.
    _, touch = HuntCrossley().step(None, TissueInput(1e-6, speed, 1e-3))
    assert touch.force_n < 1e-4
    _, kv_touch = KelvinVoigt().step(None, TissueInput(1e-6, speed, 1e-3))
    assert kv_touch.force_n > 1e-4 * speed
