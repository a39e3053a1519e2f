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
"""

from __future__ import annotations

from typing import Any, NamedTuple

from haptics.loop.scene import NO_CONTACT, Contact, Vec3
from haptics.wire.messages import EVENT_CONTACT_END, EVENT_CONTACT_START
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

    def __init__(self, block_half_extents_m: Vec3, tool_radius_m: float) -> None:
        self.world = World()
        self.radius_m = tool_radius_m
        self.block = self.world.box(block_half_extents_m, (0.0, 0.0, -block_half_extents_m[2]))
        self.tool = self.world.sphere(tool_radius_m, PARKED_M)

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
