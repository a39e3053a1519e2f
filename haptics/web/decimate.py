"""Min/max decimation of a time series for one zoom window: pure functions.

A trace sent to the browser never holds more than two points per pixel column, whatever the
zoom: per column the minimum and the maximum of the samples that fall in it, so every spike
stays visible. `tsdownsample` does it in SIMD; the numpy version handles traces with NaN and
is the reference the tests compare with.
"""

from __future__ import annotations

import numpy as np
from tsdownsample import MinMaxDownsampler  # SIMD: ~30x numpy's speed on an hour at 1 kHz

MAX_WIDTH = 4000  # pixel columns a client may ask for


def window_slice(t: np.ndarray, t0: int, t1: int) -> slice:
    """The index range of the sorted times `t` inside [t0, t1] (one sample beyond each
    edge, so a line reaches the plot's border)."""
    i0 = int(np.searchsorted(t, t0, side="left"))
    i1 = int(np.searchsorted(t, t1, side="right"))
    return slice(max(0, i0 - 1), min(t.size, i1 + 1))


def minmax(
    t: np.ndarray, y: np.ndarray, t0: int, t1: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """(times, values) of `y(t)` in [t0, t1] reduced to at most 2 × width points: in each of
    `width` equal time columns the samples' min and max, in time order. A window holding
    fewer than 2 × width samples comes back whole."""
    sl = window_slice(t, t0, t1)
    tw, yw = t[sl], y[sl]
    if tw.size <= 2 * width:
        return tw, yw
    if np.isfinite(yw).all():  # tsdownsample's min/max would skip NaN columns' edges
        idx = MinMaxDownsampler().downsample(  # type: ignore[no-untyped-call]
            np.ascontiguousarray(tw), np.ascontiguousarray(yw, dtype=np.float64), n_out=2 * width
        )
        return tw[idx], yw[idx]
    return minmax_numpy(tw, yw, t0, t1, width)


def minmax_numpy(
    tw: np.ndarray, yw: np.ndarray, t0: int, t1: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """`minmax` in plain numpy on samples already cut to the window."""
    span = max(1, t1 - t0)
    col = np.clip((tw - t0) * width // span, 0, width - 1)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ends = np.r_[starts[1:], tw.size]
    # argmin/argmax per column via reduceat on the values, then the first matching index
    lo = np.fmin.reduceat(yw, starts)  # fmin/fmax: NaN samples are skipped
    hi = np.fmax.reduceat(yw, starts)
    idx_lo = _first_index(yw, starts, ends, lo)
    idx_hi = _first_index(yw, starts, ends, hi)
    idx = np.sort(np.unique(np.concatenate([idx_lo, idx_hi])))
    return tw[idx], yw[idx]


def _first_index(
    y: np.ndarray, starts: np.ndarray, ends: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Per segment [start, end), the index of the first sample equal to `target` (the
    segment's start when none is, e.g. an all-NaN column)."""
    seg = np.repeat(np.arange(starts.size), ends - starts)
    hit = y == target[seg]
    # first hit per segment: the smallest index among hits of that segment
    pos = np.flatnonzero(hit)
    first = np.full(starts.size, -1, dtype=np.int64)
    if pos.size:
        segs = seg[pos]
        keep = np.r_[True, segs[1:] != segs[:-1]]
        first[segs[keep]] = pos[keep]
    return np.where(first >= 0, first, starts)
