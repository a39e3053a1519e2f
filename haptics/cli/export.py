"""`haptics export DATASET|SESSIONS... --format NAME -o DIR`: sessions and their labels to
the formats people train and view with, as Dask tasks, with a progress bar."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from haptics.cli.commands import summary
from haptics.dataset.catalog import DATASET_FILE, open_dataset
from haptics.dataset.cluster import dask_client
from haptics.dataset.export import FORMAT_MODULES, get_format
from haptics.dataset.export.card import agreement_for_card, build_card, write_card
from haptics.dataset.export.runner import Job, plan_dataset, plan_folders, run_jobs
from haptics.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help=summary("export"))
    p.add_argument("sources", nargs="+", type=Path,
                   help="a dataset folder, or session folders")
    p.add_argument("--format", required=True, choices=FORMAT_MODULES)
    p.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    p.add_argument("--session", action="append", default=None,
                   help="with a dataset: only this session id (repeat)")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="lerobot: frames per second (default 30); jigsaws: kinematics rate "
                   "(default 30); the 1 kHz streams travel whole beside them")
    p.add_argument("--validated", action="store_true",
                   help="leave out simulated sessions no person has validated")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="an existing Dask cluster (default: a local cluster on this machine)")
    p.add_argument("--workers", type=int, default=None,
                   help="local cluster workers (default: one per core)")
    p.add_argument("--local", action="store_true", help="run in this process, without Dask")
    p.add_argument("--db", default=None, help="with a dataset: use this label store")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)


def _plan(
    args: argparse.Namespace,
) -> tuple[list[Job], dict[str, str], str, dict[str, Any] | None]:
    """(jobs, left out → why, source, agreement for the card: a dataset's, else None)."""
    first = args.sources[0]
    if (first / DATASET_FILE).is_file():
        if len(args.sources) > 1:
            raise ConfigError("give one dataset folder, or session folders; not both")
        with open_dataset(first, args.db) as ds:
            jobs, left_out = plan_dataset(ds, args.session, args.validated)
            agreement = agreement_for_card(ds, {j.session_id for j in jobs})
        return jobs, left_out, str(first), agreement
    if args.session:
        raise ConfigError("--session picks sessions of a dataset; give the dataset folder")
    jobs, left_out = plan_folders(list(args.sources), args.validated)
    return jobs, left_out, ", ".join(str(s) for s in args.sources), None


def cmd_export(args: argparse.Namespace) -> int:
    fmt = get_format(args.format)
    jobs, left_out, source, agreement = _plan(args)
    if args.rate is not None:
        if not 0.0 < args.rate <= 1000.0:
            raise ConfigError(f"--rate {args.rate}: give a rate above 0 and up to 1000 Hz")
        for job in jobs:
            job.rate_hz = args.rate
    console = Console(stderr=args.json)
    results: list[dict[str, Any]] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                  transient=args.json) as progress:
        task = progress.add_task(f"export {fmt.name}", total=len(jobs), last="")

        def done(r: dict[str, Any]) -> None:
            progress.update(task, advance=1, last=f"{r['session_id']} {r['status']}")

        if args.local:
            results = run_jobs(jobs, fmt.name, args.out, None, done)
        else:
            with dask_client(args.scheduler, args.workers) as client:
                results = run_jobs(jobs, fmt.name, args.out, client, done)
    failed = {r["session_id"]: r["reason"] for r in results if r["status"] == "failed"}
    card = build_card(args.out, fmt, source, left_out, failed, agreement)
    write_card(args.out, card)
    counts = {s: sum(1 for r in results if r["status"] == s)
              for s in ("exported", "skipped", "failed")}
    if args.json:
        print(json.dumps({"out": str(args.out), **counts, "left_out": left_out,
                          "failed": failed, "card": str(args.out / "card.md")}, indent=2))
    else:
        console.print(f"{args.out}: {counts['exported']} exported, {counts['skipped']} "
                      f"unchanged (skipped), {counts['failed']} failed, {len(left_out)} left "
                      f"out; card {args.out / 'card.md'}; open with: {fmt.open_with}")
        for sid, why in left_out.items():
            console.print(f"[yellow]left out[/] {sid}: {why}")
        for sid, why in failed.items():
            console.print(f"[red]failed[/] {sid}: {why}")
    return 1 if failed else 0
