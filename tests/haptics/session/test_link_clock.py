"""The link clock fit relates two hosts' clocks from what the follower records (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from haptics.session.clock import link_clock


def test_offset_and_drift_come_back_from_a_jittered_link() -> None:
    rng = np.random.default_rng(1)
    follower_send = np.arange(5000, dtype=np.float64) * 1e8 + 7e9  # follower clock, 10 Hz
    offset, drift = -3.2e9, 40e-6  # operator = offset + (1 + drift) · follower
    one_way = 10e6 + rng.exponential(2e6, follower_send.size)  # queueing delays
    back = 10e6 + rng.exponential(2e6, follower_send.size)
    operator_send = offset + (1 + drift) * follower_send
    receiver = follower_send + one_way
    rtt = one_way + back
    fit = link_clock(operator_send.astype(np.int64), receiver.astype(np.int64),
                     rtt.astype(np.int64))  # fmt: skip
    first = follower_send[0]
    assert fit["drift_ppm"] == pytest.approx(40.0, abs=5.0)
    # the offset at the first used sample: within the asymmetry of the fastest round trips
    assert fit["offset_ns"] == pytest.approx(offset + drift * first, abs=1.5e6)
    assert fit["rtt_min_ms"] >= 20.0


def test_no_known_round_trip_is_an_error() -> None:
    with pytest.raises(ValueError, match="round trip"):
        link_clock(np.array([1, 2]), np.array([3, 4]), np.array([-1, -1]))
