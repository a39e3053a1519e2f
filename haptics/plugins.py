"""Entry-point lookup: how the core finds drivers, scenes, tools and CLI commands without
importing them by name.

`pyproject.toml` declares the groups below; third-party packages add their own entries the
same way. Entries are imported lazily, only when asked for. Typed lookups live next to the
contract they return: `haptics.devices.registry` (drivers), `haptics.loop.scene` (scenes).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from haptics.errors import HapticsError

DRIVER_GROUP = "haptics.drivers"
SCENE_GROUP = "haptics.scenes"
TOOL_GROUP = "haptics.tools"
COMMAND_GROUP = "haptics.commands"


def names(group: str) -> list[str]:
    """The entry names installed in `group`, sorted."""
    return sorted({ep.name for ep in entry_points(group=group)})


def load(group: str, name: str) -> Any:
    """The object registered as `name` in `group`, or None when nothing is."""
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    return None


def load_all(group: str) -> dict[str, Any]:
    """Every object registered in `group`, by name (imported now)."""
    return {name: load(group, name) for name in names(group)}


def load_tool(name: str) -> Callable[..., Any]:
    """The callable registered as `name` in the `haptics.tools` entry point group.

    Raises HapticsError naming the tools that exist when it is not installed.
    """
    tool = load(TOOL_GROUP, name)
    if tool is None:
        have = ", ".join(names(TOOL_GROUP)) or "none"
        raise HapticsError(
            f"no '{name}' tool installed ({TOOL_GROUP} entry points: {have}); it comes with "
            "the sim package: reinstall with pip install -e ."
        )
    return tool  # type: ignore[no-any-return]
