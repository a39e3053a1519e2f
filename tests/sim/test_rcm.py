"""The remote-centre-of-motion instrument: closed-form kinematics, limits, the limit spring,
and the probe placing the instrument's tip in a real pybullet world."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haptics.loop.scene import Contact, Vec3
from haptics.wire.messages import EVENT_JOINT_LIMIT, EVENT_JOINT_LIMIT_END
from sim.instruments.rcm import (
    INSERTION,
    PITCH,
    YAW,
    Joints,
    RcmConfig,
    clamp,
    forward,
    inverse,
    reach,
)
from sim.scenes.config import load_scene_params
from sim.scenes.palpation import PalpationScene
from sim.scenes.probe import Probe, instrumented

CFG = RcmConfig()


@settings(max_examples=200, deadline=None)
@given(
    yaw=st.floats(-1.0, 1.0),
    pitch=st.floats(-1.0, 1.0),
    insertion=st.floats(0.001, 0.24),
    roll=st.floats(-3.0, 3.0),
)
def test_inverse_of_forward_is_identity(yaw: float, pitch: float, insertion: float,
                                        roll: float) -> None:  # fmt: skip
    q = Joints(yaw, pitch, insertion, roll)
    back = inverse(CFG, forward(CFG, q), Joints(roll=roll))
    assert back == pytest.approx(q, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(-0.1, 0.1), y=st.floats(-0.1, 0.1), z=st.floats(-0.1, 0.08))
def test_forward_of_inverse_is_identity(x: float, y: float, z: float) -> None:
    tip = (x, y, z)
    assert forward(CFG, inverse(CFG, tip)) == pytest.approx(tip, abs=1e-12)


def test_straight_down_at_zero_and_the_entry_point_keeps_the_previous_angles() -> None:
    e = CFG.entry_m
    assert forward(CFG, Joints(0.0, 0.0, 0.1)) == pytest.approx((e[0], e[1], e[2] - 0.1))
    q = inverse(CFG, e, Joints(0.3, -0.2, 0.05, 1.0))
    assert q == Joints(0.3, -0.2, 0.0, 1.0)


def test_inside_the_limits_the_tip_goes_exactly_where_commanded() -> None:
    tip: Vec3 = (0.01, -0.02, -0.005)
    r = reach(CFG, tip)
    assert r.tip == tip and r.limited == 0 and r.force == (0.0, 0.0, 0.0)


def test_insertion_limit_stops_the_tip_and_pushes_back_along_the_shaft() -> None:
    cfg = RcmConfig(insertion_limits_m=(0.0, 0.11))  # entry 0.12 above the tissue
    r = reach(cfg, (0.0, 0.0, -0.01))  # 0.13 deep along the shaft
    assert r.limited == INSERTION
    assert r.tip == pytest.approx((0.0, 0.0, 0.01))
    assert r.force == pytest.approx((0.0, 0.0, cfg.limit_stiffness_n_per_m * 0.02))


def test_angle_limits_clamp_each_joint_and_say_which() -> None:
    cfg = RcmConfig(yaw_limits_deg=(-10.0, 10.0), pitch_limits_deg=(-5.0, 5.0))
    q, bits = clamp(cfg, Joints(0.5, -0.5, 0.1, 0.0))
    assert bits == YAW | PITCH
    assert q.yaw == pytest.approx(math.radians(10.0))
    assert q.pitch == pytest.approx(math.radians(-5.0))
    commanded = forward(cfg, Joints(0.5, 0.0, 0.1))
    r = reach(cfg, commanded)
    assert r.limited == YAW
    # the spring points from the commanded tip back to the reached one
    d = [r.tip[i] - commanded[i] for i in range(3)]
    assert sum(r.force[i] * d[i] for i in range(3)) > 0


def test_reversed_or_horizontal_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="reversed"):
        RcmConfig(yaw_limits_deg=(10.0, -10.0))
    with pytest.raises(ValueError, match="horizontal"):
        RcmConfig(pitch_limits_deg=(-90.0, 10.0))


class _Block:
    """The smallest real scene on the shared probe: a stiff spring under z = 0."""

    def __init__(self, instrument: RcmConfig | None) -> None:
        self._probe: Probe | None = Probe((0.05, 0.05, 0.02), 0.003, instrument)

    @instrumented
    def step(self, tool: Vec3, tool_velocity: Vec3, dt_s: float) -> Contact:
        assert self._probe is not None
        depth = self._probe.touch(tool).depth_m
        if depth <= 0:
            return Contact(False, 0.0, (0.0, 0.0, 0.0), 0.0)
        return Contact(True, depth, (0.0, 0.0, 1000.0 * depth), 1000.0 * depth)


def test_a_scene_with_the_instrument_stops_at_the_limit_and_marks_it() -> None:
    cfg = RcmConfig(insertion_limits_m=(0.0, 0.122))  # the tip may go 2 mm into the tissue
    scene = _Block(cfg)
    try:
        free = scene.step((0.0, 0.0, 0.01), (0.0, 0.0, -0.1), 0.001)
        assert not free.contact and free.events == 0
        deep = scene.step((0.0, 0.0, -0.010), (0.0, 0.0, -0.1), 0.001)  # asks 10 mm in
        assert deep.events & EVENT_JOINT_LIMIT
        assert deep.depth_m == pytest.approx(0.002, abs=1e-4)  # stopped at the limit
        # tissue 1000 N/m × 2 mm, plus the limit spring 500 N/m × 8 mm, both pushing up
        assert deep.force[2] == pytest.approx(2.0 + 4.0, abs=0.1)
        again = scene.step((0.0, 0.0, -0.010), (0.0, 0.0, 0.0), 0.001)
        assert again.events == 0  # an edge, not a level
        back = scene.step((0.0, 0.0, 0.01), (0.0, 0.0, 0.1), 0.001)
        assert back.events & EVENT_JOINT_LIMIT_END and not back.contact
    finally:
        assert scene._probe is not None
        scene._probe.close()


def test_without_an_instrument_the_scene_is_unchanged() -> None:
    scene = _Block(None)
    try:
        c = scene.step((0.0, 0.0, -0.010), (0.0, 0.0, 0.0), 0.001)
        assert c.depth_m == pytest.approx(0.010, abs=1e-4)
        assert c.force[2] == pytest.approx(10.0, abs=0.1) and c.events == 0
    finally:
        assert scene._probe is not None
        scene._probe.close()


def test_the_palpation_scene_takes_the_instrument_from_its_config(tmp_path: Path) -> None:
    toml = tmp_path / "scene.toml"
    toml.write_text(
        "[palpation]\ninstrument = { entry_m = [0.0, 0.0, 0.12], "
        "insertion_limits_m = [0.0, 0.124] }\n"
    )
    params = load_scene_params(toml, "palpation")
    scene = PalpationScene(params)
    scene.build()
    try:
        free = scene.step((0.0, 0.03, 0.01), (0.0, 0.0, 0.0), 0.001)
        assert not free.contact
        deep = scene.step((0.0, 0.03, -0.02), (0.0, 0.0, 0.0), 0.001)  # asks 20 mm in
        assert deep.events & EVENT_JOINT_LIMIT
        assert deep.contact and deep.depth_m < 0.0045  # stopped about 4 mm in
        assert deep.force[2] > 0  # tissue and the limit spring push the operator back
    finally:
        scene.close()
