"""`haptics run`: a session with the live view, stopped cleanly at the end or on Ctrl-C.

`--camera` adds the camera process: the scene rendered at 30 Hz and recorded as video. A
recording that stops early (disk full) is reported as soon as it is seen and again at the
end; the force path runs on until the session ends, and the exit status is then 1.

Exit status: 0 the session ran to its end (or Ctrl-C) and was recorded; 1 it ran but
something failed on the way (a process died, the recorder died or did not finalise the
session, the device did not confirm the disarm); 2 it never started (a bad option, name,
config file or recording folder, or a process that could not start): one `error: ...`
message saying what to do, nothing recorded (a folder the recorder had already created is
marked "failed").
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from haptics.cli.commands import summary
from haptics.cli.live import LiveStats, tactile_feeds
from haptics.devices.registry import load_driver, split_device_spec
from haptics.errors import ConfigError, HapticsError
from haptics.loop.safety import load_policy
from haptics.plugins import load_tool
from haptics.runtime.orchestrator import (
    MAX_DURATION_S,
    MAX_RATE_HZ,
    MIN_RATE_HZ,
    SessionConfig,
    SessionRun,
)
from haptics.session.camera import CameraPose

# SessionConfig field → (the option that sets it, what a valid value is)
OPTIONS: dict[str, tuple[str, str]] = {
    "duration_s": (
        "--duration",
        f"give 0 (run until Ctrl-C) or seconds up to {MAX_DURATION_S:.0f}",
    ),
    "rate_hz": ("--rate", f"give a loop rate from {MIN_RATE_HZ:g} to {MAX_RATE_HZ:g} Hz"),
    "camera_fps": ("--camera-fps", "give a frame rate above 0 and up to 120"),
    "camera_width": ("--camera-size", "give WIDTHxHEIGHT up to 4096x4096"),
    "camera_height": ("--camera-size", "give WIDTHxHEIGHT up to 4096x4096"),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help=summary("run"))
    p.add_argument("--scene", default="palpation", help="scene name (`haptics scenes list`)")
    p.add_argument(
        "--device",
        action="append",
        default=None,
        help="driver[:argument], e.g. serial:/dev/ttyACM0 (default: simulated); repeat it to "
        "add sense-only devices, each in its own process, recorded beside the stylus: "
        "--device simulated --device tactile-sim",
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
    p.add_argument(
        "--camera-truth",
        action="store_true",
        help="film the ground truth too: the tissue cut through hidden structures (the "
        "palpation inclusion), for reviewing, never for blind labeling",
    )
    p.add_argument(
        "--no-pressure-inset",
        action="store_true",
        help="with --camera and a tactile array: do not draw the pressure map into the video "
        "(by default its newest frame is an inset in the bottom-right corner)",
    )
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


def session_config(args: argparse.Namespace) -> SessionConfig:
    """The session `haptics run`'s parsed options ask for, validated; starts nothing.

    Raises ConfigError naming the option, the value and what a valid one is (or the config
    file and its key, for --scene-config and --safety).
    """
    params: dict[str, Any] = {}
    if args.scene_config is not None:
        params.update(load_tool("load-scene-params")(args.scene_config, args.scene))
    if args.seed is not None:
        params["seed"] = args.seed
    extra: dict[str, Any] = {}
    if args.safety is not None:
        extra["safety"] = load_policy(args.safety)
    fields: dict[str, Any] = {
        **extra,
        "tick_on": args.tick_on,
        **split_devices(args.device or ["simulated"]),
        "scene": args.scene,
        "scene_params": params,
        "duration_s": None if args.duration == 0 else args.duration,
        "record_dir": None if args.no_record else args.record,
        "rate_hz": args.rate,
        "operator": args.operator,
        "camera": args.camera,
        "camera_width": args.camera_size[0],
        "camera_height": args.camera_size[1],
        "camera_fps": args.camera_fps,
        "camera_pressure_inset": not getattr(args, "no_pressure_inset", False),
    }
    if getattr(args, "camera_truth", False):
        fields["camera_pose"] = CameraPose(truth=True)
    try:
        return SessionConfig(**fields)
    except ValidationError as exc:
        raise ConfigError(_option_problem(exc, fields)) from exc


def split_devices(specs: list[str]) -> dict[str, Any]:
    """The session's haptic device (the one spec whose driver takes force) and its
    sense-only devices, from the repeated --device options.

    Raises ConfigError for none or several haptic devices (DeviceNotFound for a name no
    driver has).
    """
    haptic = [s for s in specs if load_driver(split_device_spec(s)[0]).schema(
        split_device_spec(s)[1]).takes_force]
    if len(haptic) != 1:
        raise ConfigError(
            f"--device names {len(haptic)} haptic devices ({', '.join(haptic) or 'none'}): a "
            "session runs exactly one that takes force (e.g. simulated), plus any sense-only "
            "ones (e.g. tactile-sim)"
        )
    return {"device": haptic[0], "sensors": [s for s in specs if s not in haptic]}


def _option_problem(exc: ValidationError, fields: dict[str, Any]) -> str:
    """One line for the first problem pydantic found, in the options' own words."""
    e = exc.errors()[0]
    field = str(e["loc"][0]) if e["loc"] else ""
    if field in OPTIONS:
        option, valid = OPTIONS[field]
        value = fields[field]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        if option == "--camera-size":
            shown = f"{fields['camera_width']}x{fields['camera_height']}"
        return f"{option} {shown}: {e['msg'].lower()}; {valid}"
    message = str(e["msg"]).removeprefix("Value error, ")
    return f"{message} (--rate, --safety)" if not field else f"{field}: {message}"


def cmd_run(args: argparse.Namespace) -> int:
    """Run the session the options ask for; the exit status is in the module docstring.

    Raises ConfigError (exit 2 from the CLI's handler) for a bad option or config file.
    """
    cfg = session_config(args)
    console = Console()
    run = SessionRun(cfg)
    try:
        with console.status(
            "starting device, loop, recorder" + (", camera…" if cfg.camera else "…")
        ):
            run.start()
    except HapticsError as exc:
        failed = run.stop("failed to start")
        errors = Console(stderr=True)
        errors.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        if failed["session"]:
            errors.print(
                f"nothing was recorded; {failed['session']} is marked failed (delete it)",
                soft_wrap=True,
            )
        return 2
    except KeyboardInterrupt:
        run.stop("stopped by Ctrl-C")
        console.print("stopped by Ctrl-C before the session started; nothing recorded")
        return 0
    return _watch(run, console, quiet=args.quiet)


def _watch(run: SessionRun, console: Console, quiet: bool) -> int:
    """The live view until the session ends, then the stop and its report; the exit status."""
    cfg = run.cfg
    stats = LiveStats(period_ns=round(1e9 / cfg.rate_hz))
    if not quiet:  # a small pressure map of each tactile stream's newest frame
        stats.watch_tactile(tactile_feeds(run))
    reason = "finished"
    title = f"haptics · {cfg.scene} · {' + '.join([cfg.device, *cfg.sensors])}" + (
        " · camera" if cfg.camera else ""
    )
    shown = 0  # warnings already printed
    try:
        live = (
            None
            if quiet
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
                console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
            shown = len(run.warnings)

        with live if live is not None else contextlib.nullcontext():
            reason = run.watch(0.25, on_poll=show)
    except KeyboardInterrupt:
        reason = "stopped by Ctrl-C"
    except HapticsError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        reason = f"error: {exc}"
    finally:
        result = run.stop(reason)
    if not console.is_terminal:
        console.print()  # a non-terminal Live leaves the cursor after the table's last line
    for w in result["warnings"][shown:]:
        console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
    zeroed = "force zeroed" if result["disarmed"] else "force NOT confirmed zero"
    console.print(
        f"stopped: {escape(result['reason'])}; {zeroed}, all processes ended", soft_wrap=True
    )
    for problem in result["problems"]:
        console.print(f"[red]error:[/] {escape(problem)}", soft_wrap=True)
    if result["recorder_error"] and result["recorder_error"] not in result["problems"]:
        console.print(f"[red]{escape(result['recorder_error'])}[/]", soft_wrap=True)
    loop = result.get("loop") or {}
    if loop.get("bad_input") or loop.get("seq_restarts"):
        console.print(
            f"loop: {loop.get('bad_input', 0)} sample(s) rejected as bad input (flagged in "
            f"telemetry), {loop.get('seq_restarts', 0)} device sequence restart(s)"
        )
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
    if result["recorder_error"] or result["problems"]:
        return 1
    return 0 if reason in ("finished", "stopped by Ctrl-C") else 1
