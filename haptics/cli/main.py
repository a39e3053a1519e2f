"""Entry point of the `haptics` console command.

The core's commands are listed in `haptics.cli.commands`; driver families add theirs through
the `haptics.commands` entry points (each a `register(subparsers)` function), so the core
names no driver. A run imports only the module of the command it runs (the others are listed
by name and help): `haptics run` starts in a fraction of a second, and so does each of its
session processes, which re-import this module.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from haptics import plugins
from haptics.cli.commands import CORE_COMMANDS
from haptics.errors import HapticsError

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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, only that command's module (a core command's) is
    imported and the others are listed by name and help."""
    parser = argparse.ArgumentParser(
        prog="haptics", description="Haptic teleoperation and tactile data capture."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    if command is None or command not in CORE_COMMANDS:
        modules = dict.fromkeys(module for module, _ in CORE_COMMANDS.values())
        for module in modules:
            importlib.import_module(module).register(sub)
        add_plugin_commands(sub)
        return parser
    importlib.import_module(CORE_COMMANDS[command][0]).register(sub)
    for name, (_, help_text) in CORE_COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text)
    for name in plugins.names(plugins.COMMAND_GROUP):
        if name not in sub.choices:
            sub.add_parser(name, help=f"(from an installed package: haptics {name} --help)")
    return parser


def _command(argv: list[str]) -> str | None:
    """The command word of a command line (its first argument that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(_command(argv)).parse_args(argv)
        code: Any = args.func(args)
    except HapticsError as exc:
        # escaped: a message may hold brackets ("[palpation] in x.toml"); one line per message
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
