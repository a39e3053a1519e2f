"""What every scene does first each tick: place the tool, measure its depth, mark contact edges.

The scenes share one geometry: a static tissue block whose top face is the plane z = 0, and a
small sphere moved kinematically whose lowest point is the tool position the loop hands in
(the probe's, needle's or blade's tip). `Probe` owns that pybullet world and answers, for a
tool position, how deep the tip is in the block and along which normal; `ContactEdges`
turns contact on/off across ticks into EVENT_CONTACT_START / _END; `left_contact` is the
answer of a tick out of contact.

State kept between ticks: `ContactEdges` remembers whether the previous tick was in
contact; `Probe` keeps only the pybullet bodies. Both give the same answer for a repeated
tool position (the second call raises no edge).

A scene option, `instrument` (an `RcmConfig` table: the entry point and joint limits), makes
the tool the tip of a surgical instrument through a fixed entry point
(`sim.instruments.rcm`): a scene passes it to `Probe(..., instrument=)` and wraps its `step`
with `instrumented`. The tool then goes where the instrument can reach: at a joint limit the
tip stops there, the limit spring pushes the operator back along the limited direction (added
to the scene's force, which is otherwise unchanged), and EVENT_JOINT_LIMIT / _END mark the
edges in telemetry. The shaft is a visual body in the scene's world (the camera shows it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

from haptics.loop.scene import NO_CONTACT, Contact, Vec3
from haptics.wire.messages import (
    EVENT_CONTACT_END,
    EVENT_CONTACT_START,
    EVENT_JOINT_LIMIT,
    EVENT_JOINT_LIMIT_END,
)
from sim.instruments.rcm import HOME, RcmBody, RcmConfig, Reach, reach
from sim.world import World

PARKED_M: Vec3 = (0.0, 0.0, 0.05)  # where the tool sphere waits before the first tick
UP: Vec3 = (0.0, 0.0, 1.0)


class Touch(NamedTuple):
    """The tool tip against a body.

    depth_m: penetration (> 0 in contact; 0 when no point is within reach).
    normal: unit normal on the body pointing towards the tool (pybullet's contactNormalOnB);
        +z when nothing is within reach.
    """

    depth_m: float
    normal: Vec3


NO_TOUCH = Touch(0.0, UP)


class Probe:
    """A pybullet DIRECT world with a tissue block (top face z = 0) and a spherical tool.

    block_half_extents_m: half sizes (x, y, z) of the block, centred under the origin.
    tool_radius_m: radius of the sphere whose lowest point is the tool position.

    Raises SceneError if pybullet cannot start a client.
    """

    def __init__(
        self,
        block_half_extents_m: Vec3,
        tool_radius_m: float,
        instrument: RcmConfig | None = None,
    ) -> None:
        self.world = World()
        self.radius_m = tool_radius_m
        self.block = self.world.box(block_half_extents_m, (0.0, 0.0, -block_half_extents_m[2]))
        self.tool = self.world.sphere(tool_radius_m, PARKED_M)
        self.instrument = instrument
        self.shaft = RcmBody(self.world.client, instrument) if instrument is not None else None
        self.joints = HOME
        self._at_limit = False

    def reach(self, commanded: Vec3) -> tuple[Reach, int]:
        """Where the instrument's tip gets to for the `commanded` tool position (m), with the
        shaft placed there, and the limit edge events (EVENT_JOINT_LIMIT / _END) this tick.

        Without an instrument the tip is the commanded position, unlimited.
        """
        cfg = self.instrument
        if cfg is None or self.shaft is None:
            return Reach(commanded, HOME, 0, (0.0, 0.0, 0.0)), 0
        r = reach(cfg, commanded, self.joints)
        self.joints = r.joints
        self.shaft.place(r.tip, r.joints)
        at = bool(r.limited)
        events = 0
        if at != self._at_limit:
            self._at_limit = at
            events = EVENT_JOINT_LIMIT if at else EVENT_JOINT_LIMIT_END
        return r, events

    def touch(self, tip: Vec3) -> Touch:
        """Move the tool so its lowest point is `tip` (m) and measure it against the block.

        `NO_TOUCH` (depth 0) when the tool is clear of the block.
        """
        self.world.move(self.tool, (tip[0], tip[1], tip[2] + self.radius_m))
        return self.near(self.block, 0.0) or NO_TOUCH

    def near(self, body: int, reach_m: float) -> Touch | None:
        """The tool's closest approach to `body` within `reach_m` (m), where it now is.

        depth_m is minus the closest distance: > 0 overlapping, in [−reach_m, 0] within reach.
        None if nothing is within reach.
        """
        hits = self.world.closest(self.tool, body, reach_m)
        if not hits:
            return None
        h = min(hits, key=_distance)
        n = h[7]
        return Touch(-float(h[8]), (float(n[0]), float(n[1]), float(n[2])))

    def close(self) -> None:
        """Disconnect from pybullet (idempotent)."""
        self.world.close()


def _distance(hit: Any) -> float:
    return float(hit[8])  # pybullet's closest-point record: [8] is the signed distance


class ContactEdges:
    """Turns "in contact this tick" into EVENT_CONTACT_START / _END bits on the edges."""

    def __init__(self) -> None:
        self.in_contact = False

    def update(self, contact: bool) -> int:
        """Event bits for this tick: START when contact begins, END when it ends, else 0."""
        if contact == self.in_contact:
            return 0
        self.in_contact = contact
        return EVENT_CONTACT_START if contact else EVENT_CONTACT_END


def left_contact(events: int) -> Contact:
    """The answer of a tick out of contact: `NO_CONTACT`, or zero force carrying `events`."""
    if not events:
        return NO_CONTACT
    return Contact(False, 0.0, (0.0, 0.0, 0.0), 0.0, -1, False, events)


class _ProbedScene(Protocol):
    _probe: Probe | None


S = TypeVar("S", bound=_ProbedScene)
Step = Callable[[S, Vec3, Vec3, float], Contact]


def instrumented(step: Step[S]) -> Step[S]:
    """Wrap a scene's `step` so its tool is the instrument's tip (when the scene's probe has
    an instrument; unchanged otherwise): the scene renders at the reached tip (still at a
    limit: zero velocity), and the limit spring and edge events are added to its answer."""

    @functools.wraps(step)
    def wrapper(scene: S, tool: Vec3, tool_velocity: Vec3, dt_s: float) -> Contact:
        probe = scene._probe
        if probe is None or probe.instrument is None:
            return step(scene, tool, tool_velocity, dt_s)
        r, events = probe.reach(tool)
        velocity = (0.0, 0.0, 0.0) if r.limited else tool_velocity
        contact = step(scene, r.tip, velocity, dt_s)
        if not r.limited and not events:
            return contact
        f, p = contact.force, r.force
        return contact._replace(
            force=(f[0] + p[0], f[1] + p[1], f[2] + p[2]), events=contact.events | events
        )

    return wrapper
