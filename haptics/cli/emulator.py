"""`haptics emulator start paddle`: the firmware emulator on a pseudo-terminal.

Prints the port path on stdout and keeps running until Ctrl-C or SIGTERM. drivers.serial is
imported only when the command runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from rich.console import Console


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("emulator", help="run the device firmware emulator on a pseudo-terminal")
    es = p.add_subparsers(dest="emulator_cmd", required=True)
    st = es.add_parser("start", help="start an emulated device; runs until Ctrl-C")
    st.add_argument("kind", choices=["paddle"], help="device to emulate")
    st.add_argument("--rate", type=float, default=1000.0, help="STATE rate in Hz (1000)")
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
    emu = start_emulator(args.kind, rate_hz=args.rate, watchdog_ms=args.watchdog_ms,
                         link=args.link, realtime=args.realtime)
    try:
        print(emu.port, flush=True)
        Console(stderr=True).print(
            f"emulated {args.kind} on [bold]{emu.port}[/] ({args.rate:g} Hz, watchdog "
            f"{args.watchdog_ms} ms). Try `haptics devices test {emu.port}`. Ctrl-C stops it.")
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
