"""`haptics replay`: re-render a recorded session and compare its forces."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from haptics.cli.commands import summary
from haptics.runtime.replay import replay_session


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replay", help=summary("replay"))
    p.add_argument("path", type=Path, help="the recorded session")
    p.add_argument(
        "--record", type=Path, default=None, metavar="DIR", help="keep the replay session here"
    )
    p.add_argument(
        "--default-loop",
        action="store_true",
        help="use the default teleop mapping and safety policy instead of the recorded ones "
        "(a what-if; the forces then differ wherever the session used others)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    with console.status(f"replaying {args.path}…"):
        result = replay_session(args.path, args.record, not args.default_loop)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        r = result
        if r["loop_defaults_used_for"]:
            console.print(
                f"the manifest records no {', '.join(r['loop_defaults_used_for'])}: "
                "the defaults stand in"
            )
        console.print(
            f"{r['samples_compared']} samples compared · force RMSE {r['force_rmse_n']:.5f} N "
            f"({r['rmse_fraction_of_peak'] * 100:.3f} % of the {r['peak_force_n']:.2f} N peak) · "
            f"max error {r['max_abs_error_n']:.5f} N"
        )
        console.print(f"replay session: {result['replay']}")
    return 0
