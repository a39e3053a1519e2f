"""Entry point of the `haptics` console command.

The core's commands are listed here; driver families add theirs through the
`haptics.commands` entry points (each a `register(subparsers)` function), so the core names
no driver.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from haptics import plugins
from haptics.cli import (
    annotate,
    bench,
    curate,
    dataset,
    export,
    keys,
    labels,
    replay,
    run,
    scenes,
    sessions,
    teleop,
)
from haptics.errors import HapticsError

CORE_COMMANDS = (
    run, sessions, scenes, replay, bench, dataset, labels, annotate, keys, teleop, curate, export
)

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_plugin_commands(sub: Subparsers) -> None:
    """Add every installed `haptics.commands` entry.

    A command whose package fails to import is still listed; running it says why.
    """
    taken = set(sub.choices)
    for name in plugins.names(plugins.COMMAND_GROUP):
        if name in taken:
            raise HapticsError(
                f"two packages provide the command '{name}'; uninstall one of them "
                f"({plugins.COMMAND_GROUP} entry points)"
            )
        try:
            register: Callable[[Subparsers], None] = plugins.load(plugins.COMMAND_GROUP, name)
            register(sub)
        except Exception as exc:  # a broken third-party package must not break the CLI
            _add_broken(sub, name, exc)
        taken = set(sub.choices)


def _add_broken(sub: Subparsers, name: str, exc: Exception) -> None:
    message = f"the '{name}' command cannot load: {exc}. Reinstall the package that provides it."

    def fail(args: argparse.Namespace) -> int:
        raise HapticsError(message)

    p = sub.add_parser(name, help=f"(cannot load: {exc})")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=fail)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haptics", description="Haptic teleoperation and tactile data capture."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in CORE_COMMANDS:
        module.register(sub)
    add_plugin_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code: Any = args.func(args)
    except HapticsError as exc:
        # escaped: a message may hold brackets ("[palpation] in x.toml"); one line per message
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
