"""A surgical instrument through a fixed entry point: a remote centre of motion (RCM).

The shaft passes through the entry point (the trocar) at `entry_m`; four joints place it:
yaw q1 and pitch q2 tilt the shaft about the entry point, insertion d slides it along its
axis (the tip is d metres past the entry point), roll q4 turns it about its axis (it moves
no point on the axis, so the tip position does not depend on it). The shaft's direction,
pointing from the entry point into the body, is

    u(q1, q2) = (sin q1 · cos q2,  sin q2,  −cos q1 · cos q2)      (straight down at q = 0)

and the tip is `entry + d · u` (forward kinematics). The inverse is closed-form: d = |p − e|,
q2 = asin(u_y), q1 = atan2(u_x, −u_z); no solver. The only singular places are d = 0 (the tip
at the entry point: the direction is undefined, the previous angles are kept) and q2 = ±90°
(the shaft horizontal), outside the default limits.

`reach` is the per-tick step: the commanded tip (where the teleop mapping puts the tool) →
joints → clamped to the joint limits → the tip that is actually reached. At a limit the tip
stops there and `limit_force` pushes the operator back along the limited direction (a spring
from the commanded to the reached tip). The da Vinci PSM's insertion range, 0–0.24 m, is the
default. Pure functions, plain floats; `RcmBody` is the pybullet visual.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pybullet
from pydantic import BaseModel, ConfigDict, Field, model_validator

Vec3 = tuple[float, float, float]

YAW, PITCH, INSERTION, ROLL = 1, 2, 4, 8  # bits of `Reach.limited`


class RcmConfig(BaseModel):
    """The instrument: entry point, joint limits, the push-back stiffness at a limit."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: str = Field("rcm", pattern="^rcm$")
    entry_m: tuple[float, float, float] = (0.0, 0.0, 0.12)  # above the tissue (top face z = 0)
    yaw_limits_deg: tuple[float, float] = (-60.0, 60.0)
    pitch_limits_deg: tuple[float, float] = (-60.0, 60.0)
    insertion_limits_m: tuple[float, float] = (0.0, 0.24)
    roll_limits_deg: tuple[float, float] = (-260.0, 260.0)
    limit_stiffness_n_per_m: float = Field(500.0, ge=0, le=1e5)
    shaft_radius_m: float = Field(0.004, gt=0, le=0.05)  # the visual's
    shaft_length_m: float = Field(0.40, gt=0, le=2.0)

    @model_validator(mode="after")
    def _ordered(self) -> RcmConfig:
        for name in ("yaw_limits_deg", "pitch_limits_deg", "insertion_limits_m",
                     "roll_limits_deg"):  # fmt: skip
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name}: [{lo:g}, {hi:g}] is reversed; give [low, high]")
        lo, hi = self.pitch_limits_deg
        if lo <= -90.0 or hi >= 90.0:
            raise ValueError("pitch_limits_deg must stay inside (-90, 90): the shaft horizontal")
        if self.insertion_limits_m[0] < 0.0:
            raise ValueError("insertion_limits_m cannot start below 0 (behind the entry point)")
        return self


class Joints(NamedTuple):
    """Yaw and pitch (rad), insertion (m), roll (rad)."""

    yaw: float = 0.0
    pitch: float = 0.0
    insertion: float = 0.0
    roll: float = 0.0


HOME = Joints()  # straight down, at the entry point


class Reach(NamedTuple):
    """One tick's answer: where the tip got to, with which joints, and what limited it."""

    tip: Vec3  # the tip actually reached (m)
    joints: Joints  # clamped joints
    limited: int  # YAW | PITCH | INSERTION | ROLL bits of the joints at a limit
    force: Vec3  # push-back toward the reached tip (N): zero when nothing limited


def direction(yaw: float, pitch: float) -> Vec3:
    """The shaft's unit direction from the entry point into the body."""
    cp = math.cos(pitch)
    return (math.sin(yaw) * cp, math.sin(pitch), -math.cos(yaw) * cp)


def forward(cfg: RcmConfig, q: Joints) -> Vec3:
    """The tip position (m) for joints `q` (forward kinematics)."""
    u = direction(q.yaw, q.pitch)
    e, d = cfg.entry_m, q.insertion
    return (e[0] + d * u[0], e[1] + d * u[1], e[2] + d * u[2])


def inverse(cfg: RcmConfig, tip: Vec3, previous: Joints = HOME) -> Joints:
    """Joints that put the tip at `tip` (m), unclamped (inverse kinematics, closed form).

    At the entry point itself the direction is undefined: `previous`'s angles are kept.
    The roll is `previous.roll` (the tip position does not set it).
    """
    e = cfg.entry_m
    r = (tip[0] - e[0], tip[1] - e[1], tip[2] - e[2])
    d = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
    if d < 1e-9:
        return Joints(previous.yaw, previous.pitch, 0.0, previous.roll)
    pitch = math.asin(max(-1.0, min(1.0, r[1] / d)))
    yaw = math.atan2(r[0], -r[2])
    return Joints(yaw, pitch, d, previous.roll)


def _clamp(x: float, lo: float, hi: float) -> tuple[float, bool]:
    if x < lo:
        return lo, True
    if x > hi:
        return hi, True
    return x, False


def clamp(cfg: RcmConfig, q: Joints) -> tuple[Joints, int]:
    """`q` inside the joint limits, and the bits of the joints that were outside."""
    rad = math.radians
    yaw, a = _clamp(q.yaw, rad(cfg.yaw_limits_deg[0]), rad(cfg.yaw_limits_deg[1]))
    pitch, b = _clamp(q.pitch, rad(cfg.pitch_limits_deg[0]), rad(cfg.pitch_limits_deg[1]))
    ins, c = _clamp(q.insertion, *cfg.insertion_limits_m)
    roll, r = _clamp(q.roll, rad(cfg.roll_limits_deg[0]), rad(cfg.roll_limits_deg[1]))
    bits = (YAW if a else 0) | (PITCH if b else 0) | (INSERTION if c else 0) | (ROLL if r else 0)
    return Joints(yaw, pitch, ins, roll), bits


def reach(cfg: RcmConfig, commanded: Vec3, previous: Joints = HOME) -> Reach:
    """Where the tip gets to when the teleop mapping asks for `commanded` (m).

    Inside the limits the tip is exactly `commanded`. Outside, the joints stop at their
    limits, the tip stops at the reached point and the force is the limit spring pulling
    the commanded point back toward it (N): what the operator feels.
    """
    q, bits = clamp(cfg, inverse(cfg, commanded, previous))
    if not bits:
        return Reach(commanded, q, 0, (0.0, 0.0, 0.0))
    tip = forward(cfg, q)
    k = cfg.limit_stiffness_n_per_m
    force = (k * (tip[0] - commanded[0]), k * (tip[1] - commanded[1]), k * (tip[2] - commanded[2]))
    return Reach(tip, q, bits, force)


def _shaft_orientation(q: Joints) -> tuple[float, float, float, float]:
    """Quaternion turning the cylinder's +z axis onto the shaft (−u: from the tip outward),
    then the roll about it."""
    ux, uy, uz = direction(q.yaw, q.pitch)
    ax, ay, az = -ux, -uy, -uz  # the shaft's axis, tip → entry
    # rotation taking z = (0, 0, 1) onto a: axis z × a, angle acos(z · a)
    cx, cy = -ay, ax
    s = math.hypot(cx, cy)
    angle = math.atan2(s, az)
    if s < 1e-12:
        base = (0.0, 0.0, 0.0, 1.0)
    else:
        h = math.sin(angle / 2) / s
        base = (cx * h, cy * h, 0.0, math.cos(angle / 2))
    roll = (0.0, 0.0, math.sin(q.roll / 2), math.cos(q.roll / 2))  # about the local axis
    return _qmul(base, roll)


def _qmul(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


class RcmBody:
    """The instrument's pybullet visual: a shaft from the tip back through the entry point,
    and a ring marking the entry point. Visual only (no collision shape), so contact queries
    see the tool tip alone."""

    def __init__(self, client: int, cfg: RcmConfig) -> None:
        self.client, self.cfg = client, cfg
        shape = pybullet.createVisualShape(
            pybullet.GEOM_CYLINDER, radius=cfg.shaft_radius_m, length=cfg.shaft_length_m,
            rgbaColor=(0.75, 0.75, 0.8, 1.0), physicsClientId=client,
        )  # fmt: skip
        self.shaft = int(pybullet.createMultiBody(
            0.0, -1, shape, basePosition=forward(cfg, HOME), physicsClientId=client
        ))  # fmt: skip
        ring = pybullet.createVisualShape(
            pybullet.GEOM_SPHERE, radius=2.5 * cfg.shaft_radius_m,
            rgbaColor=(0.2, 0.6, 0.9, 0.6), physicsClientId=client,
        )  # fmt: skip
        self.entry = int(pybullet.createMultiBody(
            0.0, -1, ring, basePosition=cfg.entry_m, physicsClientId=client
        ))  # fmt: skip

    def place(self, tip: Vec3, q: Joints) -> None:
        """Put the shaft so its lower end is at `tip` (m) along the joints' direction."""
        u = direction(q.yaw, q.pitch)
        half = self.cfg.shaft_length_m / 2
        centre = (tip[0] - u[0] * half, tip[1] - u[1] * half, tip[2] - u[2] * half)
        pybullet.resetBasePositionAndOrientation(
            self.shaft, centre, _shaft_orientation(q), physicsClientId=self.client
        )
