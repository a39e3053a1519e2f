"""`haptics annotate ...`: the annotation workbench (a browser UI over a dataset's labels)
and its logins."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from haptics.cli.commands import summary
from haptics.dataset.catalog import open_dataset
from haptics.dataset.store import HUMAN_ROLES
from haptics.errors import ConfigError
from haptics.web.serve import serve
from haptics.web.users import Users


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("annotate", help=summary("annotate"))
    a = p.add_subparsers(dest="annotate_cmd", required=True)
    s = a.add_parser("serve", help="serve the workbench of a dataset (localhost by default)")
    s.add_argument("dir", type=Path, help="the dataset folder")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback unless TLS)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate (for non-loopback)")
    s.add_argument("--tls-key", type=Path, default=None, help="PEM private key")
    s.set_defaults(func=cmd_serve)
    users = a.add_parser("users", help="logins of the workbench")
    u = users.add_subparsers(dest="users_cmd", required=True)
    add = u.add_parser("add", help="add a login (asks for the password, or reads it from stdin)")
    add.add_argument("dir", type=Path)
    add.add_argument("user")
    add.add_argument("--role", choices=HUMAN_ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_users_add)
    ls = u.add_parser("list", help="every login and role")
    ls.add_argument("dir", type=Path)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_users_list)
    sr = u.add_parser("set-role", help="change a login's role (the label store must agree)")
    sr.add_argument("dir", type=Path)
    sr.add_argument("user")
    sr.add_argument("role", choices=HUMAN_ROLES)
    sr.set_defaults(func=cmd_users_set_role)


def cmd_serve(args: argparse.Namespace) -> int:
    serve(args.dir, args.host, args.port, args.tls_cert, args.tls_key)
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ; run the command again")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    password = _password(args.password_stdin)
    with open_dataset(args.dir) as ds:
        Users(args.dir, ds.store).add(args.user, password, args.role)
    print(f"added {args.user} ({args.role})")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    with open_dataset(args.dir) as ds:
        rows = Users(args.dir, ds.store).list()
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['user']:24} {r['role']}")
    return 0


def cmd_users_set_role(args: argparse.Namespace) -> int:
    with open_dataset(args.dir) as ds:
        Users(args.dir, ds.store).set_role(args.user, args.role)
    print(f"{args.user} is now {args.role}")
    return 0
