"""Rate and timing figures from timestamps: one definition for the session summary, the live
view, the loop benchmark and the plots (pure functions, numpy in, numbers out).

Every period is an argument: the caller takes the nominal rate from the session's manifest
(or the running configuration), never from a constant here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_QUANTILES: tuple[float, ...] = (50.0, 99.0, 99.9)


def quantile_name(q: float) -> str:
    """The key of quantile `q`: "p50" for 50, "p99" for 99, "p999" for 99.9."""
    return "p" + f"{q:g}".replace(".", "")


def percentiles(
    values: np.ndarray,
    qs: Sequence[float] = DEFAULT_QUANTILES,
    *,
    with_max: bool = True,
    empty: float = 0.0,
    digits: int = 2,
) -> dict[str, float]:
    """{"p50": …, "p99": …, "p999": …, "max": …} of `values`, rounded to `digits`; every
    figure is `empty` when there are no values."""
    out: dict[str, float] = {}
    if values.size == 0:
        out = {quantile_name(q): empty for q in qs}
        if with_max:
            out["max"] = empty
        return out
    v = values.astype(np.float64, copy=False)
    for q, x in zip(qs, np.percentile(v, list(qs)), strict=True):
        out[quantile_name(q)] = round(float(x), digits)
    if with_max:
        out["max"] = round(float(v.max()), digits)
    return out


def percentiles_us(
    values_ns: np.ndarray, qs: Sequence[float] = DEFAULT_QUANTILES
) -> dict[str, float]:
    """`percentiles` of nanosecond values, in microseconds (with the max)."""
    return percentiles(values_ns.astype(np.float64) / 1e3, qs)


def period_ns(rate_hz: float) -> int:
    """The period of a nominal rate, in integer nanoseconds. Raises ValueError if the rate
    is not a positive finite number."""
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise ValueError(f"a rate must be positive and finite, not {rate_hz}")
    return round(1e9 / rate_hz)


def period_or_median_ns(times_ns: np.ndarray, rate_hz: float | None) -> int:
    """The nominal period of `rate_hz` when it is known, else the median interval of
    `times_ns` (1 ns with fewer than two times): what period errors are measured against."""
    if rate_hz is not None:
        return period_ns(rate_hz)
    if times_ns.size < 2:
        return 1
    return max(1, round(float(np.median(np.diff(times_ns.astype(np.int64))))))


def period_errors_ns(times_ns: np.ndarray, period: int) -> np.ndarray:
    """|interval − period| for each pair of consecutive timestamps (one fewer than times)."""
    if times_ns.size < 2:
        return np.zeros(0, dtype=np.float64)
    return np.abs(np.diff(times_ns.astype(np.int64)) - period).astype(np.float64)


def measured_rate_hz(times_ns: np.ndarray) -> float:
    """Events per second over the span of the timestamps; 0.0 with fewer than two or no span."""
    if times_ns.size < 2:
        return 0.0
    span = float(int(times_ns[-1]) - int(times_ns[0]))
    return (times_ns.size - 1) * 1e9 / span if span > 0 else 0.0


def magnitude(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """|(x, y, z)| row by row; values too large to square give inf, not a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        out: np.ndarray = np.sqrt(x.astype(np.float64) ** 2 + y**2 + z**2)
    return out


def loop_figures(wake_ns: np.ndarray, period: int) -> dict[str, Any]:
    """Rate (Hz, 3 decimals) and period-error percentiles (µs) of a loop from its tick wake
    times and nominal period in ns."""
    return {
        "rate_hz": round(measured_rate_hz(wake_ns), 3),
        "period_error_us": percentiles_us(period_errors_ns(wake_ns, period)),
    }
