"""Entry point of the `haptics` console command."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from haptics.cli import bench, devices, emulator, replay, run, scenes, sessions
from haptics.errors import HapticsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haptics", description="Haptic teleoperation and tactile data capture."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (run, sessions, scenes, replay, devices, emulator, bench):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except HapticsError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
