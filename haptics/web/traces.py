"""The session view's data: a session's signals as (time, value) lines, decimated for one
zoom window.

A window is cut from the session's overview (`haptics.session.overview`: min/max per block
at a few levels, kept beside the session) whenever its coarsest level that still has
`BLOCKS_PER_COLUMN` blocks per pixel column covers it; the whole hour reads only that file.
Deeper zooms need every sample: those of a stream are read once, on demand (the stream
files are memory-mapped Arrow), and kept; `SessionTraces.load_full` reads them all ahead.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import numpy as np

from haptics.session.overview import (
    Overview,
    SignalOverview,
    build_overview,
    read_overview,
    save_overview,
)
from haptics.session.reading import Session
from haptics.session.signals import Signal, session_signals, signal_values
from haptics.web.decimate import minmax, window_slice

BLOCKS_PER_COLUMN = 2  # a level serves a window when each pixel column spans this many blocks

MAX_EVENTS = 2000  # event instants sent for one window

Samples = tuple[np.ndarray, np.ndarray]


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


class SessionTraces:
    """One session's lines for the view: its overview at once, its full-resolution samples
    stream by stream when a zoom needs them. Safe to use from several threads."""

    def __init__(
        self, session: Session, overview: Overview, full: dict[Signal, Samples] | None = None
    ) -> None:
        self.session = session
        self.overview = overview
        self._full: dict[Signal, Samples] = dict(full or {})
        self._lock = threading.Lock()

    @property
    def signals(self) -> list[Signal]:
        return [so.signal for so in self.overview.signals]

    @property
    def panels(self) -> list[str]:
        """The panels in display order (core ones first, then one per other stream)."""
        return list(dict.fromkeys(s.panel for s in self.signals))

    def full(self, signal: Signal) -> Samples:
        """Every sample of one signal; the first call reads its stream (every signal of that
        stream at once). Raises SessionError if the stream cannot be read."""
        got = self._full.get(signal)
        if got is not None:
            return got
        with self._lock:
            if signal not in self._full:
                read: dict[tuple[str, str], np.ndarray] = {}
                for s in self.signals:
                    if s.stream == signal.stream and s not in self._full:
                        self._full[s] = signal_values(self.session, s, read)
            return self._full[signal]

    def load_full(self) -> None:
        """Read every full-resolution sample the overview does not already hold (for
        deep zooms without waiting). Raises SessionError if a stream cannot be read."""
        for so in self.overview.signals:
            if so.levels and so.levels[0].block == 1:
                continue
            self.full(so.signal)

    @property
    def fully_loaded(self) -> bool:
        return all(
            so.signal in self._full or (so.levels and so.levels[0].block == 1)
            for so in self.overview.signals
        )

    def decimated(self, so: SignalOverview, t0: int, t1: int, width: int) -> tuple[Samples, int]:
        """(`decimate.minmax` of one signal over [t0, t1], the block size it was cut from:
        1 for every sample). The coarsest level with `BLOCKS_PER_COLUMN` blocks per column in
        the window gives the same extremes as every sample (a block straddling two columns
        lends its extreme to one of them)."""
        need = 2 * BLOCKS_PER_COLUMN * width  # points: 2 per block
        for level in reversed(so.levels):
            i0, i1 = np.searchsorted(level.t, [t0, t1])
            if level.block == 1 or (i1 - i0) >= need:
                return minmax(level.t, level.y, t0, t1, width), level.block
        t, y = self.full(so.signal)
        return minmax(t, y, t0, t1, width), 1

    def view(self, t0: int, t1: int, width: int) -> dict[str, Any]:
        """Every line decimated to `width` columns over [t0, t1] ns, and the events in it.
        Samples go out as base64 of little-endian arrays (no float formatting on either
        side): `t_ms` float64 ms from t0, `y` float32. `panels` lists the panels in display
        order; each line says which `stream` it comes from and the `block` it was cut from
        (1: every sample). Raises SessionError if a stream needed cannot be read."""
        lines = []
        for so in self.overview.signals:
            (t, y), block = self.decimated(so, t0, t1, width)
            sig = so.signal
            lines.append(
                {
                    "panel": sig.panel,
                    "name": sig.name,
                    "unit": sig.unit,
                    "stream": sig.stream,
                    "block": block,
                    "n": int(t.size),
                    "t_ms": _b64(((t - t0) / 1e6).astype("<f8")),
                    "y": _b64(y.astype("<f4")),
                }
            )
        ev_t, ev_b = self.overview.event_t, self.overview.event_bits
        sl = window_slice(ev_t, t0, t1)
        et, eb = ev_t[sl][:MAX_EVENTS], ev_b[sl][:MAX_EVENTS]
        inside = (et >= t0) & (et <= t1)
        return {
            "t0_ns": t0,
            "t1_ns": t1,
            "width": width,
            "panels": self.panels,
            "traces": lines,
            "events": [
                {"t_ns": int(a), "bits": int(b)}
                for a, b in zip(et[inside], eb[inside], strict=True)
            ],
        }


def open_traces(session: Session) -> SessionTraces:
    """A session's traces: from the overview kept beside it when it is current (reads a
    few MB); else every stream is read, the overview built and kept for next time, and the
    samples read stay in memory. Raises SessionError if a stream cannot be read."""
    ov = read_overview(session)
    if ov is not None:
        return SessionTraces(session, ov)
    read: dict[tuple[str, str], np.ndarray] = {}
    full = {s: signal_values(session, s, read) for s in session_signals(session)}
    ov = build_overview(session, full)
    save_overview(session, ov)
    return SessionTraces(session, ov, full)
