"""The device-to-host clock fit."""

import numpy as np
import pytest

from haptics.session.clock import clock_mapping, live_samples
from haptics.wire.messages import STATUS_ARMED, STATUS_LINK_HELD


def test_clock_mapping_recovers_offset_and_drift() -> None:
    device = np.arange(0, 10_000) * 1_000_000
    host = 5_000_000 + (device * (1 + 50e-6)).astype(np.int64)
    fit = clock_mapping(device, host)
    assert fit["drift_ppm"] == pytest.approx(50.0, abs=0.01)
    assert fit["offset_ns"] == pytest.approx(5_000_000, abs=2)
    assert fit["residual_p99_us"] < 0.01


def test_too_few_samples_give_a_zero_fit() -> None:
    assert clock_mapping(np.zeros(1), np.zeros(1))["drift_ppm"] == 0.0


def test_held_samples_of_a_teleoperation_link_are_left_out_of_the_fit() -> None:
    """While a link is down the follower repeats the last sample (its device time frozen,
    host time running on): those rows would bend the fit; `live_samples` leaves them out."""
    device = np.arange(0, 4_000) * 1_000_000
    host = 2_000_000 + device
    status = np.full(device.shape, STATUS_ARMED, dtype=np.uint32)
    down = slice(1_000, 1_300)
    device[down] = device[999]  # repeated while held
    status[down] |= STATUS_LINK_HELD
    bent = clock_mapping(device, host)
    live = live_samples(status)
    fit = clock_mapping(device[live], host[live])
    assert int(np.count_nonzero(~live)) == 300
    assert fit["residual_p99_us"] < 0.01 < bent["residual_p99_us"]
    assert fit["offset_ns"] == pytest.approx(2_000_000, abs=2)
