"""The session view's data: a session's signals as (time, value) traces, decimated for one
zoom window.

Traces are computed once per session (force magnitudes, position) and kept; each view then
cuts and decimates them (`decimate.minmax`), so a request costs the window, not the hour.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from haptics.session.reading import Session
from haptics.web.decimate import minmax, window_slice

LOD_BLOCK = 64  # samples per block of the coarse level (its min and max, in time order)

MAX_EVENTS = 2000  # event instants sent for one window


@dataclass(frozen=True)
class Trace:
    """One plotted line: its panel (plots stack by panel), name, unit and samples."""

    panel: str
    name: str
    unit: str
    t_ns: np.ndarray
    y: np.ndarray
    lod_t: np.ndarray = field(init=False, repr=False)
    lod_y: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lt, ly = coarse_level(self.t_ns, self.y, LOD_BLOCK)
        object.__setattr__(self, "lod_t", lt)
        object.__setattr__(self, "lod_y", ly)

    def decimated(self, t0: int, t1: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """`decimate.minmax` of this trace; wide windows (many blocks per pixel column)
        decimate the coarse level instead of every sample: the same extremes, found in a
        64th of the time (a block straddling two columns lends its extreme to one of them)."""
        i0, i1 = np.searchsorted(self.t_ns, [t0, t1])
        if (i1 - i0) > 8 * LOD_BLOCK * width:
            return minmax(self.lod_t, self.lod_y, t0, t1, width)
        return minmax(self.t_ns, self.y, t0, t1, width)


def coarse_level(t: np.ndarray, y: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of `block` samples its min and its max sample, in time order (the tail that
    fills no block is kept whole). NaN samples are skipped (an all-NaN block keeps its first
    sample)."""
    nb = t.size // block
    if nb == 0:
        return t, y
    yb = y[: nb * block].reshape(nb, block)
    finite = np.isfinite(yb)
    lo = np.argmin(np.where(finite, yb, np.inf), axis=1)
    hi = np.argmax(np.where(finite, yb, -np.inf), axis=1)
    base = np.arange(nb) * block
    idx = np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1).reshape(-1)
    idx = idx + np.repeat(base, 2)
    idx = np.concatenate([idx, np.arange(nb * block, t.size)])
    return t[idx], y[idx]


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _norm(a: dict[str, np.ndarray], x: str, y: str, z: str) -> np.ndarray:
    return np.asarray(np.sqrt(a[x] ** 2 + a[y] ** 2 + a[z] ** 2), dtype=np.float64)


def session_traces(session: Session) -> tuple[list[Trace], np.ndarray, np.ndarray]:
    """(traces, event times ns, event bits) of a session: position, force commanded,
    rendered and applied, and contact depth. Streams a session lacks give no trace."""
    names = set(session.stream_names)
    out: list[Trace] = []
    ev_t = np.zeros(0, dtype=np.int64)
    ev_b = np.zeros(0, dtype=np.int64)

    def cols(stream: str, *names: str) -> dict[str, np.ndarray]:
        have = set(session.table(stream).column_names)
        return {c: session.column_array(stream, c) for c in names if c in have}

    if "state" in names:
        st = cols("state", "host_time_ns", "px", "py", "pz", "afx", "afy", "afz")
        t = st["host_time_ns"].astype(np.int64)
        for c in ("px", "py", "pz"):
            out.append(Trace("position", c, "m", t, st[c].astype(np.float64)))
        if "afx" in st:
            out.append(Trace("force", "applied", "N", t, _norm(st, "afx", "afy", "afz")))
    if "command" in names:
        cm = cols("command", "host_time_ns", "fx", "fy", "fz")
        out.append(
            Trace(
                "force",
                "commanded",
                "N",
                cm["host_time_ns"].astype(np.int64),
                _norm(cm, "fx", "fy", "fz"),
            )
        )
    if "telemetry" in names:
        tel = cols("telemetry", "wake_ns", "rx", "ry", "rz", "depth_m", "events")
        t = tel["wake_ns"].astype(np.int64)
        out.append(Trace("force", "rendered", "N", t, _norm(tel, "rx", "ry", "rz")))
        out.append(Trace("depth", "contact depth", "m", t, tel["depth_m"].astype(np.float64)))
        hit = np.flatnonzero(tel["events"] != 0)
        ev_t, ev_b = t[hit], tel["events"][hit].astype(np.int64)
    return out, ev_t, ev_b


def view(
    traces: list[Trace],
    events: tuple[np.ndarray, np.ndarray],
    t0: int,
    t1: int,
    width: int,
) -> dict[str, Any]:
    """Every trace decimated to `width` columns over [t0, t1] ns, and the events in it.
    Samples go out as base64 of little-endian arrays (no float formatting on either side):
    `t_ms` float64 ms from t0, `y` float32."""
    lines = []
    for tr in traces:
        t, y = tr.decimated(t0, t1, width)
        lines.append(
            {
                "panel": tr.panel,
                "name": tr.name,
                "unit": tr.unit,
                "n": int(t.size),
                "t_ms": _b64(((t - t0) / 1e6).astype("<f8")),
                "y": _b64(y.astype("<f4")),
            }
        )
    ev_t, ev_b = events
    sl = window_slice(ev_t, t0, t1)
    et, eb = ev_t[sl][:MAX_EVENTS], ev_b[sl][:MAX_EVENTS]
    inside = (et >= t0) & (et <= t1)
    return {
        "t0_ns": t0,
        "t1_ns": t1,
        "width": width,
        "traces": lines,
        "events": [
            {"t_ns": int(a), "bits": int(b)} for a, b in zip(et[inside], eb[inside], strict=True)
        ],
    }
