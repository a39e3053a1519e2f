"""Rate and period-error figures: one definition for summary, live view, bench and plots."""

import numpy as np
import pytest

from haptics.cli.live import LiveStats
from haptics.session.figures import (
    loop_figures,
    measured_rate_hz,
    percentiles,
    period_errors_ns,
    period_ns,
    period_or_median_ns,
)
from haptics.wire.messages import TELEMETRY


def test_loop_figures_are_pure() -> None:
    wake = np.arange(0, 1001) * 1_000_000
    wake[500:] += 30_000  # one period 30 µs long
    fig = loop_figures(wake, 1_000_000)
    assert fig["rate_hz"] == pytest.approx(1000 * 1000 / 1000.03, rel=1e-6)
    assert fig["period_error_us"]["max"] == pytest.approx(30.0)
    assert fig["period_error_us"]["p50"] == 0.0


def test_percentile_names_and_empty_values() -> None:
    assert percentiles(np.arange(101.0)) == {"p50": 50.0, "p99": 99.0, "p999": 99.9, "max": 100.0}
    nan = percentiles(np.zeros(0), (50.0, 99.0), with_max=False, empty=float("nan"))
    assert set(nan) == {"p50", "p99"} and all(np.isnan(v) for v in nan.values())


def test_periods_and_rates() -> None:
    assert period_ns(1000.0) == 1_000_000 and period_ns(300.0) == 3_333_333
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            period_ns(bad)
    times = np.array([0, 2_000_000, 4_000_000, 7_000_000])
    assert period_or_median_ns(times, None) == 2_000_000
    assert period_or_median_ns(times, 500.0) == 2_000_000
    assert list(period_errors_ns(times, 2_000_000)) == [0, 0, 1_000_000]
    assert measured_rate_hz(times) == pytest.approx(3 / 0.007)
    assert measured_rate_hz(np.zeros(1)) == 0.0


def test_the_live_view_shows_the_same_figures_as_the_summary() -> None:
    wake = 10**9 + np.arange(500) * 2_000_000  # a 500 Hz loop
    wake[100:] += 40_000
    stats = LiveStats(period_ns=2_000_000)
    stats.add([TELEMETRY.make(tick=i + 1, wake_ns=int(t)) for i, t in enumerate(wake)])
    live = stats.figures()
    summary = loop_figures(wake, 2_000_000)
    assert live["rate_hz"] == pytest.approx(summary["rate_hz"], abs=1e-3)
    assert live["err_max"] == summary["period_error_us"]["max"] == 40.0
    assert live["err_p50"] == summary["period_error_us"]["p50"]
