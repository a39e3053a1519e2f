"""`haptics bench ...`: offline benchmarks. `haptics bench stiffness [--json]` lives here.

Other modules add their own subcommand with `add_bench_command(name, help, setup_fn)`, at
import time or later: commands added before `register` are created when it runs, commands
added after it go straight into the existing `bench` parser. `setup_fn` receives the new
subparser, adds its arguments and sets `func` (a `(argparse.Namespace) -> int`) with
`set_defaults`, like every other command of `haptics`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from haptics.bench.stiffness import BenchParams, run_stiffness_bench
from haptics.cli.commands import summary
from haptics.errors import ConfigError

SetupFn = Callable[[argparse.ArgumentParser], None]

# name → (help, setup_fn), in the order added
_COMMANDS: dict[str, tuple[str, SetupFn]] = {}
# the `bench` parser's subparsers, once `register` ran
_bench_sub: argparse._SubParsersAction[argparse.ArgumentParser] | None = None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `bench` command (and every bench subcommand added so far) to `sub`."""
    global _bench_sub
    p = sub.add_parser("bench", help=summary("bench"))
    _bench_sub = p.add_subparsers(dest="bench_cmd", required=True, metavar="BENCH")
    for name, (help_text, setup_fn) in _COMMANDS.items():
        setup_fn(_bench_sub.add_parser(name, help=help_text))


def add_bench_command(name: str, help: str, setup_fn: SetupFn) -> None:
    """Make `haptics bench NAME` available; `setup_fn(parser)` adds its arguments and func.

    Adding a name twice replaces the earlier setup for parsers built afterwards.
    """
    _COMMANDS[name] = (help, setup_fn)
    if _bench_sub is not None and name not in _bench_sub.choices:
        setup_fn(_bench_sub.add_parser(name, help=help))


def check_range(option: str, value: float, high: float, unit: str) -> float:
    """`value` if it is finite, above 0 and at most `high`. Raises ConfigError naming the
    option, the value and the range to give."""
    if not (math.isfinite(value) and 0 < value <= high):
        raise ConfigError(f"{option} {value:g}: give a number above 0 and at most {high:g} {unit}")
    return value


# -- haptics bench stiffness --------------------------------------------------------------------
def _setup_stiffness(p: argparse.ArgumentParser) -> None:
    d = BenchParams()
    p.description = (
        "Highest stable virtual-wall stiffness on the simulated device's dynamics, sampled at "
        "the loop rate with a zero-order hold and a computation/communication delay, without "
        "and with the passivity controller (same stability criterion for both)."
    )
    p.add_argument("--json", action="store_true", help="print every figure and run as JSON")
    p.add_argument("--mass", type=float, default=d.mass_kg, help="kg (default %(default)s)")
    p.add_argument("--damping", type=float, default=d.damping_ns_per_m, help="hand damping, N·s/m")
    p.add_argument(
        "--hand-stiffness",
        type=float,
        default=d.hand_stiffness_n_per_m,
        help="hand stiffness, N/m (default %(default)s)",
    )
    p.add_argument(
        "--delay", type=int, default=d.delay_samples, help="delay in samples (default 1)"
    )
    p.add_argument("--rate", type=float, default=d.rate_hz, help="loop rate, Hz")
    p.add_argument("--wall-damping", type=float, default=d.wall_damping_ns_per_m, help="N·s/m")
    p.add_argument(
        "--max-damping",
        type=float,
        default=d.max_damping_ns_per_m,
        help="bound on the passivity controller's damping, N·s/m (default %(default)s)",
    )
    p.add_argument(
        "--max-force", type=float, default=None, help="device force saturation, N (default none)"
    )
    p.add_argument("--duration", type=float, default=d.duration_s, help="one press, s")
    p.add_argument("--k-max", type=float, default=d.k_max, help="scan end, N/m")
    p.set_defaults(func=cmd_stiffness)


def cmd_stiffness(args: argparse.Namespace) -> int:
    """Run the stiffness bench; ConfigError (bad parameters) reaches the CLI's handler."""
    params = BenchParams(
        mass_kg=args.mass,
        damping_ns_per_m=args.damping,
        hand_stiffness_n_per_m=args.hand_stiffness,
        delay_samples=args.delay,
        rate_hz=args.rate,
        wall_damping_ns_per_m=args.wall_damping,
        max_damping_ns_per_m=args.max_damping,
        max_force_n=args.max_force,
        duration_s=args.duration,
        k_max=args.k_max,
    )
    result = run_stiffness_bench(params)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    _print_summary(Console(), result)
    return 0


def _fmt(value: Any, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value * scale:,.{digits}f}{unit}"


def _print_summary(console: Console, r: dict[str, Any]) -> None:
    dev = r["device"]
    console.print(
        f"device: m = {dev['mass_kg']} kg, b = {dev['damping_ns_per_m']} N·s/m, "
        f"k_h = {dev['hand_stiffness_n_per_m']} N/m; {r['rate_hz']:g} Hz, "
        f"delay {r['delay_samples']} sample(s), {r['hold']}"
    )
    table = Table(title="highest stable wall stiffness")
    for col in ("", "K (N/m)", "mean penetration", "mean force", "bounces", "PC active"):
        table.add_column(col)
    for label in ("without_pc", "with_pc"):
        res = r[label]
        at = res["at_k_max"] or {}
        table.add_row(
            label.replace("_", " "),
            _fmt(res["k_max_stable_n_per_m"]),
            _fmt(at.get("mean_penetration_m"), " mm", 1e3, 3),
            _fmt(at.get("mean_force_n"), " N", 1.0, 2),
            str(at.get("bounces", "—")),
            _fmt(at.get("pc_active_fraction"), " %", 100.0, 0),
        )
    console.print(table)
    ref = r["reference"]
    console.print(
        f"ratio with/without PC: {_fmt(r['ratio'], '×', 1.0, 2)}; "
        f"Colgate bound (undelayed): {_fmt(ref['colgate_bound_undelayed_n_per_m'])} N/m; "
        f"linear bound without PC: {_fmt(ref['linear_contact_bound_without_pc_n_per_m'])} N/m; "
        f"fixed {ref['fixed_wall_damper']['wall_damping_ns_per_m']:g} N·s/m wall damper: "
        f"{_fmt(ref['fixed_wall_damper']['k_max_stable_without_pc_n_per_m'])} N/m"
    )
    console.print(f"criterion: {r['criterion']['rule']}; runtime {r['runtime_s']:.2f} s")


add_bench_command(
    "stiffness",
    "highest stable wall stiffness without and with the passivity controller",
    _setup_stiffness,
)


# -- haptics bench loop / read -------------------------------------------------------------------
def _print_json_or_table(
    result: dict[str, Any], as_json: bool, rows: list[tuple[str, str]]
) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(show_header=False)
    table.add_column(style="bold cyan")
    table.add_column(justify="right")
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)


def _setup_loop(p: argparse.ArgumentParser) -> None:
    p.description = (
        "The real pipeline (simulated device process → loop with the palpation scene → "
        "commands back, recorder attached) and, in the same run, a naive time.sleep(0.001) "
        "loop as the baseline; every figure is read back from the recorded streams."
    )
    p.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    p.add_argument("--tick-on", choices=("grid", "arrival"), default="grid")
    p.add_argument("--device-clocked", action="store_true",
                   help="also run the device-clocked mode (a tick per sample) in this run")
    p.add_argument("--tactile", action="store_true",
                   help="also run the loop with the simulated tactile array beside the stylus")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_loop)


def _cmd_loop(args: argparse.Namespace) -> int:
    from haptics.bench.loop import run_loop_bench

    duration = check_range("--duration", args.duration, 3600.0, "s")
    r = run_loop_bench(
        duration, tick_on=args.tick_on, device_clocked=args.device_clocked, tactile=args.tactile
    )
    b = r["baseline"]

    def line(x: dict[str, Any]) -> str:
        pe, lat = x["period_error_us"], x["latency_us"]
        return (
            f"{x['rate_hz']:.3f} Hz · period err p50/p99/p99.9/max {pe['p50']}/{pe['p99']}/"
            f"{pe['p999']}/{pe['max']} µs · late {x['late_ticks']} · latency p50/p99 "
            f"{lat['p50']}/{lat['p99']} µs · compute p50/p99 {x['tick_compute_us']['p50']}/"
            f"{x['tick_compute_us']['p99']} µs"
        )

    rows = [("loop", line(r))]
    if "device_clocked" in r:
        rows.append(("device-clocked", line(r["device_clocked"])))
    if "with_tactile" in r:
        rows.append(("loop + tactile array", line(r["with_tactile"])))
        rows += _sensor_rows(r["with_tactile"]["sensor_streams"])
    rows.append(("naive baseline", line(b)))
    _print_json_or_table(r, args.json, rows)
    return 0


def _sensor_rows(streams: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per sense-only stream: frames recorded of those published, lost, bad."""
    return [
        (f"{name} frames ({s['source']})",
         f"{s['recorded']} recorded / {s['published']} published · lost {s['lost']} · "
         f"bad {s['bad']} · {s['rate_hz']} Hz (nominal {s['nominal_rate_hz'] or 0:g})")
        for name, s in streams.items()
    ]  # fmt: skip


def _setup_read(p: argparse.ArgumentParser) -> None:
    p.description = "Time to load an hour of 1 kHz state, command and telemetry into arrays."
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_read)


def _cmd_read(args: argparse.Namespace) -> int:
    from haptics.bench.read import run_read_bench

    # an hour of 1 kHz streams is about 1 GB in memory: ten is the most a workstation holds
    r = run_read_bench(check_range("--hours", args.hours, 10.0, "h"))
    rows = [
        ("rows", f"{r['rows']:,}"),
        ("load (warm, median of 3)", f"{r['load_s']} s"),
        ("load (cold cache)", f"{r['load_cold_s']} s"),
        ("baseline: CSV with numpy", f"{r['baseline']['load_s']} s"),
    ]
    _print_json_or_table(r, args.json, rows)
    return 0


add_bench_command("loop", "1 kHz loop timing and latency vs a naive sleep loop", _setup_loop)
add_bench_command("read", "load an hour of recorded 1 kHz streams into arrays", _setup_read)


def _setup_record(p: argparse.ArgumentParser) -> None:
    p.description = "Record 1 kHz state, command, telemetry and 30 Hz camera; report what was lost."
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--no-camera", action="store_true")
    p.add_argument("--tactile", action="store_true",
                   help="record the simulated tactile array beside the stylus, and count its "
                   "frames")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_record)


def _cmd_record(args: argparse.Namespace) -> int:
    from haptics.bench.record import run_record_bench

    minutes = check_range("--minutes", args.minutes, 24 * 60.0, "min")
    r = run_record_bench(minutes, camera=not args.no_camera, tactile=args.tactile)
    share = r["recorder_cpu_share"]
    video = (
        [("frames recorded / at 30 Hz", f"{r['frames_recorded']} / {r['frames_expected_at_30hz']}")]
        if r["camera"]
        else []
    )  # without a camera there are no video frames to speak of
    rows = [
        ("samples lost (state+command+telemetry)", str(r["samples_lost"])),
        *video,
        ("recorder CPU", f"{share * 100:.1f} % of a core" if share is not None else "?"),
        ("loop rate", f"{r['loop']['rate_hz']} Hz"),
        *_sensor_rows(r["sensor_streams"]),
    ]
    _print_json_or_table(r, args.json, rows)
    sensor_lost = sum(s["lost"] for s in r["sensor_streams"].values())
    return 0 if r["samples_lost"] == 0 and sensor_lost == 0 else 1


add_bench_command(
    "record", "record with camera for minutes; samples lost, recorder CPU", _setup_record
)


# -- haptics bench palpation --------------------------------------------------------------------
def _setup_palpation(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Finding the palpation scene's inclusion: detection rate, localisation error and false "
        "positives over N seeds, with the tactile frames and with the stylus force alone, side "
        "by side (offline scripted sweeps of the scene's model; see sim.scenes.palpation_bench)."
    )
    p.add_argument("--seeds", type=int, default=10, help="seeds to evaluate (1..1000)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_palpation)


def _cmd_palpation(args: argparse.Namespace) -> int:
    from haptics.plugins import load_tool

    if not 1 <= args.seeds <= 1000:
        raise ConfigError(f"--seeds {args.seeds}: give a number from 1 to 1000")
    r = load_tool("palpation-benchmark")(args.seeds, args.first_seed)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def mm(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f} mm"

    table = Table(title=f"palpation: {r['seeds']} seeds ({r['method']})")
    table.add_column("")
    table.add_column("tactile frames", justify="right")
    table.add_column("stylus force alone", justify="right")
    t, f = r["tactile"], r["force"]
    table.add_row("detection rate", f"{t['detection_rate']:.0%}", f"{f['detection_rate']:.0%}")
    table.add_row("error median", mm(t["error_median_mm"]), mm(f["error_median_mm"]))
    table.add_row("error max", mm(t["error_max_mm"]), mm(f["error_max_mm"]))
    table.add_row(
        "false positives (no inclusion)",
        f"{t['false_positive_rate']:.0%}",
        f"{f['false_positive_rate']:.0%}",
    )
    Console().print(table)
    return 0


# -- haptics bench labels ------------------------------------------------------------------------
def _setup_labels(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Label store: agreement over 1,000 sessions × 3 annotators × 20 intervals (target ≤ 5 s) "
        "and append latency with 8 writer processes on SQLite (target p99 ≤ 10 ms) and "
        "PostgreSQL (--pg URL, else a throwaway local server)."
    )
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--appends", type=int, default=200, help="answers per writer")
    p.add_argument("--pg", default=None, metavar="URL", help="PostgreSQL server to use")
    p.add_argument("--no-postgres", action="store_true", help="SQLite only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_labels)


def _cmd_labels(args: argparse.Namespace) -> int:
    from haptics.bench.labels import run_labels_bench

    r = run_labels_bench(
        args.sessions, args.writers, args.appends, args.pg, postgres=not args.no_postgres
    )
    ag = r["agreement"]
    rows = [
        (
            "agreement",
            f"{ag['total_s']} s (load {ag['load_s']} + compute {ag['compute_s']}) for "
            f"{ag['sessions']} sessions × {ag['annotators']} annotators × "
            f"{ag['intervals_per_annotator']} intervals; target ≤ {ag['target_s']} s",
        )
    ]
    for name in ("append_sqlite", "append_sqlite_paced", "append_postgresql",
                 "append_postgresql_paced"):  # fmt: skip
        if name in r:
            a = r[name]
            pace = (f"each paced at {a['per_writer_per_s']}/s" if a["per_writer_per_s"]
                    else "flat out")  # fmt: skip
            rows.append(
                (
                    name.replace("_", " "),
                    f"p50 {a['p50_ms']} / p99 {a['p99_ms']} / max {a['max_ms']} ms with "
                    f"{a['writers']} writers {pace}, {a['answers']}/{a['expected']} answers"
                    + (f", errors: {a['errors']}" if a["errors"] else "")
                    + f"; target p99 ≤ {a['target_p99_ms']} ms",
                )
            )
    _print_json_or_table(r, args.json, rows)
    lost = any(r[n]["answers"] != r[n]["expected"] for n in r if n.startswith("append"))
    return 1 if lost else 0


add_bench_command(
    "labels", "label store: agreement time and append p99 under 8 writers", _setup_labels
)
add_bench_command(
    "palpation", "finding the inclusion: tactile frames vs stylus force alone", _setup_palpation
)


# -- haptics bench teleop ------------------------------------------------------------------------
def _setup_teleop(p: argparse.ArgumentParser) -> None:
    from haptics.bench.teleop import RTTS_MS, TeleopBenchParams

    d = TeleopBenchParams()
    p.description = (
        "A leader–follower link pressing on the stiffest tissue, at several round-trip delays "
        "with jitter and loss: the uncompensated baseline against time-domain passivity."
    )
    p.add_argument("--rtt-ms", type=float, nargs="+", default=list(RTTS_MS),
                   help="round-trip delays in ms (default %(default)s)")
    p.add_argument("--jitter", type=float, default=d.jitter, help="fraction of the delay")
    p.add_argument("--loss", type=float, default=d.loss, help="packet loss probability")
    p.add_argument("--stiffness", type=float, default=d.tissue_k_n_per_m, help="tissue, N/m")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--link", action="store_true",
                   help="run the real operator and follower processes over tcp with CurveZMQ "
                   "through the relay (the palpation scene at --stiffness) instead of the model")
    p.add_argument("--press-s", type=float, default=8.0,  # LinkBenchParams.press_s
                   help="--link: seconds each press lasts (default %(default)s)")
    p.add_argument("--loss-mode", choices=("drop", "retransmit"), default="drop",
                   help="--link: a lost message is dropped (a datagram link) or waits for "
                   "TCP's resend (default %(default)s)")
    p.add_argument("--rto-ms", type=float, default=200.0,
                   help="--link --loss-mode retransmit: how long a lost message waits, at least "
                   "the round trip (200: Linux's minimum timeout; 0: one round trip, a fast "
                   "retransmit)")
    p.add_argument("--stall-ms", type=float, default=0.0,
                   help="--link: instead of the table, one press at the first --rtt-ms with "
                   "the relay stalling the link this long every 2 s (TCP after a timeout)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_teleop)


def _cmd_teleop(args: argparse.Namespace) -> int:
    import dataclasses

    from haptics.bench.teleop import TeleopBenchParams, run_teleop_bench

    if not (0.0 <= args.jitter < 1.0 and 0.0 <= args.loss < 1.0 and args.stiffness > 0
            and all(0.0 <= r <= 5000.0 for r in args.rtt_ms)):
        from haptics.errors import ConfigError

        raise ConfigError("need 0 ≤ jitter < 1, 0 ≤ loss < 1, stiffness > 0 and delays "
                          "between 0 and 5000 ms")
    if args.link:
        return _cmd_teleop_link(args)
    params = dataclasses.replace(
        TeleopBenchParams(), jitter=args.jitter, loss=args.loss,
        tissue_k_n_per_m=args.stiffness, seed=args.seed,
    )
    r = run_teleop_bench(tuple(args.rtt_ms), params)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def cell(x: dict[str, Any]) -> str:
        state = "[green]stable[/]" if x["stable"] else "[red]unstable[/]"
        if x["contact_lost"]:
            state += " (bouncing)"
        felt = f"{x['felt_n_per_m']:.0f} N/m" if x["felt_n_per_m"] is not None else "—"
        p2p = f"{x['p2p_mm']:.2f}" if x["p2p_mm"] is not None else "∞"
        return f"{state}\n{x['network_energy_max_j']:.3g} J · p2p {p2p} mm · felt {felt}"

    t = Table(title=f"bilateral link on {params.tissue_k_n_per_m:g} N/m tissue, jitter "
              f"{params.jitter:.0%}, loss {params.loss:.0%} (energy: most the link generated)")
    t.add_column("round trip")
    t.add_column("uncompensated")
    t.add_column("time-domain passivity")
    t.add_column("transparency\n(felt / tissue)")
    for row in r["rows"]:
        tr = row["tdpa"]["transparency"]
        t.add_row(f"{row['rtt_ms']:g} ms", cell(row["baseline"]), cell(row["tdpa"]),
                  f"{tr:.2f}" if tr is not None else "—")
    Console().print(t)
    return 0


def _cmd_teleop_link(args: argparse.Namespace) -> int:
    from haptics.bench.teleop_link import LinkBenchParams, run_link_bench, stall_check

    if not args.press_s >= 3.0:
        from haptics.errors import ConfigError

        raise ConfigError("--press-s: at least 3 s (a press, then two seconds of hold to judge)")
    p = LinkBenchParams(press_s=args.press_s, jitter=args.jitter, loss=args.loss,
                        loss_mode=args.loss_mode, rto_ms=args.rto_ms,
                        tissue_k_n_per_m=args.stiffness, seed=args.seed)  # fmt: skip
    if args.stall_ms > 0:
        p = LinkBenchParams(
            press_s=max(args.press_s, 8.0), jitter=args.jitter, loss=0.0,
            tissue_k_n_per_m=args.stiffness, seed=args.seed, stall_ms=args.stall_ms,
            stall_after_s=4.0, stall_every_s=2.0,
        )  # fmt: skip
        r = stall_check(args.rtt_ms[0], p)
        if args.json:
            print(json.dumps(r, indent=2))
            return 0
        t = Table(title=f"link stalls of {args.stall_ms:g} ms at {args.rtt_ms[0]:g} ms round "
                  "trip (time-domain passivity): the operator's side")  # fmt: skip
        for c in ("force before", "zero after last message", "silent", "first force back",
                  "largest rise back (per tick)", "force 300 ms back",
                  "most force 1 s back"):  # fmt: skip
            t.add_column(c)
        for s in r["stalls"]:
            t.add_row(*(f"{s.get(k)}" for k in ("force_before_n", "zero_after_ms", "silent_ms",
                      "first_force_back_n", "max_rise_back_n", "force_300ms_back_n",
                      "force_peak_back_n")))  # fmt: skip
        Console().print(t)
        Console().print(f"watchdog trips: operator {r['trips_operator']}, follower "
                        f"{r['trips_follower']}; zero force while silent: "
                        f"{all(s['zero_while_silent'] for s in r['stalls'])}")  # fmt: skip
        return 0
    console = Console(stderr=True)

    def progress(row: dict[str, Any]) -> None:
        console.print(f"{row['rtt_ms']:g} ms done", style="dim")

    r = run_link_bench(tuple(args.rtt_ms), p, progress)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def cell(x: dict[str, Any]) -> str:
        state = "[green]stable[/]" if x["stable"] else "[red]not passive[/]"
        if x["growing"]:
            state = "[red]growing[/]"
        if x["bouncing"]:
            state += " (bouncing)"
        ratio = x["felt_over_rendered"]
        return (f"{state}\n{x['energy_max_j']} J · p2p dev {x['device_p2p_mm']} / tool "
                f"{x['tool_p2p_mm']} mm\nfelt {x['felt_n']} N / rendered {x['rendered_n']} N"
                f" ({ratio if ratio is not None else '—'})\ntrips {x['trips_operator']}/"
                f"{x['trips_follower']}")  # fmt: skip

    t = Table(title=f"real link (tcp + CurveZMQ through the relay) on {p.tissue_k_n_per_m:g} "
              f"N/m tissue, jitter {p.jitter:.0%}, loss {p.loss:.0%} ({p.loss_mode}"
              f"{f', waits {p.rto_ms:g} ms' if p.loss_mode == 'retransmit' else ''}), "
              f"{p.press_s:g} s press; energy: most the network generated; trips: watchdog "
              "operator/follower")  # fmt: skip
    for c in ("round trip", "uncompensated", "time-domain passivity",
              "there / back ms p50 (p99)\n(from both clocks)", "clock fit offset ms"):
        t.add_column(c)  # fmt: skip
    for row in r["rows"]:
        b, d = row["baseline"], row["tdpa"]
        t.add_row(f"{row['rtt_ms']:g} ms", cell(b), cell(d),
                  f"{d['one_way_ms_p50']} ({d['one_way_ms_p99']}) / {d['back_ms_p50']} "
                  f"({d['back_ms_p99']})", f"{d['clock_offset_ms']}")
    Console().print(t)
    Console().print(f"{len(r['rows']) * 2} sessions in {r['wall_s']} s")
    return 0


add_bench_command(
    "teleop", "bilateral link under delay: baseline against time-domain passivity", _setup_teleop
)


# --- bench export ---------------------------------------------------------------------


def _setup_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hours", type=float, default=1.0, help="length of the long session")
    p.add_argument("--sessions", type=int, default=100, help="sessions in the batch")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each batch session")
    p.add_argument("--workers", type=int, default=2, help="local cluster workers")
    p.add_argument("--rank-sessions", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from haptics.bench.export import run_export_bench

    r = run_export_bench(args.hours, args.sessions, args.seconds, args.workers,
                         args.rank_sessions)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    h, b, k = r["hour_to_parquet"], r["batch"], r["rank"]
    t = Table(title="export and ranking")
    t.add_column("what")
    t.add_column("measured")
    t.add_column("target / baseline")
    t.add_row(f"{h['hours']:g} h at 1 kHz to Parquet ({h['rows']:,} rows, with read-back)",
              f"{h['export_s']:.2f} s", f"≤ {h['target_s']:g} s")
    t.add_row(f"{b['sessions']} × {b['seconds_each']:g} s on a LocalCluster of {b['workers']}",
              f"{b['cluster_s']:.2f} s (+{b['cluster_start_s']:.1f} s start)",
              f"serially in one process {b['serial_s']:.2f} s: speed-up {b['speedup']}× "
              f"({b['speedup_with_start']}× with the start)")
    t.add_row(f"rank + duplicates of {k['sessions']} sessions ({k['labeled']} labeled)",
              f"{k['rank_and_duplicates_s']:.3f} s", f"≤ {k['target_s']:g} s")
    Console().print(t)
    return 0


add_bench_command("export", "export speed (hour to Parquet, batch on Dask) and ranking",
                  _setup_export)


# -- haptics bench annotate ----------------------------------------------------------------------
def _setup_annotate(p: argparse.ArgumentParser) -> None:
    p.description = (
        "The annotation workbench on a long 1 kHz session served by uvicorn: the first view "
        "(cold: traces read from disk; target ≤ 500 ms) and zoom/pan answers over HTTP "
        "(target p95 ≤ 150 ms)."
    )
    p.add_argument("--seconds", type=float, default=3600.0, help="session length (default 1 h)")
    p.add_argument("--zooms", type=int, default=200, help="zoom/pan requests to time")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_annotate)


def _cmd_annotate(args: argparse.Namespace) -> int:
    from haptics.bench.annotate import run_annotate_bench

    check_range("--seconds", args.seconds, 24 * 3600.0, "s")
    if args.zooms < 1:
        raise ConfigError("--zooms: give at least 1")
    r = run_annotate_bench(args.seconds, args.zooms)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0

    def ok(flag: bool) -> str:
        return "[green]met[/]" if flag else "[red]missed[/]"

    t = Table(title=f"annotation workbench, {args.seconds:g} s at 1 kHz ({r['rows_per_stream']:,} "
              "rows per stream)")
    t.add_column("figure")
    t.add_column("measured")
    t.add_column("target")
    t.add_row("first view (cold)", f"{r['first_view_ms']:.0f} ms ({r['first_view_bytes']:,} B)",
              f"≤ 500 ms {ok(r['first_view_ok'])}")
    if "first_view_without_overview_ms" in r:  # the old path, in the same run
        t.add_row("first view (cold, no saved overview)",
                  f"{r['first_view_without_overview_ms']:.0f} ms", "baseline")
    t.add_row("first view (cached)", f"{r['first_view_cached_ms']:.0f} ms",
              f"≤ 500 ms {ok(r['first_view_cached_ok'])}")
    t.add_row("zoom / pan p50", f"{r['zoom_p50_ms']:.1f} ms", "")
    t.add_row("zoom / pan p95", f"{r['zoom_p95_ms']:.1f} ms (max {r['zoom_max_ms']:.0f})",
              f"≤ 150 ms {ok(r['zoom_ok'])}")
    t.add_row("largest answer", f"{r['zoom_max_bytes']:,} B", "")
    Console().print(t)
    return 0


add_bench_command(
    "annotate", "annotation workbench: first view and zoom/pan of a 1 h 1 kHz session",
    _setup_annotate,
)
