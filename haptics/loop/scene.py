"""The scene contract the control loop renders against. Scenes live in `sim/`; the core
finds them through the `haptics.scenes` entry points and only knows this interface.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

Vec3 = tuple[float, float, float]


class Contact(NamedTuple):
    """A scene's answer for one tick (ground truth travels into telemetry)."""

    contact: bool
    depth_m: float
    force: Vec3  # force on the tool, world frame, N (before safety)
    tissue_force_n: float  # magnitude the tissue model rendered
    layer: int = -1
    inclusion: bool = False
    events: int = 0


NO_CONTACT = Contact(False, 0.0, (0.0, 0.0, 0.0), 0.0)


class Scene(Protocol):
    """Build once, then `step` every tick with the tool's pose; `close` at the end."""

    name: str

    def build(self) -> None:
        """Create the pybullet world (DIRECT). Raises SceneError."""

    def step(self, tool: Vec3, tool_velocity: Vec3, dt_s: float) -> Contact:
        """Move the tool, query contact, render tissue force. Must cost a few tens of µs."""

    def describe(self) -> dict[str, Any]:
        """Parameters and ground truth for the session manifest (JSON-serialisable)."""

    def close(self) -> None:
        """Disconnect from pybullet."""

    def operator_script(self) -> list[tuple[float, Vec3]]:
        """Waypoints (fraction of the session, tool position in m) a simulated operator
        follows in this scene; cheap, needs no `build()`."""
