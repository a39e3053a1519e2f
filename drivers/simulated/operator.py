"""The scripted operator: where the hand wants the stylus to be at time t.

A pure function of time and the script; smooth (cosine-blended) between waypoints so the
hand never jerks. Positions are in the device frame, metres; the palpation surface is z = 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Waypoint:
    """Reach `position` at fraction `at` (0..1) of the script's duration."""

    at: float
    position: Vec3


# approach from above, press in, palpate across the surface (two passes), retract
PALPATION_SCRIPT: tuple[Waypoint, ...] = (
    Waypoint(0.00, (-0.030, -0.004, 0.020)),
    Waypoint(0.12, (-0.030, -0.004, 0.004)),  # approach
    Waypoint(0.20, (-0.030, -0.004, -0.010)),  # press: the hand aims 10 mm deep
    Waypoint(0.48, (0.030, -0.004, -0.010)),  # palpate across
    Waypoint(0.54, (0.030, 0.004, -0.010)),
    Waypoint(0.82, (-0.030, 0.004, -0.010)),  # and back on a second line
    Waypoint(0.90, (-0.030, 0.004, 0.004)),
    Waypoint(1.00, (-0.030, 0.004, 0.020)),  # retract
)


def _blend(a: Vec3, b: Vec3, s: float) -> tuple[Vec3, float]:
    """Cosine blend from a to b at s in [0, 1]; returns the point and d(point)/ds scale."""
    w = 0.5 - 0.5 * math.cos(math.pi * s)
    dw = 0.5 * math.pi * math.sin(math.pi * s)
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w), dw


def target(
    t_s: float, duration_s: float, script: tuple[Waypoint, ...] = PALPATION_SCRIPT
) -> tuple[Vec3, Vec3]:
    """The hand's target position and velocity at time `t_s` of a `duration_s` script.

    Before the start and after the end the target rests at the first / last waypoint.
    """
    if duration_s <= 0 or t_s <= 0:
        return script[0].position, (0.0, 0.0, 0.0)
    u = t_s / duration_s
    if u >= script[-1].at:
        return script[-1].position, (0.0, 0.0, 0.0)
    for a, b in itertools.pairwise(script):
        if a.at <= u < b.at:
            seg = (b.at - a.at) * duration_s
            s = (t_s - a.at * duration_s) / seg
            pos, dw = _blend(a.position, b.position, s)
            k = dw / seg
            vel = (
                (b.position[0] - a.position[0]) * k,
                (b.position[1] - a.position[1]) * k,
                (b.position[2] - a.position[2]) * k,
            )
            return pos, vel
    return script[-1].position, (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ButtonPress:
    """Hold `buttons` (BUTTON_* bits) from fraction `start` to fraction `end` (0..1) of the
    script's duration."""

    start: float
    end: float
    buttons: int


def buttons_at(t_s: float, duration_s: float, presses: tuple[ButtonPress, ...]) -> int:
    """The buttons held at time `t_s` of a `duration_s` script: every press whose interval
    [start, end) contains t_s / duration_s, OR-ed together."""
    if duration_s <= 0 or not presses:
        return 0
    u = t_s / duration_s
    held = 0
    for p in presses:
        if p.start <= u < p.end:
            held |= p.buttons
    return held
