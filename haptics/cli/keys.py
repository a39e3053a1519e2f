"""`haptics keys create NAME [--dir DIR]`: a CurveZMQ key pair for links between machines."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from haptics.cli.commands import summary
from haptics.wire.curve import create_keys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys", help=summary("keys"))
    ks = p.add_subparsers(dest="keys_cmd", required=True)
    c = ks.add_parser("create", help="make a key pair: NAME.key (public) and NAME.key_secret")
    c.add_argument("name", help="whose keys, e.g. operator or follower")
    c.add_argument("--dir", default="keys", help="folder for the two files (./keys)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_create)


def cmd_create(args: argparse.Namespace) -> int:
    public, secret = create_keys(args.dir, args.name)
    if args.json:
        print(json.dumps({"public": str(public), "secret": str(secret)}))
        return 0
    console = Console()
    console.print(f"public key  [bold]{public}[/]  (give this to the peer)")
    console.print(f"secret key  [bold]{secret}[/]  (keep it here; readable by you only)")
    return 0
