"""Teleoperation mapping between the device frame and the scene (pure functions).

tool = offset + motion_scale · device_position; force_to_device = force_scale · scene_force.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from haptics.device import Vec3


class Mapping(BaseModel):
    motion_scale: float = Field(1.0, gt=0)
    force_scale: float = Field(1.0, ge=0)
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


def device_to_tool(m: Mapping, position: Vec3, velocity: Vec3) -> tuple[Vec3, Vec3]:
    s, o = m.motion_scale, m.offset_m
    return (
        (o[0] + s * position[0], o[1] + s * position[1], o[2] + s * position[2]),
        (s * velocity[0], s * velocity[1], s * velocity[2]),
    )


def scene_to_device_force(m: Mapping, force: Vec3) -> Vec3:
    k = m.force_scale
    return (k * force[0], k * force[1], k * force[2])
