"""`haptics operator`, `haptics follower` and `haptics teleop relay`: teleoperation across hosts.

    haptics keys create follower            # on the follower's host
    haptics keys create operator            # on the operator's host; swap the public `.key`s
    haptics follower --listen tcp://0.0.0.0:5800 --keys keys/follower.key_secret \\
        --authorized keys/authorized/          # holds operator.key
    haptics operator --connect tcp://FOLLOWER:5800 --keys keys/operator.key_secret \\
        --follower-key keys/follower.key

Both ends are CurveZMQ (there is no plain mode). A refused key stops the operator at start
with the reason. Exit status: 0 ran to the end (or Ctrl-C); 1 a process died on the way; 2 it
never started (bad option, keys, or a refused handshake), with one `error: ...` line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from haptics.cli.commands import summary
from haptics.errors import ConfigError, HapticsError
from haptics.plugins import load_tool
from haptics.runtime.relay import RelayConfig, run_relay
from haptics.runtime.teleop import (
    FollowerConfig,
    FollowerRun,
    LinkConfig,
    OperatorConfig,
    OperatorRun,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    op = sub.add_parser("operator", help=summary("operator"))
    op.add_argument("--connect", required=True, help="the follower, tcp://HOST:PORT")
    op.add_argument("--keys", type=Path, required=True, help="our secret key (.key_secret)")
    op.add_argument(
        "--follower-key", type=Path, required=True, help="the follower's public key (.key)"
    )
    op.add_argument("--device", default="simulated", help="driver[:argument]")
    op.add_argument("--scene", default="palpation", help="the simulated operator's script")
    op.add_argument("--duration", type=float, default=10.0, help="seconds; 0: until Ctrl-C")
    _link_options(op)
    op.add_argument("--connect-timeout", type=float, default=10.0, help="seconds (default 10)")
    op.set_defaults(func=cmd_operator)

    fl = sub.add_parser("follower", help=summary("follower"))
    fl.add_argument("--listen", required=True, help="where to accept the operator, tcp://IP:PORT")
    fl.add_argument("--keys", type=Path, required=True, help="our secret key (.key_secret)")
    fl.add_argument(
        "--authorized", type=Path, required=True, help="folder of accepted public keys (.key)"
    )
    fl.add_argument("--scene", default="palpation", help="scene name (`haptics scenes list`)")
    fl.add_argument("--scene-config", type=Path, default=None, metavar="TOML")
    fl.add_argument("--duration", type=float, default=0.0, help="seconds; 0: until Ctrl-C")
    fl.add_argument("--record", type=Path, default=Path("sessions"), metavar="DIR")
    fl.add_argument("--no-record", action="store_true", help="do not record")
    _link_options(fl)
    fl.set_defaults(func=cmd_follower)

    tp = sub.add_parser("teleop", help=summary("teleop"))
    ts = tp.add_subparsers(dest="teleop_cmd", required=True)
    rl = ts.add_parser("relay", help="a delay/jitter/loss relay between operator and follower")
    rl.add_argument("--listen", default="127.0.0.1:5801", help="HOST:PORT the operator joins")
    rl.add_argument("--to", default="127.0.0.1:5800", help="HOST:PORT of the follower")
    rl.add_argument("--rtt-ms", type=float, default=0.0, help="round-trip delay (ms)")
    rl.add_argument("--jitter", type=float, default=0.0, help="fraction of the delay, e.g. 0.1")
    rl.add_argument("--loss", type=float, default=0.0, help="fraction lost, e.g. 0.01")
    rl.add_argument("--loss-mode", choices=("retransmit", "drop"), default="retransmit",
                    help="a lost chunk waits for TCP's resend (--rto-ms), or a whole CurveZMQ "
                    "message is dropped as a datagram link would (default %(default)s)")
    rl.add_argument("--rto-ms", type=float, default=200.0, help="retransmit: the wait (ms)")
    rl.add_argument("--stall-ms", type=float, default=0.0,
                    help="hold the link this long (ms), as TCP does after a timeout; 0: never")
    rl.add_argument("--stall-after", type=float, default=1.0, metavar="S",
                    help="the first stall, seconds after the first bytes relayed")
    rl.add_argument("--stall-every", type=float, default=0.0, metavar="S",
                    help="then one stall every S seconds (0: once)")
    rl.add_argument("--seed", type=int, default=1)
    rl.set_defaults(func=cmd_relay)


def _link_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--watchdog-ms", type=float, default=30.0, help="link silent → force zero")
    p.add_argument("--ramp-ms", type=float, default=250.0, help="force ramp after a reconnect")
    p.add_argument("--json", action="store_true", help="no live view; the result as JSON")


def _validated(model: type[Any], fields: dict[str, Any]) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        raise ConfigError(f"{where}: {e['msg']}; see `haptics --help`") from exc


def _link(args: argparse.Namespace, peer: str, **extra: Any) -> LinkConfig:
    fields = {
        "endpoints": {},
        "peer": peer,
        "keys": args.keys,
        "watchdog_ms": args.watchdog_ms,
        "ramp_ms": args.ramp_ms,
        **extra,
    }
    link: LinkConfig = _validated(LinkConfig, fields)
    return link


def _table(title: str, stats: dict[str, Any], rows: tuple[str, ...]) -> Table:
    t = Table(title=title)
    t.add_column("")
    t.add_column("", justify="right")
    for key in rows:
        t.add_row(key.replace("_", " "), str(stats.get(key, "-")))
    return t


def _run(run: Any, title: str, rows: tuple[str, ...], as_json: bool, console: Console) -> str:
    """The live view (or none) until the run ends; why it ended."""
    notes_seen = 0

    def show(r: Any) -> None:
        nonlocal notes_seen
        s = r.stats()
        if live is not None and s.get("ok"):
            live.update(_table(title, s, rows))
        for e in s.get("events", [])[notes_seen:]:
            if e["event"] == "down":
                after = e.get("zeroed_after_ms")
                text = (
                    f"link lost: force zeroed {after} ms after the last message"
                    if after
                    else ("link lost: the follower holds still")
                )
                console.print(f"[yellow]warning:[/] {text}")
            else:
                console.print("link up")
        notes_seen = len(s.get("events", [])) if s.get("ok") else notes_seen

    live = None if as_json else Live(_table(title, {}, rows), console=console, refresh_per_second=4)
    try:
        with live if live is not None else contextlib.nullcontext():
            return str(run.watch(0.25, on_poll=show))
    except KeyboardInterrupt:
        return "stopped by Ctrl-C"


def cmd_operator(args: argparse.Namespace) -> int:
    """Run the operator's side; exit status in the module docstring."""
    link = _link(args, args.connect, peer_key=args.follower_key,
                 connect_timeout_s=args.connect_timeout)  # fmt: skip
    cfg: OperatorConfig = _validated(
        OperatorConfig,
        {"device": args.device, "scene": args.scene, "link": link,
         "duration_s": None if args.duration == 0 else args.duration},
    )  # fmt: skip
    console = Console()
    run = OperatorRun(cfg)
    try:
        run.start()
    except HapticsError:
        run.stop()
        raise
    rows = ("up", "drops", "force", "received", "sent", "bad", "replayed")
    reason = _run(run, f"haptics · operator → {args.connect}", rows, args.json, console)
    result = run.stop()
    return _report(console, args.json, reason, result)


def cmd_follower(args: argparse.Namespace) -> int:
    """Run the follower's side; exit status in the module docstring."""
    params: dict[str, Any] = {}
    if args.scene_config is not None:
        params.update(load_tool("load-scene-params")(args.scene_config, args.scene))
    link = _link(args, args.listen, authorized=args.authorized)
    cfg: FollowerConfig = _validated(
        FollowerConfig,
        {"scene": args.scene, "scene_params": params, "link": link,
         "duration_s": None if args.duration == 0 else args.duration,
         "record_dir": None if args.no_record else args.record, "monitor": False},
    )  # fmt: skip
    console = Console()
    run = FollowerRun(cfg)
    try:
        run.start()
    except HapticsError:
        run.stop("failed to start")
        raise
    rows = ("up", "drops", "rtt_ms", "rtt_min_ms", "received", "published", "bad", "replayed")
    reason = _run(run, f"haptics · follower on {args.listen}", rows, args.json, console)
    result = run.stop(reason)
    return _report(console, args.json, reason, result)


def _report(console: Console, as_json: bool, reason: str, result: dict[str, Any]) -> int:
    if as_json:
        link = result.get("link")
        if isinstance(link, dict) and "energy_trace" in link:  # a sample per 16 ms: for benches
            link = {**link, "energy_trace": len(link["energy_trace"])}
        print(json.dumps({"reason": reason, **result, "link": link}, default=str))
    else:
        console.print(f"stopped: {escape(reason)}", soft_wrap=True)
        if result.get("session"):
            console.print(f"session: [bold]{result['session']}[/]")
    return 0 if reason in ("finished", "stopped by Ctrl-C") else 1


def cmd_relay(args: argparse.Namespace) -> int:
    """Run the relay until Ctrl-C or SIGTERM."""
    cfg: RelayConfig = _validated(
        RelayConfig,
        {"listen": args.listen, "target": args.to, "rtt_ms": args.rtt_ms,
         "jitter": args.jitter, "loss": args.loss, "loss_mode": args.loss_mode,
         "rto_ms": args.rto_ms, "stall_ms": args.stall_ms, "stall_after_s": args.stall_after,
         "stall_every_s": args.stall_every, "seed": args.seed},
    )  # fmt: skip
    stalls = (f", stalls of {cfg.stall_ms:g} ms from {cfg.stall_after_s:g} s"
              + (f" every {cfg.stall_every_s:g} s" if cfg.stall_every_s else "")
              if cfg.stall_ms else "")  # fmt: skip
    Console(stderr=True).print(
        f"relay {cfg.listen} → {cfg.target}: round trip {cfg.rtt_ms:g} ms ± "
        f"{cfg.jitter * 100:g} %, loss {cfg.loss * 100:g} % ({cfg.loss_mode}){stalls}"
    )
    run_relay(cfg)
    return 0
