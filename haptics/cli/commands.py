"""The core's commands: each name, the module that implements it, and its one-line help.

`haptics` imports a command's module only when that command runs: the whole CLI imports
the dataset, web and batch stacks (seconds), and every session child process re-imports
the command's main module when it starts.
"""

from __future__ import annotations

# name → (module, help); a module's `register(subparsers)` adds the commands it implements
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "haptics.cli.run",
        "run a haptic session (default: simulated device, palpation scene)",
    ),
    "sessions": ("haptics.cli.sessions", "list and inspect recorded sessions"),
    "scenes": ("haptics.cli.scenes", "list scenes and plot tissue models"),
    "replay": (
        "haptics.cli.replay",
        "drive the loop with a session's recorded motion; compare forces",
    ),
    "bench": ("haptics.cli.bench", "offline benchmarks (stiffness, ...)"),
    "dataset": ("haptics.cli.dataset", "create and catalog a labeled dataset"),
    "labels": ("haptics.cli.labels", "pre-label, assign, answer, review; agreement"),
    "annotate": (
        "haptics.cli.annotate",
        "the annotation workbench: label and review in a browser",
    ),
    "keys": ("haptics.cli.keys", "CurveZMQ keys for links between machines"),
    "operator": (
        "haptics.cli.teleop",
        "the operator's host: the device, linked to a follower",
    ),
    "follower": (
        "haptics.cli.teleop",
        "the follower's host: loop, scene, recorder, linked",
    ),
    "teleop": ("haptics.cli.teleop", "teleoperation tools"),
    "curate": ("haptics.cli.curate", "rank sessions for labeling, flag near-duplicates"),
    "export": (
        "haptics.cli.export",
        "export sessions and labels (parquet, csv, hdf5, mcap)",
    ),
}


def summary(name: str) -> str:
    """The one-line help of core command `name`."""
    return CORE_COMMANDS[name][1]
