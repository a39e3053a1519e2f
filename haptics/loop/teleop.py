"""Teleoperation mapping between the device frame and the scene (pure functions, plain floats).

    tool  = offset + motion_scale · R(yaw) · device_position
    v_tool = motion_scale · R(yaw) · device_velocity
    force_to_device = force_scale · R(yaw)⁻¹ · scene_force

- Motion scaling: `motion_scale` < 1 makes large hand motions fine tool motions. For
  reference, the da Vinci Research Kit's MTM→PSM teleoperation defaults to 0.2 (dVRK
  `mtsTeleOperationPSM`, "scale"); our default stays 1.0 because the simulated device's
  scripted operator already moves in scene coordinates.
- Force scaling: `force_scale` scales what the scene renders before safety clamps it.
- Camera-frame alignment: the operator moves relative to what the camera shows, so device
  motion is rotated about z by `camera_yaw_deg` into the scene, and scene forces are rotated
  back by the inverse. A rotation preserves dot products, so the power exchanged at the
  device, f_dev · v_dev = (force_scale / motion_scale) · f_scene · v_tool, keeps its sign: a
  force that resists motion in the scene resists the hand's motion on the device.
- Clutch: `teleop_step` is the per-tick form with state. While the clutch is pressed the
  tool holds still (velocity zero) and the hand can reposition freely; on release the
  offset is re-anchored so that the tool continues from where it was held, without a jump.

`device_to_tool` / `scene_to_device_force` are the stateless forms (no clutch; they use
`Mapping.offset_m`). All of it runs in the 1 kHz tick: no numpy, no pydantic calls.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from pydantic import BaseModel, Field

from haptics.devices.device import Vec3


class Mapping(BaseModel):
    """Device → scene mapping; units in the field names.

    motion_scale: tool metres per device metre (> 0). dVRK's default is 0.2; ours is 1.0.
    force_scale: device newtons per scene newton (>= 0).
    offset_m: tool position when the device is at its origin (scene frame, m).
    camera_yaw_deg: rotation about z from the device frame to the scene frame, degrees
        (positive counter-clockwise seen from +z).
    """

    motion_scale: float = Field(1.0, gt=0)
    force_scale: float = Field(1.0, ge=0)
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera_yaw_deg: float = Field(0.0, ge=-360.0, le=360.0)


def _rotation(m: Mapping) -> tuple[float, float]:
    """(cos, sin) of the camera yaw; exactly (1, 0) when there is none."""
    yaw = m.camera_yaw_deg
    if yaw == 0.0:
        return 1.0, 0.0
    rad = math.radians(yaw)
    return math.cos(rad), math.sin(rad)


def device_to_tool(m: Mapping, position: Vec3, velocity: Vec3) -> tuple[Vec3, Vec3]:
    """Tool position (m) and velocity (m/s) in the scene for a device sample (no clutch)."""
    s, o = m.motion_scale, m.offset_m
    c, sn = _rotation(m)
    px, py = c * position[0] - sn * position[1], sn * position[0] + c * position[1]
    vx, vy = c * velocity[0] - sn * velocity[1], sn * velocity[0] + c * velocity[1]
    return (
        (o[0] + s * px, o[1] + s * py, o[2] + s * position[2]),
        (s * vx, s * vy, s * velocity[2]),
    )


def scene_to_device_force(m: Mapping, force: Vec3) -> Vec3:
    """Force (N) to command on the device for a scene force (N): scaled, rotated back."""
    k = m.force_scale
    c, sn = _rotation(m)
    # R⁻¹ = Rᵀ
    return (
        k * (c * force[0] + sn * force[1]),
        k * (-sn * force[0] + c * force[1]),
        k * force[2],
    )


class TeleopState(NamedTuple):
    """Clutch state carried from tick to tick (plain floats).

    offset_m: the current offset (scene frame, m); re-anchored at every clutch release.
    clutched: True while the clutch is pressed.
    held_m: the tool position of the last tick (scene frame, m), where the tool is held
        while clutched.
    """

    offset_m: Vec3
    clutched: bool = False
    held_m: Vec3 = (0.0, 0.0, 0.0)


def initial_teleop_state(m: Mapping) -> TeleopState:
    """The state before the first tick: not clutched, offset from the mapping, the tool at
    the offset (where it would be held if the clutch is pressed before any sample)."""
    return TeleopState(m.offset_m, False, m.offset_m)


_STILL: Vec3 = (0.0, 0.0, 0.0)


def teleop_step(
    m: Mapping, state: TeleopState, position: Vec3, velocity: Vec3, clutch_pressed: bool
) -> tuple[TeleopState, Vec3, Vec3]:
    """One tick of the mapping with a clutch.

    position (m), velocity (m/s): the device sample. Returns (new state, tool position in m,
    tool velocity in m/s). Pressing the clutch freezes the tool where it is (velocity zero);
    releasing it re-anchors the offset so that the tool continues from the held position:
    neither edge makes the tool jump (the tool holds the position of the tick before the
    press, and moves on from it after the release).
    """
    s = m.motion_scale
    c, sn = _rotation(m)
    px = s * (c * position[0] - sn * position[1])
    py = s * (sn * position[0] + c * position[1])
    pz = s * position[2]
    if clutch_pressed:
        if not state.clutched:  # pressed: the tool stays where it was last tick
            state = TeleopState(state.offset_m, True, state.held_m)
        return state, state.held_m, _STILL
    if state.clutched:  # released: re-anchor so the tool continues from where it was held
        h = state.held_m
        o = (h[0] - px, h[1] - py, h[2] - pz)
    else:
        o = state.offset_m
    tool = (o[0] + px, o[1] + py, o[2] + pz)
    return (
        TeleopState(o, False, tool),
        tool,
        (
            s * (c * velocity[0] - sn * velocity[1]),
            s * (sn * velocity[0] + c * velocity[1]),
            s * velocity[2],
        ),
    )
