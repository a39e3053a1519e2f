"""A session's signals for plotting: one scalar series per line, lines grouped into panels.

The core streams give the lines an annotator reads first: position (state px, py, pz),
force (commanded, rendered and applied, as magnitudes) and contact depth. Every other stream
the session holds gives its own panel (named after the stream): one line per numeric column
that carries a value (bookkeeping — sequence numbers, clocks, flags, frame numbers — left
out), and for an array column (a tactile frame) its per-row maximum and mean over the cells;
a stream with no value column (the video's frame index) shows its sample interval in ms, so
dropped frames show as spikes.

`session_signals` decides from the manifest's layouts alone, reading no data; `signal_values`
reads the columns a signal needs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from haptics.session.reading import Session
from haptics.session.streams import layout_for
from haptics.wire.messages import Layout, filled_columns

Reduce = Literal["value", "norm", "max", "mean", "interval"]

CORE_PANELS = ("position", "force", "depth")
TIME_COLUMNS = {"telemetry": "wake_ns"}  # every other stream: host_time_ns
_SKIP_NAMES = frozenset({"kind", "version", "seq", "tick", "pts", "flags", "status", "buttons"})
_SKIP_SUFFIXES = ("_seq", "_tick", "_ns")  # sequence numbers, tick numbers, clocks, durations
_UNITS = (("_kpa", "kPa"), ("_pa", "Pa"), ("_n", "N"), ("_m", "m"), ("_j", "J"), ("_s", "s"))


@dataclass(frozen=True)
class Signal:
    """One plotted line: its panel, name and unit, and how it comes from a stream: the
    `columns` of `stream` against `time_column`, reduced by `reduce` ("value": the one
    column; "norm": the length of the 3 columns; "max"/"mean": over an array column's
    cells; "interval": ms between samples)."""

    panel: str
    name: str
    unit: str
    stream: str
    time_column: str
    columns: tuple[str, ...]
    reduce: Reduce


def unit_of(column: str) -> str:
    """The unit a column's name ends with (`pressure_kpa` → kPa, `depth_m` → m), else ''."""
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return unit
    return ""


def _columns(layout: Layout, stream_layout: str, version: int) -> set[str]:
    return set(layout.names[2:]) | set(filled_columns(stream_layout, version))


def _core(name: str, layout_name: str, cols: set[str]) -> list[Signal]:
    """The curated lines of a core stream (state, command, telemetry)."""
    out: list[Signal] = []
    if layout_name == "state" and "host_time_ns" in cols:
        t = "host_time_ns"
        out += [Signal("position", c, "m", name, t, (c,), "value") for c in ("px", "py", "pz")]
        if {"afx", "afy", "afz"} <= cols:
            out.append(Signal("force", "applied", "N", name, t, ("afx", "afy", "afz"), "norm"))
    elif layout_name == "command" and "host_time_ns" in cols:
        out.append(
            Signal("force", "commanded", "N", name, "host_time_ns", ("fx", "fy", "fz"), "norm")
        )
    elif layout_name == "telemetry" and "wake_ns" in cols:
        t = "wake_ns"
        out.append(Signal("force", "rendered", "N", name, t, ("rx", "ry", "rz"), "norm"))
        out.append(Signal("depth", "contact depth", "m", name, t, ("depth_m",), "value"))
    return out


def _other(name: str, layout: Layout, panel: str) -> list[Signal]:
    """A panel for any other stream: its value columns (see the module docstring)."""
    names = layout.names[2:]
    time = TIME_COLUMNS.get(name, "host_time_ns")
    if time not in names:
        return []  # no host clock: cannot be drawn against the others
    out: list[Signal] = []
    for col in names:
        if col in _SKIP_NAMES or col.endswith(_SKIP_SUFFIXES):
            continue
        kind = layout.dtype[col].base.kind if layout.shape(col) else layout.dtype[col].kind
        if kind not in "biuf":
            continue
        unit = unit_of(col)
        if layout.shape(col):
            out.append(Signal(panel, f"{col} max", unit, name, time, (col,), "max"))
            out.append(Signal(panel, f"{col} mean", unit, name, time, (col,), "mean"))
        else:
            out.append(Signal(panel, col, unit, name, time, (col,), "value"))
    if not out:
        out.append(Signal(panel, "sample interval", "ms", name, time, (), "interval"))
    return out


def session_signals(session: Session) -> list[Signal]:
    """Every line of a session's view, panel by panel (the core panels first, then one per
    other stream, in the manifest's order). Reads the manifest only; a stream whose layout
    this haptics cannot decode gives no line."""
    core: list[Signal] = []
    other: list[Signal] = []
    for name, info in session.manifest.streams.items():
        layout = layout_for(info)
        if layout is None:
            continue
        cols = _columns(layout, info.layout, info.layout_version)
        if name == info.layout and name in ("state", "command", "telemetry"):
            core += _core(name, info.layout, cols)
        else:
            panel = name if name not in CORE_PANELS else f"{name} stream"
            other += _other(name, layout, panel)
    order = {p: i for i, p in enumerate(CORE_PANELS)}
    core.sort(key=lambda s: order[s.panel])
    return core + other


def signal_values(
    session: Session,
    signal: Signal,
    read: dict[tuple[str, str], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(times ns as int64, values as float64) of one signal, read from its stream; NaN
    where an array row has no finite cell. `read`: columns already read, by (stream,
    column), added to (signals of one stream share their time column). Raises
    SessionError if the stream or a column cannot be read."""
    read = {} if read is None else read

    def column(name: str) -> np.ndarray:
        key = (signal.stream, name)
        if key not in read:
            read[key] = session.column_array(signal.stream, name)
        return read[key]

    key = (signal.stream, f"{signal.time_column} as int64")
    if key not in read:
        read[key] = np.asarray(column(signal.time_column), dtype=np.int64)
    t = read[key]
    if signal.reduce == "interval":
        y = np.empty(t.size)
        y[:1] = np.nan
        y[1:] = np.diff(t) / 1e6
        return t, y
    cols = [column(c) for c in signal.columns]
    if signal.reduce == "norm":
        x, yy, z = (np.asarray(c, dtype=np.float64) for c in cols)
        return t, np.sqrt(x * x + yy * yy + z * z)
    a = np.asarray(cols[0], dtype=np.float64)
    if signal.reduce == "value":
        return t, a
    flat = a.reshape(a.shape[0], int(np.prod(a.shape[1:])))  # (0, cells) when empty
    flat = np.where(np.isfinite(flat), flat, np.nan)
    with warnings.catch_warnings():  # an all-NaN row is NaN, said once here
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmax(flat, axis=1) if signal.reduce == "max" else np.nanmean(flat, axis=1)
    return t, np.asarray(y, dtype=np.float64)


def session_events(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """(times ns, EVENT_* bits) of the ticks that raised an event (telemetry), empty when the
    session has no telemetry."""
    if "telemetry" not in session.manifest.streams:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ev = session.column_array("telemetry", "events")
    hit = np.flatnonzero(ev != 0)
    t = np.asarray(session.column_array("telemetry", "wake_ns"), dtype=np.int64)
    return t[hit], ev[hit].astype(np.int64)
