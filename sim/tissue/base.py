"""The contract every tissue model follows: a pure step function of state and input.

A model never touches pybullet or the clock. The caller passes the penetration depth along
the contact normal, its rate, and the time step; the model returns its new state and the
force it renders. Because state is an explicit value, a test can run a model faster than
real time and the same logic can move to firmware.

Repeated input: the control loop reuses the previous device sample on a tick whose sample
arrived late, so a model sees the same (depth, velocity) twice in a row now and then. A
model must not turn that into a force step: whatever depends on motion is read from the
velocities in the input (which a repeated sample repeats) or from positions (which it
repeats too), never from "did the depth change since the previous tick". Each model's
docstring says what state it keeps between ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

S = TypeVar("S")

# Event bits a model may raise in one step; the loop ORs them into telemetry.
EVENT_NONE = 0
EVENT_PUNCTURE = 1 << 0
EVENT_CUT_START = 1 << 1
EVENT_CUT_END = 1 << 2


@dataclass(frozen=True, slots=True)
class TissueInput:
    """What the tool does to the tissue during one step.

    depth_m: penetration along the inward contact normal (<= 0 means no contact).
    velocity_m_s: d(depth)/dt, positive while pressing in.
    tangential_velocity_m_s: speed along the surface (used by cutting/friction models).
        Models that track a position along a path (`Cutting`) read it as a signed velocity
        along a fixed path direction; a caller that only knows the speed passes it >= 0.
    dt_s: step length in seconds (1e-3 at 1 kHz).
    path_position_m: where the tool is along that fixed path direction (m), for models that
        remember where they have been (`Cutting`); None: the model integrates the
        tangential velocity instead. A caller that knows the position should pass it: a
        repeated sample then repeats the position, where integrating its velocity twice
        would move the tool in the model but not in the world.
    """

    depth_m: float
    velocity_m_s: float
    dt_s: float
    tangential_velocity_m_s: float = 0.0
    path_position_m: float | None = None


@dataclass(frozen=True, slots=True)
class TissueOutput:
    """What the tissue answers.

    force_n: force along the outward normal (positive pushes the tool out of the tissue;
        negative only where a model pulls, e.g. needle friction on retraction).
    tangential_force_n: resistance along the direction of tangential motion (<= 0 opposes it).
    layer: index of the layer the tool tip is in (-1 outside the tissue).
    events: OR of EVENT_* bits raised during this step.
    """

    force_n: float
    layer: int = -1
    events: int = EVENT_NONE
    tangential_force_n: float = 0.0


class TissueModel(Protocol[S]):
    """A tissue model: `initial_state()` then `step()` once per tick."""

    def initial_state(self) -> S: ...

    def step(self, state: S, inp: TissueInput) -> tuple[S, TissueOutput]: ...


class ElasticLaw(Protocol):
    """A memoryless force-depth law, used as the stiffness of a layer.

    `force_at(depth_m)` is the elastic force in N for a deflection `depth_m` in m; it is 0 for
    depth <= 0 and never negative. The stiffening models implement it.
    """

    def force_at(self, depth_m: float) -> float: ...
