"""Needle scene: depth from pybullet, punctures per layer, friction, lateral hold, and the
scripted operator really getting through all three layers with the simulated hand."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import pytest
from hand_loop import run_with_hand
from pydantic import ValidationError

from drivers.simulated.device import MAX_FORCE_N
from haptics.loop.scene import NO_CONTACT, Contact, Vec3, load_scene, scene_names
from haptics.wire.messages import EVENT_CONTACT_END, EVENT_CONTACT_START, EVENT_PUNCTURE
from sim.scenes.needle import (
    OPERATOR_ARM_STIFFNESS_N_PER_M,
    NeedleScene,
    lateral_spring,
    puncture_depths_m,
    required_operator_depth_m,
)

DT = 1e-3
STILL: Vec3 = (0.0, 0.0, 0.0)


@pytest.fixture
def scene() -> Iterator[NeedleScene]:
    s = NeedleScene()
    s.build()
    yield s
    s.close()


def _insert(
    scene: NeedleScene, to_depth: float, speed: float = 0.01, x: float = 0.0
) -> list[tuple[float, Contact]]:
    """Push the tip straight down from 1 mm above the surface to `to_depth` at `speed`."""
    log = []
    z = 0.001
    while z > -to_depth:
        z -= speed * DT
        log.append((-z, scene.step((x, 0.0, z), (0.0, 0.0, -speed), DT)))
    return log


def test_registered_through_entry_points() -> None:
    assert "needle" in scene_names()
    assert load_scene("needle") is NeedleScene


def test_no_force_above_the_surface(scene: NeedleScene) -> None:
    assert scene.step((0.0, 0.0, 0.002), STILL, DT) is NO_CONTACT


@pytest.mark.parametrize("point", [(0.0, 0.0), (0.03, -0.03)])
def test_depth_is_the_tip_depth_below_the_surface(
    scene: NeedleScene, point: tuple[float, float]
) -> None:
    for depth in (0.0005, 0.003, 0.02, 0.045):
        c = scene.step((*point, -depth), STILL, DT)
        assert c.contact and c.depth_m == pytest.approx(depth, abs=1e-6)
        scene.step((*point, 0.01), STILL, DT)  # withdraw: start intact each time


def test_three_punctures_one_per_layer_with_force_drops(scene: NeedleScene) -> None:
    log = _insert(scene, 0.040)
    hits = [k for k, (_, c) in enumerate(log) if c.events & EVENT_PUNCTURE]
    assert len(hits) == 3
    assert [log[k][1].layer for k in hits] == [0, 1, 2]
    for k in hits:
        assert log[k][1].force[2] < log[k - 1][1].force[2] - 0.2, "force drops at puncture"
    expected = puncture_depths_m(scene.model)
    for k, depth in zip(hits, expected, strict=True):
        assert log[k][0] == pytest.approx(depth, abs=0.2e-3)
    assert scene.state.punctured == 3
    # the force on the needle is axial while it goes straight in
    assert all(c.force[0] == 0.0 and c.force[1] == 0.0 for _, c in log)
    assert sum(1 for _, c in log if c.events & EVENT_CONTACT_START) == 1
    assert max(c.layer for _, c in log) == 2


def test_withdrawal_friction_pulls_in_and_full_withdrawal_resets(scene: NeedleScene) -> None:
    _insert(scene, 0.035)
    pulling = scene.step((0.0, 0.0, -0.030), (0.0, 0.0, 0.02), DT)
    assert pulling.force[2] < 0.0, "on withdrawal only friction remains, resisting it"
    assert pulling.layer == 2
    out = scene.step((0.0, 0.0, 0.005), (0.0, 0.0, 0.02), DT)
    assert out.events & EVENT_CONTACT_END and not out.contact
    assert scene.state.punctured == 0
    again = _insert(scene, 0.010)
    assert sum(1 for _, c in again if c.events & EVENT_PUNCTURE) == 1, "a new insertion"


def test_lateral_spring_holds_the_needle_once_inserted(scene: NeedleScene) -> None:
    # pressing on intact skin: sideways motion is free
    before = scene.step((0.002, 0.0, -0.004), STILL, DT)
    assert before.layer == 0 and before.force[0] == 0.0
    scene.step((0.0, 0.0, 0.01), STILL, DT)
    _insert(scene, 0.010)  # skin punctured at x = 0
    k = scene.cfg.lateral_stiffness_n_per_m
    c = scene.step((0.001, 0.0, -0.010), STILL, DT)
    assert c.force[0] == pytest.approx(-k * 0.001) and c.force[1] == pytest.approx(0.0)
    c = scene.step((0.0, -0.0015, -0.010), STILL, DT)
    assert c.force[1] == pytest.approx(k * 0.0015)
    # pulled too far the tissue gives way: the force stays at the cap, the anchor follows
    cap = scene.cfg.lateral_max_force_n
    c = scene.step((0.020, 0.0, -0.010), STILL, DT)
    assert math.hypot(c.force[0], c.force[1]) == pytest.approx(cap)
    c = scene.step((0.020 - cap / k, 0.0, -0.010), STILL, DT)
    assert c.force[0] == pytest.approx(0.0, abs=1e-9), "the anchor slid with the needle"


def test_lateral_spring_function() -> None:
    assert lateral_spring(0.0, 0.0, 0.001, 0.0, 1000.0, 3.0) == pytest.approx((0.0, 0.0, -1.0, 0.0))
    ax, ay, fx, fy = lateral_spring(0.0, 0.0, 0.0, 0.01, 1000.0, 3.0)
    assert (ax, ay) == pytest.approx((0.0, 0.007)) and (fx, fy) == pytest.approx((0.0, -3.0))
    assert lateral_spring(0.0, 0.0, 0.01, 0.0, 1000.0, 0.0) == (0.01, 0.0, 0.0, 0.0)


def test_config_is_validated_and_layers_configurable() -> None:
    with pytest.raises(ValidationError):
        NeedleScene({"lateral_stifness_n_per_m": 5.0})
    with pytest.raises(ValidationError):
        NeedleScene({"insertion_point_m": (0.09, 0.0)})
    with pytest.raises(ValidationError):
        NeedleScene({"layers": []})
    one = {
        "name": "gel",
        "thickness_m": 0.01,
        "linear_n_per_m": 200.0,
        "quadratic_n_per_m2": 0.0,
        "puncture_force_n": 1.0,
    }
    s = NeedleScene({"layers": [one]})
    s.build()
    try:
        log = _insert(s, 0.02)
    finally:
        s.close()
    hits = [d for d, c in log if c.events & EVENT_PUNCTURE]
    assert len(hits) == 1 and hits[0] == pytest.approx(0.005, abs=0.1e-3)


def test_describe_is_json_with_ground_truth() -> None:
    d = NeedleScene().describe()
    json.dumps(d)
    gt = d["ground_truth"]
    assert gt["layers"] == ["skin", "fat", "muscle"]
    assert gt["quasi_static_puncture_depths_m"] == sorted(gt["quasi_static_puncture_depths_m"])


def test_operator_script_aims_past_every_puncture() -> None:
    s = NeedleScene()
    script = s.operator_script()
    assert script[0][0] == 0.0 and script[-1][0] == 1.0
    assert script[0][1][2] > 0.0 and script[-1][1][2] > 0.0, "starts and ends above"
    deepest = -min(p[2] for _, p in script)
    model = s.model
    for layer, depth in zip(model.layers, puncture_depths_m(model), strict=True):
        assert deepest > depth + layer.puncture_force_n / OPERATOR_ARM_STIFFNESS_N_PER_M
    assert deepest == pytest.approx(required_operator_depth_m(model))


def simulate_with_hand(scene: NeedleScene, duration_s: float) -> dict[str, float]:
    """The scene under the real hand model, offline (see hand_loop)."""
    r = run_with_hand(scene, duration_s)
    return {
        "punctures": r.count(EVENT_PUNCTURE),
        "contact_ends": r.count(EVENT_CONTACT_END),
        "max_force": r.max_force,
        "variation": r.variation,
        "lowest_z": r.lowest_z,
        "final_z": r.final_z,
    }


def test_scripted_operator_punctures_all_layers_with_the_hand_model(scene: NeedleScene) -> None:
    r = simulate_with_hand(scene, 15.0)
    assert r["punctures"] == 3
    assert r["max_force"] < MAX_FORCE_N, "within the device's limit, never clamped"
    assert r["final_z"] > 0.005 and r["contact_ends"] == 1, "withdrawn above the surface"
    # no friction chatter: a force flipping sign every tick adds up to thousands of N here
    assert r["variation"] < 50.0


def test_step_costs_tens_of_microseconds(scene: NeedleScene) -> None:
    _insert(scene, 0.030)
    n = 2000
    t0 = time.perf_counter()
    for k in range(n):
        scene.step((0.0, 0.0, -0.030 - 1e-6 * (k % 2)), (0.0, 0.0, 0.001), DT)
    per_step = (time.perf_counter() - t0) / n
    assert per_step < 500e-6  # ~15 µs typically; generous for a loaded CI machine
