"""The live view of a running session: rate, period error, force and contact, from telemetry.

The CLI is just another telemetry subscriber; it never touches the loop's process. It wakes
a few times a second, drains everything waiting and decodes it in one numpy call, so it
costs ~1 % of a core and leaves the device and recorder alone.

A session with a tactile array adds a small pressure map of its newest frame
(`heatmap_lines`). The view subscribes to the tactile stream's endpoint, the one the recorder
records from, with a conflated socket (`TactileFeed`): ZeroMQ keeps only the newest frame for
it, so it decodes one frame per refresh whatever the array's rate, and the recorder's own
deep subscription is untouched. Beside the map: the frame's maximum, and its background-removed
contrast against the probe's shape from the last frames in contact it saw (as the session
plot draws it, `haptics.session.pressure`), once it has seen enough of them.
`tactile_feeds(run)` opens one feed per tactile stream of a running session;
`LiveStats.watch_tactile` shows them.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import zmq
from rich.table import Table

from haptics.devices.registry import load_driver, split_device_spec
from haptics.session.figures import (
    magnitude,
    measured_rate_hz,
    percentiles_us,
    period_errors_ns,
)
from haptics.wire.messages import TELEMETRY, Layout
from haptics.wire.transport import drain_latest, subscriber

if TYPE_CHECKING:
    from haptics.runtime.orchestrator import SessionRun

# from low to high pressure; a taxel that is not finite shows as "×"
SHADES = " ░▒▓█"
CONTACT_KPA = 0.5  # a frame whose median taxel reads more is in contact
MIN_PRESSED = 6  # frames in contact before the live contrast is shown


def _block_means(frame: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """`frame` averaged over a rows × cols grid of (nearly) equal blocks, NaN-aware."""
    out = np.full((rows, cols), np.nan)
    r_edges = np.linspace(0, frame.shape[0], rows + 1).astype(int)
    c_edges = np.linspace(0, frame.shape[1], cols + 1).astype(int)
    for i in range(rows):
        for j in range(cols):
            block = frame[r_edges[i] : r_edges[i + 1], c_edges[j] : c_edges[j + 1]]
            finite = block[np.isfinite(block)]
            if finite.size:
                out[i, j] = float(finite.mean())
    return out


def heatmap_lines(frame: np.ndarray, width: int = 16, height: int = 8) -> list[str]:
    """A pressure frame (rows, cols) as block-character lines, at most `width` characters
    by `height` lines (block means when the grid is larger; a terminal cell is about twice
    as tall as wide, so 16 × 8 shows a square 16 × 16 array square).

    Shades run from blank (0 kPa or less) to full block (the frame's maximum); "×" marks a
    block with no finite taxel. The first line is the highest row (+y up, as the session
    plot draws it). A frame of all zeros (no contact) is blank lines. Pure: no I/O.
    """
    a = np.asarray(frame, dtype=float)
    if a.ndim != 2 or a.size == 0:
        return []
    rows, cols = min(height, a.shape[0]), min(width, a.shape[1])
    means = _block_means(a, rows, cols)
    finite = means[np.isfinite(means)]
    top = float(finite.max()) if finite.size else 0.0
    top_level = len(SHADES) - 1
    lines: list[str] = []
    for r in range(rows - 1, -1, -1):
        chars = []
        for v in means[r]:
            if not np.isfinite(v):
                chars.append("×")
            elif top <= 0.0 or v <= 0.0:
                chars.append(SHADES[0])
            else:
                chars.append(SHADES[min(top_level, max(1, math.ceil(v / top * top_level)))])
        lines.append("".join(chars))
    return lines


class TactileFeed:
    """The newest frame of one tactile stream, from a conflated subscription, and the last
    `keep` frames in contact it polled (for `contrast`)."""

    def __init__(self, sock: zmq.Socket[bytes], layout: Layout, name: str, keep: int = 40) -> None:
        self.sock, self.layout, self.name = sock, layout, name
        self.frame: np.ndarray | None = None  # the newest frame seen (kPa), None before any
        self.pressed: deque[np.ndarray] = deque(maxlen=keep)

    @classmethod
    def connect(
        cls, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, layout: Layout, name: str
    ) -> TactileFeed:
        return cls(subscriber(ctx, endpoint, conflate=True), layout, name)

    def poll(self) -> np.ndarray | None:
        """Take the waiting frame, if any (never blocks); the newest frame seen so far."""
        newest, _ = drain_latest(self.sock)
        if newest is not None:
            rows = self.layout.to_array([newest])
            if rows.size:
                self.frame = np.asarray(rows["pressure_kpa"][0], dtype=float)
                finite = self.frame[np.isfinite(self.frame)]
                if finite.size and float(np.median(finite)) > CONTACT_KPA:
                    self.pressed.append(self.frame)
        return self.frame

    def contrast(self) -> float | None:
        """The newest frame's background-removed contrast (kPa,
        `haptics.session.pressure.contrast_kpa`) against the probe's shape taken from the
        frames in contact this feed polled lately; None until it has `MIN_PRESSED` of them
        or when the newest frame is not in contact."""
        if self.frame is None or len(self.pressed) < MIN_PRESSED:
            return None
        if self.pressed[-1] is not self.frame:
            return None
        from haptics.session.pressure import background_shape, contrast_kpa  # scipy: lazily

        shape = background_shape(np.stack(self.pressed), CONTACT_KPA)
        return float(contrast_kpa(self.frame, shape)[0]) if shape is not None else None

    def close(self) -> None:
        self.sock.close(0)


def tactile_feeds(run: SessionRun) -> list[TactileFeed]:
    """A feed for each tactile stream of a started session's sense-only devices (their
    declared layouts, at the endpoints the recorder records from); [] when there is none."""
    feeds: list[TactileFeed] = []
    for spec, endpoints, names in run.sensors.values():
        driver, argument = split_device_spec(spec)
        for decl in load_driver(driver).schema(argument).streams:
            layout = Layout.from_spec(decl.layout)
            if layout.name != "tactile" or decl.name not in endpoints:
                continue
            name = next((k for k, v in names.items() if v == decl.name), decl.name)
            feeds.append(TactileFeed.connect(run.ctx, endpoints[decl.name], layout, name))
    return feeds


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
        self.tactile: list[TactileFeed] = []

    def watch_tactile(self, feeds: list[TactileFeed]) -> None:
        """Show the newest frame of each of these feeds under the figures (none: no map)."""
        self.tactile = list(feeds)

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
        for feed in self.tactile:
            feed.poll()

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
        for feed in self.tactile:
            if feed.frame is not None:
                finite = feed.frame[np.isfinite(feed.frame)]
                top = float(finite.max()) if finite.size else float("nan")
                contrast = feed.contrast()
                extra = f"\n[dim]contrast {contrast:.2f} kPa[/]" if contrast is not None else ""
                t.add_row(
                    f"{feed.name}\n[dim]max {top:.1f} kPa[/]{extra}",
                    "\n".join(heatmap_lines(feed.frame)),
                )
        return t
