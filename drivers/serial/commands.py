"""The serial driver family's CLI commands, reached through the `haptics.commands` entry
points (see pyproject.toml), so the core CLI names no driver:

- `haptics devices list|test`: find serial devices and emulators; measure a device link
  (a paddle: rate, round trip, losses, watchdog; a taxel board: frame rate, losses, CRC
  errors, stalls — told apart by the handshake);
- `haptics emulator start paddle|taxel`: the firmware emulator on a pseudo-terminal.

The work is done in `drivers.serial.check` and `drivers.serial.emulator`, imported only when a
command runs, so `haptics --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table


def register_devices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("devices", help="list serial devices and emulators; test a device link")
    ds = p.add_subparsers(dest="devices_cmd", required=True)
    ls = ds.add_parser("list", help="serial ports and running firmware emulators")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    t = ds.add_parser("test", help="measure a device link: rate, round trip, losses, watchdog "
                                   "(a taxel board: frame rate, losses, CRC errors, stalls)")
    t.add_argument("port", help="port path or pyserial URL (a 'serial:' prefix is accepted)")
    t.add_argument("--duration", type=float, default=10.0, help="seconds of streaming (10)")
    t.add_argument("--rate", type=float, default=1000.0, help="command rate in Hz (1000)")
    t.add_argument("--no-watchdog-check", dest="watchdog_check", action="store_false",
                   help="skip the firmware watchdog test")
    t.add_argument("--no-realtime", dest="realtime", action="store_false",
                   help="do not ask for real-time scheduling of the test loop")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_test)


def cmd_list(args: argparse.Namespace) -> int:
    from drivers.serial.check import list_ports

    ports = list_ports()
    if args.json:
        print(json.dumps(ports, indent=2))
        return 0
    console = Console()
    if not ports:
        console.print("no serial ports and no running emulators "
                      "(start one with `haptics emulator start paddle`)")
        return 0
    t = Table(title="devices")
    for col in ("port", "kind", "description"):
        t.add_column(col)
    for p in ports:
        t.add_row(str(p["port"]), str(p["kind"]), str(p.get("description") or ""))
    console.print(t)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from drivers.serial.check import evaluate, run_device_test

    port = args.port.removeprefix("serial:")
    if args.json:
        result = run_device_test(port, args.duration, args.rate, args.watchdog_check,
                                 realtime=args.realtime)
    else:
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"testing {port}", total=1.0)
            result = run_device_test(port, args.duration, args.rate, args.watchdog_check,
                                     realtime=args.realtime,
                                     progress=lambda f: progress.update(task, completed=f))
    verdict = evaluate(result)
    result["verdict"] = verdict
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_result(result)
    return 0 if verdict["ok"] else 1


def _print_result(r: dict[str, Any]) -> None:
    if r.get("kind") == "taxel":
        _print_taxel_result(r)
        return
    console = Console()
    dev = r["device"]
    console.print(f"[bold]{dev['model']}[/] on {r['port']}: firmware {dev['firmware_version']}, "
                  f"serial {dev['serial']}, {dev['provenance']}")
    v = r["verdict"]

    def mark(key: str) -> str:
        return "[green]ok[/]" if v.get(key) else "[red]FAIL[/]"

    rtt = r["rtt_us"]
    sched = "real-time" if r.get("realtime") else "normal"
    t = Table(title=f"{r['duration_s']:g} s at {r['command_rate_hz']:g} Hz ({sched} scheduling)")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("")
    t.add_row("STATE rate", f"{r['rate_hz']} Hz", "")
    t.add_row("round trip p50", f"{rtt['p50']} µs", mark("rtt_p50"))
    t.add_row("round trip p99", f"{rtt['p99']} µs", mark("rtt_p99"))
    t.add_row("round trip max", f"{rtt['max']} µs", "")
    t.add_row("link lost", str(r["link_lost"]), mark("link_kept"))
    t.add_row("frames lost", str(r["frames_lost"]), mark("frames_lost"))
    t.add_row("CRC errors", str(r["crc_errors"]), mark("crc_errors"))
    t.add_row("framing errors", str(r["framing_errors"]), "")
    if "watchdog" in r:
        w = r["watchdog"]
        t.add_row("watchdog", f"tripped after {w['tripped_after_ms']} ms "
                  f"(period {w['period_ms']:g} ms), force zeroed: {w['force_zeroed']}, "
                  f"latched: {w['fault_latched']}", mark("watchdog"))
    console.print(t)
    if r.get("link_lost"):
        console.print(f"[red]the device went silent {r['link_lost']} time(s) during the test[/] "
                      "and was reconnected, disarmed: the figures after that are not the "
                      "link's. Check the cable and the board's power, and that nothing else "
                      "loads this host, then run the test again.")
    console.print("[green]all checks passed[/]" if v["ok"] else "[red]some checks failed[/]")


def _print_taxel_result(r: dict[str, Any]) -> None:
    console = Console()
    dev = r["device"]
    console.print(f"[bold]taxel board {dev['rows']}x{dev['cols']}[/] "
                  f"({dev['pitch_m'] * 1e3:g} mm pitch, full scale "
                  f"{dev['max_count'] * dev['pressure_lsb_pa'] / 1e3:.1f} kPa) on {r['port']}: "
                  f"firmware {dev['firmware_version']}, serial {dev['serial']}, "
                  f"{dev['provenance']}")
    v = r["verdict"]

    def mark(key: str) -> str:
        return "[green]ok[/]" if v.get(key) else "[red]FAIL[/]"

    t = Table(title=f"{r['duration_s']:g} s of frames")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("")
    t.add_row("frame rate (board clock)", f"{r['rate_hz']} Hz "
              f"(advertised {r['expected_rate_hz']:g})", mark("rate"))
    t.add_row("frame rate (host clock)", f"{r['host_rate_hz']} Hz", "")
    t.add_row("frames", str(r["frames"]), mark("frames"))
    t.add_row("frames lost", str(r["frames_lost"]), mark("frames_lost"))
    t.add_row("CRC errors", str(r["crc_errors"]), mark("crc_errors"))
    t.add_row("framing / length errors", f"{r['framing_errors']} / {r['length_errors']}", "")
    t.add_row("chunks refused", str(r["bad_chunks"]), "")
    t.add_row("stalls", f"{r['stalls']} (longest gap {r['longest_gap_ms']} ms on the board, "
              f"{r['host_longest_gap_ms']} ms on arrival)", mark("stalls"))
    pr = r["pressure"]
    t.add_row("pressure max", f"{pr['max_kpa']} kPa", "")
    t.add_row("taxels in contact (mean)", str(pr["mean_contact_taxels"]), "")
    console.print(t)
    console.print("[green]all checks passed[/]" if v["ok"] else "[red]some checks failed[/]")


def register_emulator(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("emulator", help="run the device firmware emulator on a pseudo-terminal")
    es = p.add_subparsers(dest="emulator_cmd", required=True)
    st = es.add_parser("start", help="start an emulated device; runs until Ctrl-C")
    st.add_argument("kind", choices=["paddle", "taxel"],
                    help="device to emulate: a 1-DoF haptic paddle or a taxel-matrix board")
    st.add_argument("--rate", type=float, default=None,
                    help="paddle: STATE rate in Hz (1000); taxel: frame rate in Hz (200)")
    st.add_argument("--rows", type=int, default=None, help="taxel: matrix rows, 1..64 (16)")
    st.add_argument("--cols", type=int, default=None, help="taxel: matrix columns, 1..64 (16)")
    st.add_argument("--pitch-mm", type=float, default=None, help="taxel: taxel spacing (2)")
    st.add_argument("--watchdog-ms", type=int, default=100,
                    help="firmware command watchdog period (100)")
    st.add_argument("--link", default=None,
                    help="also make this path a symlink to the pty: a port name that survives "
                         "restarts")
    st.add_argument("--realtime", action="store_true",
                    help="real-time scheduling for the emulator (needs privileges)")
    st.set_defaults(func=cmd_start)


def cmd_start(args: argparse.Namespace) -> int:
    from drivers.serial.emulator import start_emulator

    stop: list[int] = []  # a plain flag: taking a lock in a signal handler can deadlock

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    from drivers.serial.emulator import DEFAULT_RATE_HZ

    taxel = args.kind == "taxel"
    rate = args.rate if args.rate is not None else DEFAULT_RATE_HZ[args.kind]
    geometry = {"rows": args.rows, "cols": args.cols, "pitch_mm": args.pitch_mm}
    if not taxel and any(v is not None for v in geometry.values()):
        Console(stderr=True).print("--rows, --cols and --pitch-mm are for `emulator start taxel`")
        return 2
    emu = start_emulator(args.kind, rate_hz=rate, watchdog_ms=args.watchdog_ms,
                         link=args.link, realtime=args.realtime, **geometry)
    try:
        print(emu.port, flush=True)
        what = (f"{rate:g} Hz frames, {args.rows or 16}x{args.cols or 16} taxels" if taxel
                else f"{rate:g} Hz, watchdog {args.watchdog_ms} ms")
        Console(stderr=True).print(
            f"emulated {args.kind} on [bold]{emu.port}[/] ({what}). "
            f"Try `haptics devices test {emu.port}`. Ctrl-C stops it.")
        while not stop:
            if not emu.running():
                Console(stderr=True).print(f"[red]emulator exited[/]: {emu.stderr_text()[-500:]}")
                return 1
            time.sleep(0.1)
        return 0
    finally:
        emu.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.stdout.flush()
