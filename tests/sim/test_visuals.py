"""The camera's picture of the tissue: the indentation profile and the dented boundaries."""

import numpy as np
import pybullet
import pytest

from sim.visuals import (
    NO_PRESS,
    SKIN,
    Press,
    Stratum,
    TissueView,
    layer_colour,
    surface_indentation_m,
)


def test_indentation_profile_is_the_flat_punch_one() -> None:
    r = np.linspace(0.0, 0.05, 501)
    w = surface_indentation_m(r, 0.004, 0.002)
    assert w[0] == pytest.approx(0.004) and (w[r <= 0.002] == 0.004).all()  # under the tool
    assert (np.diff(w) <= 1e-15).all()  # never rises away from the tool
    edge = surface_indentation_m(np.array([0.002 * (1 + 1e-9)]), 0.004, 0.002)[0]
    assert edge == pytest.approx(0.004, rel=1e-3)  # continuous at the contact's edge
    assert surface_indentation_m(np.array([0.02]), 0.004, 0.002)[0] == pytest.approx(
        0.004 * 2 / np.pi * np.arcsin(0.1)
    )
    assert not surface_indentation_m(r, 0.0, 0.002).any()  # no press, no dent
    assert not surface_indentation_m(r, -0.001, 0.002).any()


def test_boundaries_dent_below_the_pressed_one_and_fade_with_depth() -> None:
    client = pybullet.connect(pybullet.DIRECT)
    try:
        strata = [Stratum("skin", 0.002, SKIN), Stratum("fat", 0.01, layer_colour("fat", 1))]
        view = TissueView(client, strata, (-0.02, 0.02), (0.0, 0.02), 0.03)
        x = np.array([0.0, 0.01])
        press = Press(0.0, 0.0, 0.005, 0.0015, from_stratum=1)  # the skin gave way
        assert not view.boundary_indent_m(x, 0.0, press, 0).any()  # the surface relaxed
        fat = view.boundary_indent_m(x, 0.0, press, 1)
        assert fat[0] == pytest.approx(0.005) and 0 < fat[1] < fat[0]
        surface = view.boundary_indent_m(x, 0.0, Press(0.0, 0.0, 0.005, 0.0015), 0)
        below = view.boundary_indent_m(x, 0.0, Press(0.0, 0.0, 0.005, 0.0015), 1)
        assert (below < surface).all()  # deeper boundaries bend less
        view.press(press)
        view.press(NO_PRESS)  # updates in place, never raises
        assert layer_colour("Muscle", 0) != layer_colour("skin", 0)
    finally:
        pybullet.disconnect(client)
