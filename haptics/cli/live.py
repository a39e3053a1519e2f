"""The live view of a running session: rate, period error, force and contact, from telemetry.

The CLI is just another telemetry subscriber; it never touches the loop's process.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import zmq
from rich.table import Table

from haptics.messages import TELEMETRY

_I = {name: i for i, name in enumerate(TELEMETRY.names)}
WAKE, COMPUTE, MISSED, CONTACT = _I["wake_ns"], _I["compute_ns"], _I["missed_ticks"], _I["contact"]
INCLUSION, DEPTH, FX, TOOL_X = _I["inclusion"], _I["depth_m"], _I["fx"], _I["tool_x"]


def _force(t: tuple[float | int, ...]) -> float:
    return math.sqrt(float(t[FX]) ** 2 + float(t[FX + 1]) ** 2 + float(t[FX + 2]) ** 2)


class LiveStats:
    """Rolling figures over the last `window` ticks of telemetry."""

    def __init__(self, period_ns: int, window: int = 2000) -> None:
        self.period_ns = period_ns
        self.wake: collections.deque[int] = collections.deque(maxlen=window)
        self.compute: collections.deque[int] = collections.deque(maxlen=window)
        self.ticks = 0
        self.missed = 0
        self.last: tuple[float | int, ...] | None = None
        self.max_force = 0.0
        self.contact_ticks = 0

    def add(self, raw: bytes) -> None:
        t = TELEMETRY.unpack(raw)
        self.ticks += 1
        self.wake.append(int(t[WAKE]))
        self.compute.append(int(t[COMPUTE]))
        self.missed += int(t[MISSED])
        self.contact_ticks += int(t[CONTACT])
        f = _force(t)
        self.max_force = max(self.max_force, f)
        self.last = t

    def drain(self, sock: zmq.Socket[bytes]) -> None:
        while True:
            try:
                self.add(sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                return

    def figures(self) -> dict[str, Any]:
        w = np.fromiter(self.wake, dtype=np.int64)
        out: dict[str, Any] = {"ticks": self.ticks, "missed": self.missed}
        if w.size > 2:
            d = np.abs(np.diff(w) - self.period_ns) / 1e3
            out["rate_hz"] = (w.size - 1) * 1e9 / float(w[-1] - w[0])
            out["err_p50"], out["err_p99"] = (float(x) for x in np.percentile(d, [50, 99]))
            out["err_max"] = float(d.max())
            out["compute_p99"] = float(np.percentile(np.fromiter(self.compute, np.int64), 99)) / 1e3
        return out

    def table(self, elapsed_s: float, duration_s: float | None, title: str) -> Table:
        fig = self.figures()
        t = Table(title=title, show_header=False, min_width=52)
        t.add_column(style="bold cyan")
        t.add_column(justify="right")
        total = f" / {duration_s:.0f} s" if duration_s else ""
        t.add_row("elapsed", f"{elapsed_s:6.1f} s{total}")
        t.add_row("loop rate", f"{fig.get('rate_hz', 0.0):8.1f} Hz")
        t.add_row(
            "period error p50 / p99 / max",
            f"{fig.get('err_p50', 0):.1f} / {fig.get('err_p99', 0):.1f} / "
            f"{fig.get('err_max', 0):.0f} µs",
        )
        t.add_row("tick compute p99", f"{fig.get('compute_p99', 0):.1f} µs")
        t.add_row("missed ticks", str(self.missed))
        if self.last is not None:
            x = self.last
            force = _force(x)
            t.add_row("force now / max", f"{force:5.2f} / {self.max_force:5.2f} N")
            contact = "[green]contact[/]" if x[CONTACT] else "[dim]free[/]"
            extra = "  [yellow]over inclusion[/]" if x[INCLUSION] else ""
            t.add_row("contact", f"{contact}  depth {float(x[DEPTH]) * 1e3:5.2f} mm{extra}")
            t.add_row(
                "tool (mm)", " ".join(f"{float(v) * 1e3:6.1f}" for v in x[TOOL_X : TOOL_X + 3])
            )
        return t
