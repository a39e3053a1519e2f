"""`haptics dataset init|index`: a folder of sessions with its label store and taxonomies."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from haptics.cli.commands import summary
from haptics.dataset.catalog import init_dataset, open_dataset


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dataset", help=summary("dataset"))
    ds = p.add_subparsers(dest="dataset_cmd", required=True)
    init = ds.add_parser(
        "init", help="create a dataset folder, its label store and taxonomies (or migrate one)"
    )
    init.add_argument("dir", type=Path)
    init.add_argument(
        "--db",
        default=None,
        help="label store: a file in DIR (default labels.sqlite) or postgresql://user@host/db",
    )
    init.add_argument(
        "--taxonomy",
        action="append",
        default=None,
        help="built-in taxonomy name or TOML file (repeat; default: every built-in one)",
    )
    init.add_argument("--json", action="store_true")
    init.set_defaults(func=cmd_init)
    ix = ds.add_parser("index", help="catalog the sessions under DIR/sessions")
    ix.add_argument("dir", type=Path)
    ix.add_argument("--db", default=None, help="use this store instead of dataset.toml's")
    ix.add_argument("--json", action="store_true")
    ix.set_defaults(func=cmd_index)


def cmd_init(args: argparse.Namespace) -> int:
    with init_dataset(args.dir, args.db, args.taxonomy) as ds:
        out: dict[str, Any] = {
            "path": str(ds.path),
            "store": ds.store.engine.url.render_as_string(hide_password=True),
            "revision": ds.store.revision(),
            "taxonomies": ds.store.taxonomy_names(),
            "sessions_dir": str(ds.sessions_dir),
        }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        Console().print(
            f"dataset {out['path']}: store {out['store']} (revision {out['revision']}); "
            f"taxonomies {', '.join(out['taxonomies'])}\n"
            f"record into it with: haptics run --record {out['sessions_dir']}"
        )
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    with open_dataset(args.dir, args.db) as ds:
        _, problems = ds.index()
        rows: list[dict[str, Any]] = ds.catalog().to_pylist()
    if args.json:
        print(json.dumps({"sessions": rows, "problems": problems}, indent=2))
        return 0
    table = Table(title=f"{args.dir}: {len(rows)} session(s)")
    for col in (
        "session",
        "scene",
        "device",
        "provenance",
        "duration",
        "QA",
        "answers",
        "keys labeled",
        "reviewed",
    ):
        table.add_column(col)
    for r in rows:
        qa = {True: "pass", False: "fail", None: "?"}[r["qa_passed"]]
        table.add_row(
            r["session_id"],
            str(r["scene"]),
            str(r["device"]),
            str(r["provenance"]),
            f"{r['duration_s']:.2f} s",
            qa,
            str(r["answers"]),
            str(r["keys_labeled"]),
            str(r["keys_reviewed"]),
        )
    console = Console()
    console.print(table)
    for p in problems:
        console.print(f"[yellow]skipped:[/] {p}")
    return 0
