"""`haptics sessions list|show|qa|repair|plot`: what was recorded, and how well.

Exit codes: 0 done; 1 QA failed, or repair found damage it cannot undo; 2 the input is not
a readable session (the message names the file and what to do).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from haptics.cli.commands import summary
from haptics.errors import HapticsError
from haptics.session.reading import list_sessions_checked, open_session, summarize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sessions", help=summary("sessions"))
    ss = p.add_subparsers(dest="sessions_cmd", required=True)
    ls = ss.add_parser("list", help="sessions under a folder")
    ls.add_argument("root", nargs="?", type=Path, default=Path("sessions"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    sh = ss.add_parser("show", help="summary of one session")
    sh.add_argument("path", type=Path)
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_show)
    qa = ss.add_parser("qa", help="loss, overruns, clock and saturation checks with pass/fail")
    qa.add_argument("path", type=Path)
    qa.add_argument("--json", action="store_true")
    qa.add_argument("--max-gap-fraction", type=float, default=None)
    qa.add_argument("--max-missed-ticks", type=int, default=None)
    qa.add_argument("--max-clock-residual-us", type=float, default=None)
    qa.add_argument("--max-saturation-fraction", type=float, default=None)
    qa.set_defaults(func=cmd_qa)
    rp = ss.add_parser(
        "repair",
        help="complete a cut-off session or recover the intact batches of damaged stream files "
        "(originals kept in <session>/repair-<time>/)",
    )
    rp.add_argument("path", type=Path)
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_repair)
    pl = ss.add_parser(
        "plot",
        help="position, force, contact and events on one time axis; with a tactile stream, "
        "its contrast over time and pressure maps",
    )
    pl.add_argument("path", type=Path)
    pl.add_argument(
        "-o", "--out", type=Path, default=None, help="PNG path (default <session>/session.png)"
    )
    pl.add_argument(
        "--pressure-at",
        type=_times_s,
        default=None,
        metavar="T1,T2,...",
        help="times (s from the plot's start) of the tactile pressure maps to show, nearest "
        "frame each (default: 4 evenly spaced while the probe is in contact)",
    )
    pl.set_defaults(func=cmd_plot)


def _times_s(text: str) -> list[float]:
    """'1.5,2,3.25' → [1.5, 2.0, 3.25]; argparse reports anything else."""
    try:
        times = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a comma-separated list of times in seconds, e.g. 1.5,3,4.2"
        ) from None
    if not times or not all(math.isfinite(t) for t in times):
        raise argparse.ArgumentTypeError(
            f"'{text}' gives no finite times; write seconds from the plot's start, e.g. 1.5,3"
        )
    return times


def _warn(console: Console, problems: dict[str, str]) -> None:
    for why in problems.values():
        console.print(f"  [yellow]warning:[/] {escape(why)}", soft_wrap=True)


def cmd_list(args: argparse.Namespace) -> int:
    """List every session under the folder; an unreadable one is marked, never fatal."""
    if args.root.exists() and not args.root.is_dir():
        raise HapticsError(
            f"{args.root} is not a folder; give the folder that holds your sessions "
            "(default ./sessions)"
        )
    rows: list[dict[str, Any]] = []
    for entry in list_sessions_checked(args.root):
        m = entry.manifest
        rows.append(
            {
                "path": str(entry.path),
                "name": entry.path.name,
                "readable": m is not None,
                "error": entry.error,
                "session_id": m.session_id if m else None,
                "status": m.status if m else "unreadable",
                "scene": m.scene.get("scene") if m else None,
                "device": m.device.get("driver") if m else None,
                "created_utc": m.created_utc if m else None,
                "samples": {k: v.received for k, v in m.streams.items()} if m else {},
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = Console()
    if not rows:
        console.print(f"no sessions under {args.root}")
        return 0
    cells = [
        (
            r["name"],
            r["status"] if r["readable"] else "[red]unreadable[/]",
            str(r["scene"]),
            str(r["device"]),
            str(r["samples"].get("state", "?")),
        )
        for r in rows
    ]
    widest = max(len(r["name"]) for r in rows)
    if console.width < widest + 50:  # too narrow for a table with whole names: one per line
        console.print(f"sessions in {escape(str(args.root))}", soft_wrap=True)
        for name, status, scene, device, samples in cells:
            line = f"{escape(name)}  {status}  {scene} · {device} · {samples} state samples"
            console.print(line, soft_wrap=True)
    else:
        t = Table(title=f"sessions in {escape(str(args.root))}")
        t.add_column("session", no_wrap=True, min_width=widest)  # whole, never cut with "…"
        for col in ("status", "scene", "device", "state samples"):
            t.add_column(col, overflow="fold")
        for row in cells:
            t.add_row(escape(row[0]), *row[1:])
        console.print(t)
    for r in rows:
        if r["error"]:
            console.print(f"[red]{escape(r['name'])}:[/] {escape(r['error'])}", soft_wrap=True)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    summary = summarize(open_session(args.path), verify=True)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    console = Console()
    loop = summary["loop"]
    pe = loop["period_error_us"]
    status = (
        summary["status"] if summary["complete"] else "[yellow]cut off (recorder did not close)[/]"
    )
    console.print(f"[bold]{escape(summary['path'])}[/]  {status}", soft_wrap=True)
    console.print(
        f"  scene {summary['scene']} · device {summary['device']} ({summary['provenance']}) · "
        f"{summary['duration_s']:.2f} s"
    )
    nominal = loop.get("nominal_rate_hz")
    against = f"against {nominal:g} Hz" if nominal else "against the median tick interval"
    console.print(
        f"  loop {loop['rate_hz']:.3f} Hz · period error ({against}) p50 {pe['p50']} µs, "
        f"p99 {pe['p99']} µs, p99.9 {pe['p999']} µs, max {pe['max']} µs"
    )
    console.print(
        f"  max force {summary['max_force_n']:.2f} N · "
        f"contact {summary['contact_fraction'] * 100:.1f} %"
    )
    t = Table(show_header=True)
    for col in ("stream", "samples", "seq gaps", "published", "recorded"):
        t.add_column(col)
    for name, n in summary["streams"].items():
        loss = summary["loss"].get(name, {})
        frac = f"{loss['fraction'] * 100:.3f} %" if loss else "?"
        t.add_row(
            name,
            str(n),
            str(summary["seq_gaps_by_stream"][name]),
            str(loss.get("published", "?")),
            frac,
        )
    console.print(t)
    events = ", ".join(f"{k} {v}" for k, v in summary["events"].items() if v) or "none"
    console.print(f"  events: {events}")
    _warn(console, summary["problems"])
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    """Exit 0 when every check passed, 1 when one failed (2: not a readable session)."""
    from haptics.session.qa import QAThresholds, qa_report

    overrides = {
        k: v
        for k, v in (
            ("max_gap_fraction", args.max_gap_fraction),
            ("max_missed_ticks", args.max_missed_ticks),
            ("max_clock_residual_us", args.max_clock_residual_us),
            ("max_saturation_fraction", args.max_saturation_fraction),
        )
        if v is not None
    }
    report = qa_report(open_session(args.path), QAThresholds(**overrides))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        console = Console()
        for check, ok in report["checks"].items():
            console.print(f"  {'[green]pass[/]' if ok else '[red]FAIL[/]'}  {check}")
        _warn(console, report["problems"])
        console.print("[bold green]passed[/]" if report["passed"] else "[bold red]failed[/]")
    return 0 if report["passed"] else 1


def cmd_repair(args: argparse.Namespace) -> int:
    """Exit 0 when the session is whole, 1 when damage was found that repair cannot undo
    (reported, file left as it is), 2 when it refused and changed nothing."""
    from haptics.session.repair import repair_session

    report = repair_session(args.path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        console = Console()
        console.print(f"{escape(report['path'])}: {report['action']}", soft_wrap=True)
        for name, entry in report["streams"].items():
            if entry["action"] != "keep":
                found = f" ({entry['found']})" if entry.get("found") else ""
                console.print(f"  {name}: {entry['action']}{escape(found)}", soft_wrap=True)
        if report.get("backup"):
            console.print(f"  originals kept in {escape(report['backup'])}", soft_wrap=True)
        for why in report["unresolved"].values():
            console.print(f"  [red]not repaired:[/] {escape(why)}", soft_wrap=True)
    return 1 if report["unresolved"] else 0


def cmd_plot(args: argparse.Namespace) -> int:
    from haptics.session.plot import plot_session

    session = open_session(args.path)
    out = plot_session(
        session, args.out or session.path / "session.png", pressure_at=args.pressure_at
    )
    console = Console()
    problems = session.problems()
    for name, why in session.verify().items():
        problems.setdefault(name, why)
    _warn(console, problems)
    console.print(f"wrote {escape(str(out))}", soft_wrap=True)
    return 0
