"""The hand–arm model holding the stylus: a mass pulled toward the operator's target by a
spring–damper, pushed by the device force. A pure step function.

m·a = K_h·(target − x) + B_h·(v_target − v) + F_device

Defaults: 0.1 kg effective stylus-plus-fingertip mass; human arm stiffness in the 200–1000 N/m
range (Hogan's measurements), 400 N/m here; damping for a damping ratio near 0.7. Because
the device force enters the dynamics, tissue really pushes the stylus back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class HandModel:
    mass_kg: float = 0.1
    stiffness_n_per_m: float = 400.0
    damping_ns_per_m: float = 8.9

    def step(
        self, pos: Vec3, vel: Vec3, target: Vec3, target_vel: Vec3, force: Vec3, dt_s: float
    ) -> tuple[Vec3, Vec3]:
        """Advance one step (semi-implicit Euler); returns the new position and velocity."""
        k, b, m = self.stiffness_n_per_m, self.damping_ns_per_m, self.mass_kg
        nv = [0.0, 0.0, 0.0]
        npos = [0.0, 0.0, 0.0]
        for i in range(3):
            f = k * (target[i] - pos[i]) + b * (target_vel[i] - vel[i]) + force[i]
            v = vel[i] + f / m * dt_s
            if not math.isfinite(v):
                v = 0.0
            nv[i] = v
            npos[i] = pos[i] + v * dt_s
        return (npos[0], npos[1], npos[2]), (nv[0], nv[1], nv[2])
