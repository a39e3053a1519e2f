"""Cutting scene: break-in threshold, drag opposing motion, cut start/end, what is cut stays
cut, and the scripted operator cutting ~40 mm with the simulated hand."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator

import pytest
from hand_loop import run_with_hand
from pydantic import ValidationError

from drivers.simulated.device import MAX_FORCE_N
from haptics.loop.scene import NO_CONTACT, Contact, Vec3, load_scene, scene_names
from haptics.wire.messages import (
    EVENT_CONTACT_END,
    EVENT_CONTACT_START,
    EVENT_CUT_END,
    EVENT_CUT_START,
)
from sim.scenes.cutting import CuttingScene, required_operator_depth_m

DT = 1e-3
STILL: Vec3 = (0.0, 0.0, 0.0)
START_DEPTH = 2.0 / 300.0  # default cut_start_force_n / stiffness_n_per_m
DEPTH = 0.008  # cutting depth used below: resistance G·d = 4 N


@pytest.fixture
def scene() -> Iterator[CuttingScene]:
    s = CuttingScene()
    s.build()
    yield s
    s.close()


def _drag(scene: CuttingScene, x0: float, x1: float, depth: float, speed: float) -> list[Contact]:
    """Move the blade along y = 0 from x0 to x1 at `speed` (m/s), `depth` deep."""
    n = max(1, round(abs(x1 - x0) / (speed * DT)))
    v = math.copysign(speed, x1 - x0)
    return [
        scene.step((x0 + (x1 - x0) * (k + 1) / n, 0.0, -depth), (v, 0.0, 0.0), DT) for k in range(n)
    ]


def _break_in(scene: CuttingScene, x: float = -0.02) -> Contact:
    scene.step((x, 0.0, 0.005), STILL, DT)
    return scene.step((x, 0.0, -DEPTH), STILL, DT)


def test_registered_through_entry_points() -> None:
    assert "cutting" in scene_names()
    assert load_scene("cutting") is CuttingScene


def test_no_force_above_the_surface(scene: CuttingScene) -> None:
    assert scene.step((0.0, 0.0, 0.002), STILL, DT) is NO_CONTACT


def test_below_the_threshold_it_is_a_spring_and_drag_is_free(scene: CuttingScene) -> None:
    c = scene.step((-0.02, 0.0, -0.9 * START_DEPTH), STILL, DT)
    assert c.contact and c.events & EVENT_CONTACT_START
    assert c.force[2] == pytest.approx(300.0 * 0.9 * START_DEPTH, rel=1e-6)
    log = _drag(scene, -0.02, -0.01, 0.9 * START_DEPTH, 0.02)
    assert not any(c.events & EVENT_CUT_START for c in log)
    assert all(c.force[0] == 0.0 for c in log)
    assert scene.cut_intervals_m == ()


def test_break_in_starts_a_cut_and_caps_the_normal_force(scene: CuttingScene) -> None:
    c = _break_in(scene)
    assert c.events & EVENT_CUT_START and c.layer == 0
    assert c.force[2] == pytest.approx(2.0)
    deeper = scene.step((-0.02, 0.0, -0.012), STILL, DT)
    assert deeper.force[2] == pytest.approx(2.0), "pressing harder cuts deeper"
    assert not deeper.events & EVENT_CUT_START


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_drag_opposes_the_motion_with_the_cut_resistance(
    scene: CuttingScene, direction: float
) -> None:
    _break_in(scene, 0.0)
    log = _drag(scene, 0.0, 0.02 * direction, DEPTH, 0.02)
    sliding = log[len(log) // 2 :]
    for c in sliding:
        assert c.force[0] * direction < 0.0, "opposes the motion"
        assert c.force[0] == pytest.approx(-direction * 500.0 * DEPTH, rel=1e-6)
        assert c.force[1] == pytest.approx(0.0)
    # the spring builds up over the first tenths of a millimetre: no step in force
    steps = [abs(b.force[0] - a.force[0]) for a, b in itertools.pairwise(log)]
    assert max(steps) < 0.5


def test_a_still_blade_is_held_by_the_tissue(scene: CuttingScene) -> None:
    _break_in(scene)
    _drag(scene, -0.02, 0.0, DEPTH, 0.02)
    held = [scene.step((0.0, 0.0, -DEPTH), STILL, DT) for _ in range(50)]
    assert all(c.force[0] == pytest.approx(-4.0) for c in held), "static = kinetic"
    # pulled back into its own cut, the edge leaves intact tissue over its length (2 mm):
    # a quarter of the way, the resistance has fallen by a quarter of (1 − recut) = 0.8
    back = scene.step((-0.0005, 0.0, -DEPTH), (-0.5, 0.0, 0.0), DT)
    assert back.force[2] == pytest.approx(2.0 * (1.0 - 0.25 * 0.8))
    further = scene.step((-0.005, 0.0, -DEPTH), (-0.5, 0.0, 0.0), DT)
    assert further.force[2] == pytest.approx(2.0 * 0.2)


def test_cut_ends_when_the_blade_leaves_and_stays_cut(scene: CuttingScene) -> None:
    _break_in(scene)
    _drag(scene, -0.02, 0.01, DEPTH, 0.02)
    out = scene.step((0.01, 0.0, 0.003), (0.0, 0.0, 0.05), DT)
    assert out.events & EVENT_CUT_END and out.events & EVENT_CONTACT_END
    assert not out.contact and out.force == (0.0, 0.0, 0.0)
    ((a, b),) = scene.cut_intervals_m
    assert (a, b) == pytest.approx((0.0, 0.03), abs=1e-9), "path coordinates from the start"
    ((p, q),) = scene.cut_segments_m
    assert p == pytest.approx((-0.02, 0.0)) and q == pytest.approx((0.01, 0.0))
    # pressing again inside the cut meets only the recut fraction
    again = scene.step((0.0, 0.0, -0.004), STILL, DT)
    fresh = scene.step((0.05, 0.0, -0.004), STILL, DT)
    assert again.force[2] == pytest.approx(0.2 * fresh.force[2])


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        CuttingScene({"toughnes_j_per_m2": 1.0})
    with pytest.raises(ValidationError):
        CuttingScene({"path_start_m": (0.0, 0.0), "path_end_m": (0.0, 0.0)})
    with pytest.raises(ValidationError):
        CuttingScene({"recut_fraction": 0.0})
    s = CuttingScene({"path_start_m": (0.0, -0.02), "path_end_m": (0.0, 0.02)})
    assert s.path_coordinate_m(0.0, 0.0) == pytest.approx(0.02)


def test_describe_gives_parameters_and_planned_path() -> None:
    d = CuttingScene().describe()
    json.dumps(d)
    gt = d["ground_truth"]
    assert gt["planned_path_m"] == [[-0.02, 0.0], [0.02, 0.0]]
    assert gt["planned_path_length_m"] == pytest.approx(0.04)
    assert gt["cut_start_depth_m"] == pytest.approx(START_DEPTH)


def test_operator_script_presses_past_break_in_then_drags_the_path() -> None:
    s = CuttingScene()
    script = s.operator_script()
    assert script[0][1][2] > 0.0 and script[-1][1][2] > 0.0
    deepest = -min(p[2] for _, p in script)
    assert deepest > START_DEPTH + 2.0 / 400.0
    assert deepest == pytest.approx(required_operator_depth_m(s.model))
    xs = [p[0] for _, p in script]
    assert min(xs) == pytest.approx(-0.02) and max(xs) == pytest.approx(0.02)


def simulate_with_hand(scene: CuttingScene, duration_s: float) -> dict[str, float]:
    """The scene under the real hand model, offline (see hand_loop)."""
    r = run_with_hand(scene, duration_s)
    return {
        "cut_start": r.count(EVENT_CUT_START),
        "cut_end": r.count(EVENT_CUT_END),
        "max_force": r.max_force,
        "variation": r.variation,
        "final_z": r.final_z,
    }


def test_scripted_operator_cuts_with_the_hand_model(scene: CuttingScene) -> None:
    r = simulate_with_hand(scene, 10.0)
    assert r["cut_start"] >= 1 and r["cut_end"] >= 1
    assert r["cut_start"] == r["cut_end"] == 1, "one clean pass"
    assert scene.state.cut_length_m == pytest.approx(0.04, abs=0.005), "~40 mm cut"
    assert r["max_force"] < MAX_FORCE_N
    assert r["final_z"] > 0.0
    # no chatter: a drag flipping with the velocity, or a blade flickering between intact
    # and split tissue when it stops, adds up to hundreds of N here
    assert r["variation"] < 40.0


def test_step_costs_tens_of_microseconds(scene: CuttingScene) -> None:
    _break_in(scene)
    n = 2000
    t0 = time.perf_counter()
    _drag(scene, -0.02, 0.02, DEPTH, 0.04 / (n * DT))
    per_step = (time.perf_counter() - t0) / n
    assert per_step < 500e-6  # ~15 µs typically; generous for a loaded CI machine
