"""Properties every model must keep: passivity, finiteness, no force out of contact."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haptics.errors import ConfigError
from sim.tissue import (
    MODELS,
    ExponentialStiffening,
    HuntCrossley,
    KelvinVoigt,
    LinearSpring,
    PolynomialStiffening,
    StandardLinearSolid,
    TissueInput,
    TissueModel,
    create_model,
)
from sim.tissue.curves import cycle_work, press_release_cycle

PASSIVE: list[TissueModel[Any]] = [
    LinearSpring(),
    KelvinVoigt(),
    HuntCrossley(),
    StandardLinearSolid(),
    StandardLinearSolid(relaxation_time_s=0.05),
    ExponentialStiffening(),
    PolynomialStiffening(),
]


@pytest.mark.parametrize("model", PASSIVE, ids=lambda m: type(m).__name__)
@settings(max_examples=25, deadline=None)
@given(
    depth=st.floats(min_value=1e-3, max_value=0.03),
    speed=st.floats(min_value=1e-3, max_value=1.0),
    hold_s=st.sampled_from([0.0, 0.05, 0.5]),
)
def test_passive_models_create_no_energy_over_a_cycle(
    model: TissueModel[Any], depth: float, speed: float, hold_s: float
) -> None:
    curve = press_release_cycle(model, depth, speed, dt_s=1e-3, hold_s=hold_s)
    peak_energy = float(np.max(curve.force_n)) * depth
    assert cycle_work(curve) >= -1e-9 * peak_energy


def test_damped_models_dissipate_energy() -> None:
    for model in (KelvinVoigt(), HuntCrossley(), StandardLinearSolid()):
        assert cycle_work(press_release_cycle(model, 0.02, 0.1)) > 1e-4


inputs = st.lists(
    st.tuples(
        st.floats(min_value=-0.1, max_value=0.2),
        st.floats(min_value=-10.0, max_value=10.0),
        st.floats(min_value=1e-5, max_value=1e-2),
        st.floats(min_value=-1.0, max_value=1.0),
    ),
    min_size=1,
    max_size=60,
)


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=40, deadline=None)
@given(sequence=inputs)
def test_every_model_is_finite_and_silent_out_of_contact(
    name: str, sequence: list[tuple[float, float, float, float]]
) -> None:
    model = create_model(name)
    state = model.initial_state()
    for depth, velocity, dt, tangential in sequence:
        state, out = model.step(state, TissueInput(depth, velocity, dt, tangential))
        assert type(out.force_n) is float and math.isfinite(out.force_n)
        assert math.isfinite(out.tangential_force_n) and out.tangential_force_n <= 0.0
        if depth <= 0.0:
            assert out.force_n == 0.0 and out.tangential_force_n == 0.0 and out.layer == -1
        elif name != "needle":
            assert out.force_n >= 0.0, "only the needle may pull (friction on retraction)"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registry_builds_default_models(name: str) -> None:
    model = MODELS[name]()
    _, out = model.step(model.initial_state(), TissueInput(0.005, 0.01, 1e-3))
    assert out.force_n > 0.0 and out.layer == 0
    assert hash(model) == hash(MODELS[name]()), "models are frozen values"


def test_unknown_model_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="needle"):
        create_model("jelly")
