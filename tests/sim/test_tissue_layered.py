"""Layered tissue and needle insertion: deflection, puncture drops, friction, retraction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from haptics.errors import ConfigError
from sim.tissue import (
    EVENT_PUNCTURE,
    SKIN_FAT_MUSCLE,
    Layer,
    LayeredTissue,
    LinearSpring,
    NeedleInsertion,
    TissueInput,
    TissueModel,
)
from sim.tissue.curves import Curve, press_release_cycle, run_profile

FULL_DEPTH = 0.05
SPEED = 0.01


def _insertion_end(curve: Curve) -> int:
    return int(np.argmax(curve.depth_m))


@pytest.mark.parametrize("model", [LayeredTissue(), NeedleInsertion()], ids=["layered", "needle"])
def test_full_insertion_punctures_each_layer_once_with_a_force_drop(
    model: TissueModel[Any],
) -> None:
    curve = press_release_cycle(model, FULL_DEPTH, SPEED)
    punctures = curve.steps_with(EVENT_PUNCTURE)
    assert len(punctures) == 3
    # The layer index in the output is the layer that punctured: skin, fat, muscle in order.
    assert curve.layer[punctures].tolist() == [0, 1, 2]
    for k, layer in zip(punctures, SKIN_FAT_MUSCLE, strict=True):
        before, after = curve.force_n[k - 1], curve.force_n[k]
        assert before >= 0.9 * layer.puncture_force_n
        assert after < before - 0.3, f"{layer.name}: no clear drop at puncture"
    # Before the first puncture the force rises nonlinearly (stiffening deflection).
    pre = curve.force_n[: punctures[0]]
    assert np.all(np.diff(pre) > 0.0) and np.all(np.diff(pre, 2) > -1e-12)


def test_layer_index_follows_the_tip() -> None:
    curve = press_release_cycle(LayeredTissue(), FULL_DEPTH, SPEED)
    inserting = curve.layer[: _insertion_end(curve) + 1]
    assert inserting[0] == 0 and inserting[-1] == 2
    assert np.all(np.diff(inserting) >= 0), "layer index only grows while inserting"
    assert curve.layer[-1] == -1, "fully withdrawn: outside the tissue"
    # On the way out the tip passes back through the same layers at the same depths.
    end = _insertion_end(curve)
    for k in range(end + 1, curve.depth_m.size - 1):
        j = int(np.searchsorted(curve.depth_m[: end + 1], curve.depth_m[k]))
        assert curve.layer[k] in (curve.layer[j - 1], curve.layer[j])


def test_layered_state_tracks_punctures_and_resets_on_withdrawal() -> None:
    model = LayeredTissue()
    state = model.initial_state()
    for d in np.linspace(0.0, 0.02, 2001)[1:]:
        state, _ = model.step(state, TissueInput(float(d), SPEED, 1e-3))
    assert state.punctured == 2
    state, out = model.step(state, TissueInput(0.0, -SPEED, 1e-3))
    assert state.punctured == 0 and out.force_n == 0.0 and out.layer == -1


def test_needle_force_grows_with_depth_after_the_last_puncture() -> None:
    curve = press_release_cycle(NeedleInsertion(), FULL_DEPTH, SPEED)
    last = int(curve.steps_with(EVENT_PUNCTURE)[-1])
    end = _insertion_end(curve)
    after = curve.force_n[last : end + 1]
    assert np.all(np.diff(after) > 0.0), "shaft friction must grow with inserted length"
    assert after[-1] > after[0] + 0.5


def test_needle_force_is_continuous_except_at_punctures() -> None:
    curve = press_release_cycle(NeedleInsertion(), FULL_DEPTH, SPEED)
    end = _insertion_end(curve)
    jumps = np.flatnonzero(np.abs(np.diff(curve.force_n[: end + 1])) > 0.05) + 1
    assert set(jumps.tolist()) == set(curve.steps_with(EVENT_PUNCTURE).tolist())


def test_needle_retraction_has_the_opposite_sign() -> None:
    curve = press_release_cycle(NeedleInsertion(), FULL_DEPTH, SPEED)
    end = _insertion_end(curve)
    retracting = (np.arange(curve.force_n.size) > end) & (curve.depth_m > 0.0)
    assert np.all(curve.force_n[end - 10 : end] > 0.0)
    assert np.all(curve.force_n[retracting] < 0.0)
    # Only friction remains: less than on the way in at the same depth.
    inserting_force = np.interp(0.04, curve.depth_m[: end + 1], curve.force_n[: end + 1])
    k = int(np.flatnonzero(retracting & (curve.depth_m <= 0.04))[0])
    assert 0.0 < -curve.force_n[k] < inserting_force
    assert curve.force_n[-1] == 0.0


def test_needle_punctures_stay_while_inside_and_reset_on_full_withdrawal() -> None:
    down = np.linspace(0.0, FULL_DEPTH, 5001)[1:]
    back = np.linspace(FULL_DEPTH, 0.005, 4501)[1:]
    profile = np.concatenate([down, back, back[::-1]])
    curve = run_profile(NeedleInsertion(), profile, 1e-3)
    assert len(curve.steps_with(EVENT_PUNCTURE)) == 3, "re-advancing must not puncture again"
    again = run_profile(NeedleInsertion(), np.concatenate([down, down[::-1], [-0.001], down]))
    assert len(again.steps_with(EVENT_PUNCTURE)) == 6, "after full withdrawal the tissue resets"


def test_needle_holding_still_renders_no_friction() -> None:
    model = NeedleInsertion()
    state = model.initial_state()
    for d in np.linspace(0.0, 0.04, 4001)[1:]:
        state, _ = model.step(state, TissueInput(float(d), SPEED, 1e-3))
    state, out = model.step(state, TissueInput(0.04, 0.0, 1e-3))
    assert out.force_n == 0.0 and out.layer == 2 and state.punctured == 3


def test_single_layer_and_invalid_layers() -> None:
    layer = Layer("gel", 0.01, LinearSpring(200.0), puncture_force_n=1.0)
    curve = press_release_cycle(LayeredTissue((layer,)), 0.03, SPEED)
    assert len(curve.steps_with(EVENT_PUNCTURE)) == 1
    with pytest.raises(ConfigError):
        LayeredTissue(())
    with pytest.raises(ConfigError):
        Layer("bad", -0.01, LinearSpring(), 1.0)
    with pytest.raises(ConfigError):
        NeedleInsertion(friction_velocity_m_s=0.0)


def test_needle_readvancing_along_the_track_meets_friction_only() -> None:
    down = np.linspace(0.0, 0.04, 4001)[1:]
    back = np.linspace(0.04, 0.03, 1001)[1:]
    again = np.linspace(0.03, 0.035, 501)[1:]
    curve = run_profile(NeedleInsertion(), np.concatenate([down, back, again]), 1e-3)
    first = float(np.interp(0.035, curve.depth_m[:4000], curve.force_n[:4000]))
    second = float(curve.force_n[-1])
    muscle = SKIN_FAT_MUSCLE[2]
    assert second > 0.0
    assert second == pytest.approx(first - muscle.cutting_force_n, abs=0.01)
