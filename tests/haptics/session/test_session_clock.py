"""The device-to-host clock fit."""

import numpy as np
import pytest

from haptics.session.clock import clock_mapping


def test_clock_mapping_recovers_offset_and_drift() -> None:
    device = np.arange(0, 10_000) * 1_000_000
    host = 5_000_000 + (device * (1 + 50e-6)).astype(np.int64)
    fit = clock_mapping(device, host)
    assert fit["drift_ppm"] == pytest.approx(50.0, abs=0.01)
    assert fit["offset_ns"] == pytest.approx(5_000_000, abs=2)
    assert fit["residual_p99_us"] < 0.01


def test_too_few_samples_give_a_zero_fit() -> None:
    assert clock_mapping(np.zeros(1), np.zeros(1))["drift_ppm"] == 0.0
