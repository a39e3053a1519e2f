"""Cutting: a threshold starts the cut, drag resists, and what is cut stays cut."""

from __future__ import annotations

import pytest

from haptics.errors import ConfigError
from sim.tissue import EVENT_CUT_END, EVENT_CUT_START, Cutting, CuttingState, TissueInput

DT = 1e-3
START_DEPTH = 2.0 / 300.0  # default threshold / stiffness


def _drive(
    model: Cutting, state: CuttingState, depth: float, tangential: float, steps: int
) -> tuple[CuttingState, list[tuple[float, float, int]]]:
    out_log = []
    for _ in range(steps):
        state, out = model.step(state, TissueInput(depth, 0.0, DT, tangential))
        out_log.append((out.force_n, out.tangential_force_n, out.events))
    return state, out_log


def test_threshold_starts_a_cut() -> None:
    model = Cutting()
    state, log = _drive(model, model.initial_state(), 0.98 * START_DEPTH, 0.0, 5)
    assert not state.cutting and all(events == 0 for _, _, events in log)
    state, log = _drive(model, state, 0.98 * START_DEPTH, 0.02, 5)
    assert not state.cutting and all(t == 0.0 for _, t, _ in log), "no drag before a cut"
    state, out = model.step(state, TissueInput(1.02 * START_DEPTH, 0.0, DT))
    assert out.events & EVENT_CUT_START and state.cutting
    # Pressing harder cuts deeper: the normal force stays at the threshold.
    state, log = _drive(model, state, 2.0 * START_DEPTH, 0.0, 3)
    assert log[-1][0] == pytest.approx(2.0)
    assert not any(events & EVENT_CUT_START for _, _, events in log), "one start event per cut"


def test_drag_is_resisted_only_while_cutting_and_blade_exit_ends_the_cut() -> None:
    model = Cutting()
    state, _ = _drive(model, model.initial_state(), 0.008, 0.0, 1)
    state, log = _drive(model, state, 0.008, 0.02, 500)
    expected = -500.0 * 0.008  # toughness × depth
    assert all(t == pytest.approx(expected) for _, t, _ in log)
    state, log = _drive(model, state, 0.008, -0.02, 1)  # reversing also meets resistance
    assert log[0][1] < 0.0
    state, out = model.step(state, TissueInput(0.0, -0.1, DT))
    assert out.events & EVENT_CUT_END and out.force_n == 0.0 and not state.cutting


def test_cut_stays_cut_and_recutting_meets_less_resistance() -> None:
    model = Cutting()
    state, _ = _drive(model, model.initial_state(), 0.008, 0.0, 1)
    state, first = _drive(model, state, 0.008, 0.02, 1000)  # cut 20 mm
    state, _ = _drive(model, state, -0.001, 0.0, 1)  # lift out
    assert state.cut_length_m == pytest.approx(0.02, rel=1e-6)
    state, _ = _drive(model, state, -0.001, -0.02, 500)  # back 10 mm in the air
    assert state.cut_length_m == pytest.approx(0.02, rel=1e-6), "what is cut stays cut"
    state, press = _drive(model, state, 0.004, 0.0, 1)
    fresh = Cutting().step(Cutting().initial_state(), TissueInput(0.004, 0.0, DT))[1]
    assert press[0][0] < 0.5 * fresh.force_n, "pressing on the cut meets less resistance"
    state, second = _drive(model, state, 0.008, 0.02, 250)  # drag 5 mm along the old cut
    assert abs(second[-1][1]) < 0.5 * abs(first[-1][1])
    state, beyond = _drive(model, state, 0.008, 0.02, 500)  # on past its end: fresh again
    assert beyond[-1][1] == pytest.approx(first[-1][1])
    assert state.cut_length_m == pytest.approx(0.025, rel=1e-3)


def test_separate_cuts_do_not_join() -> None:
    model = Cutting()
    state = model.initial_state()
    for _ in range(2):
        state, _ = _drive(model, state, 0.008, 0.0, 1)
        state, _ = _drive(model, state, 0.008, 0.02, 250)  # cut 5 mm
        state, _ = _drive(model, state, -0.001, 0.02, 500)  # lift and skip 10 mm
    assert len(state.cuts) == 2
    assert state.cut_length_m == pytest.approx(0.01, rel=1e-3)


def test_invalid_recut_fraction_raises() -> None:
    with pytest.raises(ConfigError):
        Cutting(recut_fraction=0.0)
