"""Elastic laws: linear proportionality and strain stiffening."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from haptics.errors import ConfigError
from sim.tissue import (
    ExponentialStiffening,
    HuntCrossley,
    LinearSpring,
    PolynomialStiffening,
    TissueInput,
    TissueModel,
)
from sim.tissue.curves import sweep


@given(
    stiffness=st.floats(min_value=1.0, max_value=5000.0),
    depth=st.floats(min_value=1e-6, max_value=0.1),
    scale=st.floats(min_value=0.1, max_value=10.0),
)
def test_linear_force_is_proportional_to_depth(
    stiffness: float, depth: float, scale: float
) -> None:
    model = LinearSpring(stiffness)
    _, out = model.step(None, TissueInput(depth, 0.0, 1e-3))
    _, scaled = model.step(None, TissueInput(depth * scale, 0.0, 1e-3))
    assert out.force_n == pytest.approx(stiffness * depth, rel=1e-12)
    assert scaled.force_n == pytest.approx(scale * out.force_n, rel=1e-12)


def test_linear_sweep_has_constant_slope() -> None:
    depths = np.linspace(0.0, 0.03, 301)
    curve = sweep(LinearSpring(), depths, velocity_m_s=0.0)
    slope = np.diff(curve.force_n) / np.diff(depths)
    assert np.allclose(slope, 300.0, rtol=1e-9)


@pytest.mark.parametrize(
    "model",
    [
        ExponentialStiffening(),
        PolynomialStiffening(),
        PolynomialStiffening(linear_n_per_m=50.0, quadratic_n_per_m2=0.0, cubic_n_per_m3=1e6),
        HuntCrossley(),
    ],
    ids=["exponential", "polynomial", "cubic", "hunt_crossley"],
)
def test_stiffening_slope_increases_with_depth(model: TissueModel[Any]) -> None:
    depths = np.linspace(0.0, 0.03, 301)
    curve = sweep(model, depths, velocity_m_s=0.0)
    slope = np.diff(curve.force_n) / np.diff(depths)
    assert np.all(np.diff(slope) > 0.0), "slope must grow monotonically with depth"
    assert slope[-1] > 3.0 * slope[1]


def test_exponential_matches_its_equation() -> None:
    model = ExponentialStiffening(scale_n=0.5, rate_per_m=100.0)
    for depth in (0.001, 0.01, 0.02):
        _, out = model.step(None, TissueInput(depth, 0.0, 1e-3))
        assert out.force_n == pytest.approx(0.5 * (math.exp(100.0 * depth) - 1.0), rel=1e-12)


def test_exponential_stays_finite_at_absurd_depth() -> None:
    _, out = ExponentialStiffening().step(None, TissueInput(1e3, 0.0, 1e-3))
    assert math.isfinite(out.force_n)


def test_polynomial_matches_its_equation() -> None:
    model = PolynomialStiffening(100.0, 1e4, 1e5)
    _, out = model.step(None, TissueInput(0.01, 0.0, 1e-3))
    assert out.force_n == pytest.approx(100.0 * 0.01 + 1e4 * 1e-4 + 1e5 * 1e-6, rel=1e-12)


@pytest.mark.parametrize(
    "build",
    [
        lambda: LinearSpring(-1.0),
        lambda: LinearSpring(float("nan")),
        lambda: ExponentialStiffening(scale_n=-0.1),
        lambda: PolynomialStiffening(quadratic_n_per_m2=-1.0),
        lambda: HuntCrossley(exponent=0.5),
    ],
)
def test_invalid_parameters_raise_config_error(build: Callable[[], object]) -> None:
    with pytest.raises(ConfigError):
        build()
