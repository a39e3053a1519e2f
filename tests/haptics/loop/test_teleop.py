"""Teleoperation mapping: scaling, camera alignment, and a clutch that never makes the tool jump."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from haptics.devices.device import Vec3
from haptics.loop.teleop import (
    Mapping,
    TeleopState,
    device_to_tool,
    initial_teleop_state,
    scene_to_device_force,
    teleop_step,
)

ZERO: Vec3 = (0.0, 0.0, 0.0)


def _dot(a: Vec3, b: Vec3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def test_default_mapping_is_the_identity() -> None:
    m = Mapping()
    assert device_to_tool(m, (0.1, -0.2, 0.3), (1.0, 2.0, 3.0)) == (
        (0.1, -0.2, 0.3),
        (1.0, 2.0, 3.0),
    )
    assert scene_to_device_force(m, (1.0, -2.0, 3.0)) == (1.0, -2.0, 3.0)


def test_motion_and_force_scaling_with_offset() -> None:
    m = Mapping(motion_scale=0.2, force_scale=0.5, offset_m=(0.01, 0.0, -0.01))
    pos, vel = device_to_tool(m, (0.1, 0.05, -0.05), (0.1, 0.0, 0.0))
    assert pos == pytest.approx((0.03, 0.01, -0.02))
    assert vel == pytest.approx((0.02, 0.0, 0.0))
    assert scene_to_device_force(m, (2.0, 0.0, -4.0)) == pytest.approx((1.0, 0.0, -2.0))


def test_invalid_mapping_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Mapping(motion_scale=0.0)
    with pytest.raises(ValidationError):
        Mapping(force_scale=-1.0)


def test_camera_yaw_rotates_motion_and_rotates_force_back() -> None:
    m = Mapping(camera_yaw_deg=90.0)
    pos, vel = device_to_tool(m, (0.01, 0.0, 0.02), (0.1, 0.0, 0.0))
    assert pos == pytest.approx((0.0, 0.01, 0.02), abs=1e-15)
    assert vel == pytest.approx((0.0, 0.1, 0.0), abs=1e-15)
    # the tissue resists the tool moving along scene +y: the hand feels it against device +x
    assert scene_to_device_force(m, (0.0, -1.0, 0.5)) == pytest.approx((-1.0, 0.0, 0.5))


vectors = st.tuples(*(st.floats(-1.0, 1.0) for _ in range(3)))


@given(
    yaw=st.floats(-360.0, 360.0),
    scale=st.floats(0.05, 5.0),
    gain=st.floats(0.0, 3.0),
    v=vectors,
    f=vectors,
)
def test_camera_rotation_round_trip_keeps_force_consistent_with_motion(
    yaw: float, scale: float, gain: float, v: Vec3, f: Vec3
) -> None:
    m = Mapping(camera_yaw_deg=yaw, motion_scale=scale, force_scale=gain)
    _, v_tool = device_to_tool(m, ZERO, v)
    # a scene force along the tool's motion comes back along the device's motion
    back = scene_to_device_force(Mapping(camera_yaw_deg=yaw), v_tool)
    assert back == pytest.approx((scale * v[0], scale * v[1], scale * v[2]), abs=1e-9)
    # power at the device matches power in the scene: resisting stays resisting
    f_dev = scene_to_device_force(m, f)
    assert _dot(f_dev, v) == pytest.approx(gain / scale * _dot(f, v_tool), abs=1e-9)


def test_teleop_step_without_clutch_is_device_to_tool() -> None:
    m = Mapping(motion_scale=0.5, offset_m=(0.01, 0.02, 0.03), camera_yaw_deg=30.0)
    state = initial_teleop_state(m)
    for p, v in (((0.1, 0.2, 0.3), (1.0, 0.0, 0.0)), ((-0.1, 0.0, 0.05), (0.0, -1.0, 2.0))):
        state, pos, vel = teleop_step(m, state, p, v, False)
        expected_pos, expected_vel = device_to_tool(m, p, v)
        assert pos == pytest.approx(expected_pos) and vel == pytest.approx(expected_vel)


def test_clutch_holds_the_tool_and_re_engages_without_a_jump() -> None:
    m = Mapping(motion_scale=0.5)
    state = initial_teleop_state(m)
    state, before, _ = teleop_step(m, state, (0.02, 0.0, 0.0), (0.1, 0.0, 0.0), False)
    assert before == pytest.approx((0.01, 0.0, 0.0))
    # clutch pressed: the hand moves back 4 cm, the tool stays put and still
    for x in (0.01, 0.0, -0.01, -0.02):
        state, pos, vel = teleop_step(m, state, (x, 0.0, 0.0), (-0.1, 0.0, 0.0), True)
        assert pos == before and vel == ZERO
    assert state.clutched
    # released: no jump, then the tool follows the hand from where it was held
    state, pos, vel = teleop_step(m, state, (-0.02, 0.0, 0.0), (0.1, 0.0, 0.0), False)
    assert pos == pytest.approx(before) and vel == pytest.approx((0.05, 0.0, 0.0))
    state, pos, _ = teleop_step(m, state, (0.0, 0.0, 0.0), (0.1, 0.0, 0.0), False)
    assert pos == pytest.approx((0.02, 0.0, 0.0)), "the workspace was extended by the clutch"
    assert isinstance(state, TeleopState) and not state.clutched


@settings(max_examples=200, deadline=None)
@given(
    yaw=st.floats(-180.0, 180.0),
    scale=st.floats(0.1, 3.0),
    steps=st.lists(
        st.tuples(st.tuples(*(st.floats(-0.01, 0.01) for _ in range(3))), st.booleans()),
        min_size=1,
        max_size=60,
    ),
)
def test_no_jump_at_any_clutch_edge_for_random_motion(
    yaw: float, scale: float, steps: list[tuple[Vec3, bool]]
) -> None:
    """Tool motion per tick never exceeds the scaled device motion; clutched, it is zero."""
    m = Mapping(motion_scale=scale, camera_yaw_deg=yaw, offset_m=(0.1, -0.1, 0.0))
    state = initial_teleop_state(m)
    p: Vec3 = (0.0, 0.0, 0.0)
    state, tool, _ = teleop_step(m, state, p, ZERO, False)
    for delta, pressed in steps:
        q = (p[0] + delta[0], p[1] + delta[1], p[2] + delta[2])
        was_clutched = state.clutched
        state, new_tool, vel = teleop_step(m, state, q, delta, pressed)
        moved = math.dist(new_tool, tool)
        if pressed:
            assert vel == ZERO and new_tool == tool, "clutched: the tool holds still"
        elif was_clutched:
            assert moved < 1e-12, "released: the tool continues from where it was held"
        assert moved <= scale * math.dist(q, p) + 1e-12
        p, tool = q, new_tool
