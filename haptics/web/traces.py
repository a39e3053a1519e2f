"""The session view's data: a session's signals as (time, value) traces, decimated for one
zoom window.

Traces are computed once per session (force magnitudes, position) and kept; each view then
cuts and decimates them (`decimate.minmax`), so a request costs the window, not the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from haptics.session.reading import Session
from haptics.web.decimate import minmax, window_slice

MAX_EVENTS = 2000  # event instants sent for one window


@dataclass(frozen=True)
class Trace:
    """One plotted line: its panel (plots stack by panel), name, unit and samples."""

    panel: str
    name: str
    unit: str
    t_ns: np.ndarray
    y: np.ndarray


def _norm(a: dict[str, np.ndarray], x: str, y: str, z: str) -> np.ndarray:
    return np.asarray(np.sqrt(a[x] ** 2 + a[y] ** 2 + a[z] ** 2), dtype=np.float64)


def session_traces(session: Session) -> tuple[list[Trace], np.ndarray, np.ndarray]:
    """(traces, event times ns, event bits) of a session: position, force commanded,
    rendered and applied, contact depth, and every other numeric stream column is left out
    for now (see the report). Streams a session lacks give no trace."""
    names = set(session.stream_names)
    out: list[Trace] = []
    ev_t = np.zeros(0, dtype=np.int64)
    ev_b = np.zeros(0, dtype=np.int64)
    if "state" in names:
        st = session.arrays("state")
        t = st["host_time_ns"].astype(np.int64)
        for c in ("px", "py", "pz"):
            out.append(Trace("position", c, "m", t, st[c].astype(np.float64)))
        if "afx" in st:
            out.append(Trace("force", "applied", "N", t, _norm(st, "afx", "afy", "afz")))
    if "command" in names:
        cm = session.arrays("command")
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
        tel = session.arrays("telemetry")
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
    Times go out as ms from t0 (floats: small numbers, exact to the ns for an hour)."""
    lines = []
    for tr in traces:
        t, y = minmax(tr.t_ns, tr.y, t0, t1, width)
        lines.append(
            {
                "panel": tr.panel,
                "name": tr.name,
                "unit": tr.unit,
                "t_ms": ((t - t0) / 1e6).round(6).tolist(),
                "y": np.round(y, 9).tolist(),
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
