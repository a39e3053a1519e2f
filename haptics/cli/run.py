"""`haptics run`: a session with the live view, stopped cleanly at the end or on Ctrl-C."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live

from haptics.cli.live import LiveStats
from haptics.errors import HapticsError
from haptics.orchestrator import SessionConfig, SessionRun


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run", help="run a haptic session (default: simulated device, palpation scene)"
    )
    p.add_argument("--scene", default="palpation", help="scene name (`haptics scenes list`)")
    p.add_argument(
        "--device", default="simulated", help="driver[:argument], e.g. serial:/dev/ttyACM0"
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds; 0 runs until Ctrl-C")
    p.add_argument(
        "--record",
        type=Path,
        default=Path("sessions"),
        metavar="DIR",
        help="record the session under DIR (default ./sessions)",
    )
    p.add_argument("--no-record", action="store_true", help="do not record")
    p.add_argument("--rate", type=float, default=1000.0, help="loop rate in Hz")
    p.add_argument("--operator", default=None, help="operator id stored in the manifest")
    p.add_argument("--seed", type=int, default=None, help="scene seed (e.g. inclusion placement)")
    p.add_argument("--quiet", action="store_true", help="no live view")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    console = Console()
    params = {"seed": args.seed} if args.seed is not None else {}
    cfg = SessionConfig(
        device=args.device,
        scene=args.scene,
        scene_params=params,
        duration_s=args.duration or None,
        record_dir=None if args.no_record else args.record,
        rate_hz=args.rate,
        operator=args.operator,
    )
    run = SessionRun(cfg)
    stats = LiveStats(period_ns=round(1e9 / cfg.rate_hz))
    reason = "finished"
    title = f"haptics · {cfg.scene} · {cfg.device}"
    try:
        with console.status("starting device, loop and recorder…"):
            run.start()
        with Live(
            stats.table(0.0, cfg.duration_s, title),
            console=console,
            refresh_per_second=4,
            transient=False,
        ) as live:
            while True:
                time.sleep(0.25)
                if run.monitor is not None:
                    stats.drain(run.monitor)
                live.update(stats.table(run.elapsed_s(), cfg.duration_s, title))
                problem = run.check()
                if problem:
                    reason = problem
                    break
                if cfg.duration_s and run.elapsed_s() >= cfg.duration_s:
                    break
    except KeyboardInterrupt:
        reason = "stopped by Ctrl-C"
    except HapticsError as exc:
        console.print(f"[red]error:[/] {exc}")
        reason = f"error: {exc}"
    finally:
        result = run.stop(reason)
    for w in result["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"stopped: {result['reason']}; force zeroed, all processes ended")
    if result["session"]:
        console.print(f"session: [bold]{result['session']}[/]")
        console.print(f"  inspect with: haptics sessions show {result['session']}")
    return 0 if reason in ("finished", "stopped by Ctrl-C") else 1
