"""`haptics sessions list|show`: what was recorded, and how well."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from haptics.session.reading import list_sessions, open_session, summarize


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sessions", help="list and inspect recorded sessions")
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
    qa.set_defaults(func=cmd_qa)
    rp = ss.add_parser("repair", help="complete a session whose recorder was cut off")
    rp.add_argument("path", type=Path)
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_repair)
    pl = ss.add_parser("plot", help="position, force, contact and events on one time axis")
    pl.add_argument("path", type=Path)
    pl.add_argument(
        "-o", "--out", type=Path, default=None, help="PNG path (default <session>/session.png)"
    )
    pl.set_defaults(func=cmd_plot)


def cmd_list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for path in list_sessions(args.root):
        s = open_session(path)
        m = s.manifest
        rows.append(
            {
                "path": str(path),
                "session_id": m.session_id,
                "status": m.status,
                "scene": m.scene.get("scene"),
                "device": m.device.get("driver"),
                "created_utc": m.created_utc,
                "samples": {k: v.received for k, v in m.streams.items()},
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = Console()
    if not rows:
        console.print(f"no sessions under {args.root}")
        return 0
    t = Table(title=f"sessions in {args.root}")
    for col in ("path", "status", "scene", "device", "state samples"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["path"],
            r["status"],
            str(r["scene"]),
            str(r["device"]),
            str(r["samples"].get("state", "?")),
        )
    console.print(t)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    summary = summarize(open_session(args.path))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    console = Console()
    loop = summary["loop"]
    pe = loop["period_error_us"]
    status = (
        summary["status"] if summary["complete"] else "[yellow]cut off (recorder did not close)[/]"
    )
    console.print(f"[bold]{summary['path']}[/]  {status}")
    console.print(
        f"  scene {summary['scene']} · device {summary['device']} ({summary['provenance']}) · "
        f"{summary['duration_s']:.2f} s"
    )
    console.print(
        f"  loop {loop['rate_hz']:.3f} Hz · period error p50 {pe['p50']} µs, p99 {pe['p99']} µs, "
        f"p99.9 {pe['p999']} µs, max {pe['max']} µs"
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
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    from haptics.session.qa import QAThresholds, qa_report

    overrides = {
        k: v
        for k, v in (
            ("max_gap_fraction", args.max_gap_fraction),
            ("max_missed_ticks", args.max_missed_ticks),
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
        console.print("[bold green]passed[/]" if report["passed"] else "[bold red]failed[/]")
    return 0 if report["passed"] else 1


def cmd_repair(args: argparse.Namespace) -> int:
    from haptics.session.repair import repair_session

    report = repair_session(args.path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        Console().print(f"{report['path']}: {report['action']}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from haptics.session.plot import plot_session

    session = open_session(args.path)
    out = plot_session(session, args.out or session.path / "session.png")
    Console().print(f"wrote {out}")
    return 0
