"""`haptics curate rank|duplicates|validate`: what is worth labeling, what is repeated, and
which simulated sessions a person has validated."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from haptics.cli.commands import summary
from haptics.dataset.catalog import Dataset, open_dataset
from haptics.dataset.cluster import dask_client
from haptics.dataset.curation import (
    DUPLICATE_DISTANCE,
    VALIDATION_KEY,
    VALIDATION_TAXONOMY,
    FeatureTable,
    duplicates,
    ensure_validation,
    is_simulated,
    labeled_sessions,
    needs_features,
    rank,
    update_features,
)
from haptics.dataset.store import NewAnswer


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="dataset folder")
    p.add_argument("--db", default=None, help="use this store instead of dataset.toml's")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="compute features on this Dask cluster (default: a local cluster)")
    p.add_argument("--local", action="store_true",
                   help="compute features in this process, without Dask")
    p.add_argument("--json", action="store_true")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("curate", help=summary("curate"))
    cs = p.add_subparsers(dest="curate_cmd", required=True)
    r = cs.add_parser("rank", help="unlabeled sessions, most novel first, with the reason")
    _common(r)
    r.add_argument("--limit", type=int, default=None, help="show the first N")
    r.set_defaults(func=cmd_rank)
    d = cs.add_parser("duplicates", help="near-duplicate pairs with their distance (nothing "
                      "is deleted)")
    _common(d)
    d.add_argument("--threshold", type=float, default=DUPLICATE_DISTANCE,
                   help=f"distance in scaled feature units (default {DUPLICATE_DISTANCE})")
    d.set_defaults(func=cmd_duplicates)
    v = cs.add_parser("validate", help="record that a person checked a simulated session "
                      "(an answer in the label store)")
    v.add_argument("dir", type=Path)
    v.add_argument("--db", default=None)
    v.add_argument("--as", dest="person", required=True, help="a reviewer (or an annotator "
                   f"assigned to {VALIDATION_TAXONOMY}/{VALIDATION_KEY})")
    v.add_argument("--session", required=True, action="append", help="session id (repeat)")
    v.add_argument("--reject", action="store_true", help="record it as not realistic enough")
    v.add_argument("--rationale", default=None)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_validate)


def _features(ds: Dataset, args: argparse.Namespace) -> FeatureTable:
    """Features of the dataset; new or changed sessions are computed as Dask tasks (a local
    cluster, started only when there is work, or --scheduler), or here with --local."""
    if args.local or (not args.scheduler and not needs_features(ds)):
        return update_features(ds, client=None)
    with dask_client(args.scheduler) as client:
        return update_features(ds, client=client)


def cmd_rank(args: argparse.Namespace) -> int:
    with open_dataset(args.dir, args.db) as ds:
        ft = _features(ds, args)
        ranked = rank(ft.ids, ft.matrix, labeled_sessions(ds), ft.provenance)
    if args.limit is not None:
        ranked = ranked[: args.limit]
    if args.json:
        print(json.dumps({"ranked": ranked, "problems": ft.problems,
                          "features_computed": ft.computed}, indent=2))
        return 0
    t = Table(title=f"{args.dir}: {len(ranked)} unlabeled session(s), most novel first")
    for col in ("rank", "session", "novelty", "provenance", "why"):
        t.add_column(col)
    for r in ranked:
        t.add_row(str(r["rank"]), r["session_id"], f"{r['novelty']:.2f}",
                  "[yellow]simulated[/]" if r["simulated"] else "recorded", r["reason"])
    console = Console()
    console.print(t)
    for sid, why in ft.problems.items():
        console.print(f"[yellow]no features:[/] {sid}: {why}")
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    with open_dataset(args.dir, args.db) as ds:
        ft = _features(ds, args)
        pairs = duplicates(ft.ids, ft.matrix, args.threshold)
    prov = dict(zip(ft.ids, ft.provenance, strict=True))
    for p in pairs:
        p["simulated"] = [is_simulated(prov[p["session_id"]]),
                          is_simulated(prov[p["duplicate_of"]])]
    if args.json:
        print(json.dumps({"duplicates": pairs, "problems": ft.problems}, indent=2))
        return 0
    t = Table(title=f"{args.dir}: {len(pairs)} near-duplicate pair(s) under {args.threshold} "
              "(flagged only; nothing deleted)")
    for col in ("session", "duplicate of", "distance"):
        t.add_column(col)
    for p in pairs:
        t.add_row(p["session_id"], p["duplicate_of"], f"{p['distance']:.4f}")
    Console().print(t)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    with open_dataset(args.dir, args.db) as ds:
        ensure_validation(ds.store)
        ids = ds.store.add_answers(
            [NewAnswer(s, VALIDATION_TAXONOMY, VALIDATION_KEY, not args.reject,
                       rationale=args.rationale) for s in args.session],
            args.person,
        )
    out = {"answers": ids, "sessions": args.session, "validated": not args.reject}
    if args.json:
        print(json.dumps(out))
    else:
        word = "rejected" if args.reject else "validated"
        Console().print(f"{word} {', '.join(args.session)} as {args.person} (answers {ids})")
    return 0
