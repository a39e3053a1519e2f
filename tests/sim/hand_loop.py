"""The simulated device's physics offline, for scene tests: the real HandModel pulled along
a scene's operator script at 1 kHz, pushed by the scene force of the previous tick (the
loop's one-tick delay), clamped like the simulated device. Faster than real time.

`late` marks the ticks whose device sample arrives after the tick: the scene then sees the
previous sample again, as the control loop does (about 5 % of ticks by design of its
phase lock); the hand itself moves on regardless."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from drivers.simulated.device import MAX_FORCE_N
from drivers.simulated.hand import HandModel
from drivers.simulated.operator import Waypoint, target
from haptics.loop.scene import Scene, Vec3

DT = 1e-3
STILL: Vec3 = (0.0, 0.0, 0.0)


@dataclass
class HandRun:
    events: dict[int, int] = field(default_factory=dict)  # event bit → ticks that raised it
    max_force: float = 0.0
    variation: float = 0.0  # Σ |Δ applied force| over the run: chatter shows up here
    lowest_z: float = math.inf
    final_z: float = 0.0
    forces: list[Vec3] = field(default_factory=list)  # applied force per tick
    tick_events: list[int] = field(default_factory=list)  # event bits per tick

    def count(self, bit: int) -> int:
        return self.events.get(bit, 0)


def run_with_hand(scene: Scene, duration_s: float, late: Sequence[bool] | None = None) -> HandRun:
    """Run `scene` under the scripted hand for `duration_s` and summarise what happened.

    late: per tick, True where the sample arrives late and the scene sees the previous one.
    """
    script = tuple(Waypoint(at, p) for at, p in scene.operator_script())
    hand = HandModel()
    pos, vel = script[0].position, STILL
    seen_pos, seen_vel = pos, vel
    applied: Vec3 = STILL
    run = HandRun(lowest_z=pos[2])
    for k in range(round(duration_s / DT)):
        tgt, tgt_vel = target((k + 1) * DT, duration_s, script)
        pos, vel = hand.step(pos, vel, tgt, tgt_vel, applied, DT)
        if late is None or not late[k]:
            seen_pos, seen_vel = pos, vel
        c = scene.step(seen_pos, seen_vel, DT)
        for bit in range(32):
            if c.events & (1 << bit):
                run.events[1 << bit] = run.events.get(1 << bit, 0) + 1
        norm = math.sqrt(sum(f * f for f in c.force))
        run.max_force = max(run.max_force, norm)
        s = min(1.0, MAX_FORCE_N / norm) if norm > 0 else 1.0
        new = (c.force[0] * s, c.force[1] * s, c.force[2] * s)
        run.variation += sum(abs(a - b) for a, b in zip(new, applied, strict=True))
        applied = new
        run.forces.append(new)
        run.tick_events.append(c.events)
        run.lowest_z = min(run.lowest_z, pos[2])
    run.final_z = pos[2]
    return run
