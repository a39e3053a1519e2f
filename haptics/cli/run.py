"""`haptics run`: a session with the live view, stopped cleanly at the end or on Ctrl-C.

`--camera` adds the camera process: the scene rendered at 30 Hz and recorded as video. A
recording that stops early (disk full) is reported as soon as it is seen and again at the
end; the force path runs on until the session ends, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from haptics.cli.live import LiveStats
from haptics.errors import HapticsError
from haptics.loop.safety import load_policy
from haptics.plugins import load_tool
from haptics.runtime.orchestrator import SessionConfig, SessionRun


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
    p.add_argument(
        "--scene-config",
        type=Path,
        default=None,
        metavar="TOML",
        help="scene parameters from a TOML file (a [<scene>] table; see sim/scenes/examples)",
    )
    p.add_argument(
        "--safety",
        type=Path,
        default=None,
        metavar="TOML",
        help="safety policy for the device (see docs/examples/safety-simulated.toml)",
    )
    p.add_argument(
        "--tick-on",
        choices=("grid", "arrival"),
        default="grid",
        help="grid: precise 1 ms ticks phase-locked to the device (default); "
        "arrival: tick as each sample arrives (lower latency, more jitter)",
    )
    p.add_argument("--quiet", action="store_true", help="no live view")
    p.add_argument(
        "--camera",
        action="store_true",
        help="render the scene in its own process and record it as video (video.mp4)",
    )
    p.add_argument(
        "--camera-size",
        type=_size,
        default=(320, 240),
        metavar="WxH",
        help="camera frame size (default 320x240; TinyRenderer cost grows with pixels)",
    )
    p.add_argument("--camera-fps", type=float, default=30.0, help="camera frame rate (default 30)")
    p.set_defaults(func=cmd_run)


def _size(text: str) -> tuple[int, int]:
    """'320x240' → (320, 240). Raises argparse.ArgumentTypeError saying the expected form."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not WIDTHxHEIGHT, e.g. 320x240") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"'{text}': width and height must be even and > 0")
    return w, h


def cmd_run(args: argparse.Namespace) -> int:
    console = Console()
    params: dict[str, Any] = {}
    if args.scene_config is not None:
        params.update(load_tool("load-scene-params")(args.scene_config, args.scene))
    if args.seed is not None:
        params["seed"] = args.seed
    extra: dict[str, Any] = {}
    if args.safety is not None:
        extra["safety"] = load_policy(args.safety)
    cfg = SessionConfig(
        **extra,
        tick_on=args.tick_on,
        device=args.device,
        scene=args.scene,
        scene_params=params,
        duration_s=args.duration or None,
        record_dir=None if args.no_record else args.record,
        rate_hz=args.rate,
        operator=args.operator,
        camera=args.camera,
        camera_width=args.camera_size[0],
        camera_height=args.camera_size[1],
        camera_fps=args.camera_fps,
    )
    run = SessionRun(cfg)
    stats = LiveStats(period_ns=round(1e9 / cfg.rate_hz))
    reason = "finished"
    title = f"haptics · {cfg.scene} · {cfg.device}" + (" · camera" if cfg.camera else "")
    shown = 0  # warnings already printed
    try:
        with console.status(
            "starting device, loop, recorder" + (", camera…" if cfg.camera else "…")
        ):
            run.start()
        live = (
            None
            if args.quiet
            else Live(
                stats.table(0.0, cfg.duration_s, title),
                console=console,
                refresh_per_second=4,
                transient=False,
            )
        )
        def show(run: SessionRun) -> None:
            nonlocal shown
            if run.monitor is not None:
                stats.drain(run.monitor)
            if live is not None:
                live.update(stats.table(run.elapsed_s(), cfg.duration_s, title))
            for w in run.warnings[shown:]:
                console.print(f"[yellow]warning:[/] {w}")
            shown = len(run.warnings)

        with live if live is not None else contextlib.nullcontext():
            reason = run.watch(0.25, on_poll=show)
    except KeyboardInterrupt:
        reason = "stopped by Ctrl-C"
    except HapticsError as exc:
        console.print(f"[red]error:[/] {exc}")
        reason = f"error: {exc}"
    finally:
        result = run.stop(reason)
    if not console.is_terminal:
        console.print()  # a non-terminal Live leaves the cursor after the table's last line
    for w in result["warnings"][shown:]:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"stopped: {result['reason']}; force zeroed, all processes ended")
    if result["recorder_error"]:
        console.print(f"[red]{result['recorder_error']}[/]")
    rec = result.get("recorder") or {}
    if rec.get("ok"):
        line = f"recorder: {rec.get('cpu_share', 0.0) * 100:.1f} % of a core"
        video = rec.get("video")
        if video:
            published = (result.get("published") or {}).get("frames", "?")
            line += f" · video {video['frames']} frames recorded of {published} rendered"
        console.print(line)
    if result["session"]:
        console.print(f"session: [bold]{result['session']}[/]")
        console.print(f"  inspect with: haptics sessions show {result['session']}")
    if result["recorder_error"]:
        return 1
    return 0 if reason in ("finished", "stopped by Ctrl-C") else 1
