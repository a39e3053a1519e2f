"""The live view of a running session: rate, period error, force and contact, from telemetry.

The CLI is just another telemetry subscriber; it never touches the loop's process. It wakes
a few times a second, drains everything waiting and decodes it in one numpy call, so it
costs ~1 % of a core and leaves the device and recorder alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import zmq
from rich.table import Table

from haptics.session.figures import (
    magnitude,
    measured_rate_hz,
    percentiles_us,
    period_errors_ns,
)
from haptics.wire.messages import TELEMETRY


class LiveStats:
    """Rolling figures over the last `window` ticks of telemetry (figures as in
    `haptics.session.figures`; `period_ns` from the running loop's configured rate)."""

    def __init__(self, period_ns: int, window: int = 2000) -> None:
        self.period_ns = period_ns
        self.window = window
        self.recent = np.zeros(0, dtype=TELEMETRY.dtype)
        self.ticks = 0
        self.missed = 0
        self.max_force = 0.0

    def add(self, payloads: list[bytes]) -> None:
        """Account for a batch of raw telemetry messages."""
        if not payloads:
            return
        arr = TELEMETRY.to_array(payloads)
        self.ticks += arr.size
        self.missed += int(arr["missed_ticks"].sum())
        f = magnitude(arr["fx"], arr["fy"], arr["fz"])
        if f.size:
            self.max_force = max(self.max_force, float(f.max()))
        self.recent = np.concatenate([self.recent, arr])[-self.window :]

    def drain(self, sock: zmq.Socket[bytes]) -> None:
        batch: list[bytes] = []
        while int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            batch.append(sock.recv(zmq.NOBLOCK))
        self.add(batch)

    def figures(self) -> dict[str, Any]:
        r = self.recent
        out: dict[str, Any] = {"ticks": self.ticks, "missed": self.missed}
        if r.size > 2:
            w = r["wake_ns"]
            err = percentiles_us(period_errors_ns(w, self.period_ns), (50.0, 99.0))
            out["rate_hz"] = measured_rate_hz(w)
            out["err_p50"], out["err_p99"], out["err_max"] = err["p50"], err["p99"], err["max"]
            out["compute_p99"] = percentiles_us(r["compute_ns"], (99.0,))["p99"]
            out["lag_p50"] = percentiles_us(r["input_lag_ns"], (50.0,))["p50"]
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
        t.add_row("input age p50", f"{fig.get('lag_p50', 0):.1f} µs")
        t.add_row("missed ticks", str(self.missed))
        if self.recent.size:
            x = self.recent[-1]
            force = math.sqrt(float(x["fx"]) ** 2 + float(x["fy"]) ** 2 + float(x["fz"]) ** 2)
            t.add_row("force now / max", f"{force:5.2f} / {self.max_force:5.2f} N")
            contact = "[green]contact[/]" if x["contact"] else "[dim]free[/]"
            extra = "  [yellow]over inclusion[/]" if x["inclusion"] else ""
            t.add_row("contact", f"{contact}  depth {float(x['depth_m']) * 1e3:5.2f} mm{extra}")
            tool = (x["tool_x"], x["tool_y"], x["tool_z"])
            t.add_row("tool (mm)", " ".join(f"{float(v) * 1e3:6.1f}" for v in tool))
        return t
