"""The scene contract the control loop renders against. Scenes live in `sim/`; the core
finds them through the `haptics.scenes` entry points and only knows this interface.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from haptics.errors import SceneError
from haptics.plugins import SCENE_GROUP, load, names

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


class Filmable(Protocol):
    """Optional render hooks of a scene, called by the camera process only (never by the loop).

    A scene without them is still filmed, as its bare pybullet bodies from a default pose.
    """

    def build_visuals(self, truth: bool) -> dict[str, Any]:
        """After `build()`: add what only the picture needs to the scene's world (coloured
        tissue, the instrument, a cut-away) and hide bodies that exist only for contact.
        `truth`: also show hidden ground truth (e.g. an inclusion). Returns the camera
        framing the scene suggests: any of `haptics.session.camera.CameraPose`'s fields.
        Raises SceneError if the world is not built."""

    def update_visuals(self) -> None:
        """Once per frame, after `step()` placed the tool: move the instrument, dent the
        surface where the tool presses. Costs a few ms at most (the camera's frame budget)."""


class SceneFactory(Protocol):
    """A scene class: built from its parameters (the scene config's table)."""

    def __call__(self, config: dict[str, Any] | None = None, /) -> Scene: ...


def scene_names() -> list[str]:
    """Names of the installed scenes."""
    return names(SCENE_GROUP)


def load_scene(name: str) -> SceneFactory:
    """The scene class registered as `name`. Raises SceneError listing what exists."""
    cls = load(SCENE_GROUP, name)
    if cls is None:
        have = ", ".join(scene_names()) or "none"
        raise SceneError(f"no scene named '{name}'; available: {have}")
    if not callable(cls):
        raise SceneError(f"the '{name}' entry in {SCENE_GROUP} is {cls!r}, not a scene class")
    return cls  # type: ignore[no-any-return]


def make_scene(name: str, params: dict[str, Any]) -> Scene:
    """A scene instance (not yet built) from its registered name and parameters."""
    return load_scene(name)(params)
