"""Safety on the force path, as pure functions of (state, input, time) and a policy.

The loop applies these every tick after the scene rendered its force: non-finite force
becomes zero, the magnitude is clamped to the device's limit, and stale input (no new
sample) holds for a moment and then fades force to zero.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from haptics.device import ZERO, Vec3


class SafetyPolicy(BaseModel):
    """Limits for one device. Loaded from config; the device's own schema caps max_force_n."""

    max_force_n: float = Field(8.0, gt=0, description="never command more than this")
    stale_hold_ms: float = Field(
        5.0, ge=0, description="keep rendering this long without a new sample"
    )
    stale_fade_ms: float = Field(20.0, gt=0, description="then fade force to zero over this long")


def stale_gain(age_ns: int, hold_ns: int, fade_ns: int) -> float:
    """Force gain for input that is `age_ns` old: 1 while fresh, linear fade to 0 after hold."""
    if age_ns <= hold_ns:
        return 1.0
    over = age_ns - hold_ns
    if over >= fade_ns:
        return 0.0
    return 1.0 - over / fade_ns


def limit_force(force: Vec3, max_norm: float, gain: float = 1.0) -> tuple[Vec3, bool]:
    """Scale by `gain`, zero anything non-finite, clamp the magnitude to `max_norm`.

    Returns (safe force, limited) where limited is True if anything was changed by a limit.
    """
    fx, fy, fz = force[0] * gain, force[1] * gain, force[2] * gain
    if not (math.isfinite(fx) and math.isfinite(fy) and math.isfinite(fz)):
        return ZERO, True
    norm = math.sqrt(fx * fx + fy * fy + fz * fz)
    if norm <= max_norm:
        return (fx, fy, fz), False
    s = max_norm / norm
    return (fx * s, fy * s, fz * s), True
