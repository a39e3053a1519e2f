"""Counting force steps between ticks that no tissue event explains (sim.force_steps)."""

from __future__ import annotations

import numpy as np
import pytest

from haptics.errors import ConfigError
from haptics.wire.messages import EVENT_OVERRUN, EVENT_PUNCTURE
from sim.force_steps import unexplained_steps
from sim.tissue import kelvin_voigt_force


def test_a_step_far_from_events_is_unexplained_and_one_next_to_an_event_is_not() -> None:
    force = np.zeros(100)
    force[20:] += 0.3  # a buzz-like drop and recovery at 20, a puncture drop at 60
    force[21:] -= 0.3
    force[60:] -= 0.5
    events = np.zeros(100, dtype=np.int64)
    events[58] = EVENT_PUNCTURE  # 2 ticks before the step: within the window
    found = unexplained_steps(force, events, threshold_n=0.05, window=2)
    assert (found.steps, found.explained, found.unexplained) == (3, 1, 2)
    assert found.first_unexplained == (20, 21)
    assert found.largest_unexplained_n == pytest.approx(0.3)
    assert unexplained_steps(force, events, 0.05, window=1).unexplained == 3


def test_loop_events_do_not_explain_a_step_and_excluded_ticks_do() -> None:
    force = np.array([[0.0, 0.0, 1.0]] * 10 + [[0.0, 0.1, 1.0]] * 10)  # 0.1 N step at 10
    events = np.zeros(20, dtype=np.int64)
    events[10] = EVENT_OVERRUN
    assert unexplained_steps(force, events).unexplained == 1
    excluded = np.zeros(20, dtype=bool)
    excluded[9] = True  # the step leaves an excluded tick
    assert unexplained_steps(force, events, excluded=excluded).unexplained == 0


def test_bad_arguments_say_what_to_pass() -> None:
    with pytest.raises(ConfigError, match="one per tick"):
        unexplained_steps(np.zeros(5), np.zeros(4))
    with pytest.raises(ConfigError, match=">= 0"):
        unexplained_steps(np.zeros(5), np.zeros(5), threshold_n=-1.0)
    assert unexplained_steps(np.zeros(1), np.zeros(1)).steps == 0


def test_kelvin_voigt_damping_onset_makes_contact_start_continuous() -> None:
    # classic law: b·ḋ at the first micrometre; with an onset it starts from 0
    assert kelvin_voigt_force(1e-6, 0.05, 1500.0, 2.0) == pytest.approx(0.1 + 1.5e-3)
    assert kelvin_voigt_force(1e-6, 0.05, 1500.0, 2.0, 5e-4) == pytest.approx(
        1.5e-3 + 2.0 * 0.05 * 1e-6 / 5e-4
    )
    assert kelvin_voigt_force(1e-3, 0.05, 1500.0, 2.0, 5e-4) == pytest.approx(1.5 + 0.1)
