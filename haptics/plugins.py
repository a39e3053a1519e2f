"""Find drivers and scenes through entry points, never by importing them by name.

`pyproject.toml` declares `haptics.drivers` and `haptics.scenes`; third-party packages can add
their own. Entries are imported lazily, only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from haptics.errors import DeviceNotFound, HapticsError, SceneError

DRIVER_GROUP = "haptics.drivers"
SCENE_GROUP = "haptics.scenes"
TOOL_GROUP = "haptics.tools"


def _names(group: str) -> list[str]:
    return sorted({ep.name for ep in entry_points(group=group)})


def driver_names() -> list[str]:
    return _names(DRIVER_GROUP)


def scene_names() -> list[str]:
    return _names(SCENE_GROUP)


def _load(group: str, name: str) -> Any:
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    return None


def split_device_spec(spec: str) -> tuple[str, str]:
    """'serial:/dev/ttyACM0' → ('serial', '/dev/ttyACM0'); 'simulated' → ('simulated', '')."""
    name, _, argument = spec.partition(":")
    return name, argument


def load_driver(name: str) -> Any:
    """The driver class registered as `name`. Raises DeviceNotFound listing what exists."""
    cls = _load(DRIVER_GROUP, name)
    if cls is None:
        raise DeviceNotFound(
            f"no driver named '{name}'; installed drivers: {', '.join(driver_names()) or 'none'}. "
            "Is the package that provides it installed (pip install -e .)?"
        )
    return cls


def load_scene(name: str) -> Any:
    """The scene class registered as `name`. Raises SceneError listing what exists."""
    cls = _load(SCENE_GROUP, name)
    if cls is None:
        raise SceneError(
            f"no scene named '{name}'; available: {', '.join(scene_names()) or 'none'}"
        )
    return cls


def load_tool(name: str) -> Callable[..., Any]:
    """The callable registered as `name` in the `haptics.tools` entry point group.

    Raises HapticsError naming the tools that exist when it is not installed.
    """
    tool = _load(TOOL_GROUP, name)
    if tool is None:
        have = ", ".join(_names(TOOL_GROUP)) or "none"
        raise HapticsError(
            f"no '{name}' tool installed ({TOOL_GROUP} entry points: {have}); it comes with "
            "the sim package: reinstall with pip install -e ."
        )
    return tool  # type: ignore[no-any-return]
