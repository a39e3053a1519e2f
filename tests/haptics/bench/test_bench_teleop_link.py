"""`haptics bench teleop --link`: the figures it takes from what a session recorded (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from haptics.bench.teleop_link import (
    LinkBenchParams,
    grows,
    network_energy,
    oscillation,
    press_figures,
    stall_figures,
)
from haptics.wire.messages import COMMAND, FLAG_ARMED, STATE, STATUS_ARMED, STATUS_LINK_HELD

MS = 1_000_000


def test_network_energy_pairs_each_leader_sample_with_the_followers_newest() -> None:
    # rows: [host ns, energy in, energy out]
    leader = np.array([[0.0, 0.0, 0.0], [10.0, 1.0, 0.5], [20.0, 2.0, 3.5]])
    follower = np.array([[5.0, 0.0, 0.5], [15.0, 0.5, 1.0], [25.0, 9.0, 9.0]])
    e = network_energy(leader, follower)
    # the leader's first sample precedes the follower's first: left out
    assert e.tolist() == pytest.approx([0.5 + 0.5 - 1.0 - 0.0, 3.5 + 1.0 - 2.0 - 0.5])
    assert network_energy(leader, np.zeros((0, 3))).size == 0


def test_oscillation_compares_the_last_second_with_the_one_before() -> None:
    t = np.arange(0, 3_000) * MS  # 3 s at 1 kHz
    z = 1e-3 * np.sin(2 * np.pi * 5 * t / 1e9) * np.where(t > 2e9, 2.0, 1.0)
    last, prev = oscillation(t, z, int(3e9))
    assert last == pytest.approx(4e-3, rel=0.01) and prev == pytest.approx(2e-3, rel=0.01)
    assert grows(last, prev)
    assert not grows(prev, prev)  # the same amplitude: not growing
    assert not grows(40e-6, 1e-6)  # under 50 µm: still, whatever the ratio
    assert grows(math.nan, 1e-3)  # no data: not shown stable
    assert oscillation(t, z, int(0.5e9)) == (pytest.approx(math.nan, nan_ok=True),) * 2


def _commands(t_ms: np.ndarray, f: np.ndarray) -> np.ndarray:
    rows = [COMMAND.make(seq=i + 1, host_time_ns=int(t * MS), fz=float(x),
                         flags=FLAG_ARMED if x else 0)
            for i, (t, x) in enumerate(zip(t_ms, f, strict=True))]  # fmt: skip
    return COMMAND.to_array(rows)


def test_stall_figures_read_the_zero_and_the_ramp_back() -> None:
    t = np.arange(0, 1000)  # ms
    f = np.full(t.shape, 4.0)
    f[(t > 130) & (t < 400)] = 0.0  # last message at 100, zero from 131, back at 400
    ramp = (t >= 400) & (t < 650)
    f[ramp] = 4.0 * (t[ramp] - 400) / 250
    events = [
        {"event": "up", "at_ns": 0},
        {"event": "down", "last_rx_ns": 100 * MS, "zeroed_ns": 131 * MS, "zeroed_after_ms": 31},
        {"event": "up", "at_ns": 400 * MS},
    ]
    (row,) = stall_figures(_commands(t, f), events, 30.0)
    assert row["force_before_n"] == pytest.approx(4.0)
    assert row["zero_after_ms"] == pytest.approx(31.0)
    assert row["zero_while_silent"] and row["silent_ms"] == pytest.approx(300.0)
    assert row["first_force_back_n"] == 0.0
    assert row["max_rise_back_n"] == pytest.approx(4.0 / 250, rel=0.01)
    assert row["force_peak_back_n"] == pytest.approx(4.0)


def test_a_force_left_on_while_silent_is_reported() -> None:
    t = np.arange(0, 600)
    f = np.full(t.shape, 4.0)  # never zeroed
    events = [{"event": "down", "last_rx_ns": 100 * MS, "zeroed_ns": 131 * MS}]
    (row,) = stall_figures(_commands(t, f), events, 30.0)
    assert not row["zero_while_silent"] and math.isnan(row["zero_after_ms"] or math.nan)


def test_the_press_goes_down_then_holds_where_it_aims() -> None:
    p = LinkBenchParams()
    (t0, start), (t1, aim), (t2, hold) = p.script()
    assert (t0, t1, t2) == (0.0, p.approach, 1.0)
    assert start[2] == p.start_z_m and aim[2] == hold[2] == p.aim_z_m
    assert start[:2] == aim[:2] == p.at_m


def test_trips_count_the_watchdog_downs_before_the_end_only() -> None:
    from haptics.bench.teleop_link import trips

    stats = {"ok": True, "events": [
        {"event": "up", "at_ns": 0},
        {"event": "down", "last_rx_ns": 5, "zeroed_ns": 10, "zeroed_after_ms": 0.0},  # operator
        {"event": "down", "last_rx_ns": 15, "at_ns": 20},  # follower's form
        {"event": "down", "last_rx_ns": 95, "at_ns": 99},  # the other side stopped: after
    ]}  # fmt: skip
    assert trips(stats, 50) == 2
    assert trips({"ok": False, "error": "no answer"}, 50) is None


def test_press_figures_read_both_ways_of_the_link_and_leave_held_samples_out() -> None:
    """10 ms there, 15 ms back (each sample's round trip 25 ms); then the link drops and the
    follower's link repeats the last sample for a second (held: its device time frozen)."""
    n, held_n = 3000, 1000
    t = np.arange(n + held_n, dtype=np.int64) * MS
    sent = t.copy()
    sent[n:] = sent[n - 1]
    status = np.full(t.shape, STATUS_ARMED, dtype=np.uint32)
    status[n:] |= STATUS_LINK_HELD
    rtt = np.where(status & STATUS_LINK_HELD, -1, 25 * MS)
    fl_state = {"device_time_ns": sent, "host_time_ns": t + 10 * MS, "cmd_latency_ns": rtt,
                "status": status}  # fmt: skip
    fl_tel = {"wake_ns": t, "tool_z": np.full(t.shape, -0.004), "contact": np.ones(t.shape),
              "fz": np.full(t.shape, 4.0)}  # fmt: skip
    op_state = STATE.to_array([STATE.make(seq=i + 1, host_time_ns=int(x), pz=-0.01, afz=2.0)
                               for i, x in enumerate(t[:n])])  # fmt: skip
    op_cmd = _commands(t[:n] / MS, np.full(n, 2.0))
    trace = np.array([[0.0, 1.0, 0.5], [float(t[-1]), 2.0, 1.0]])
    f = press_figures(op_state, op_cmd, fl_state, fl_tel, trace, trace, int(t[n - 1]))
    assert f["one_way_ms_p50"] == pytest.approx(10.0) and f["one_way_ms_p99"] == pytest.approx(10.0)
    assert f["back_ms_p50"] == pytest.approx(15.0) and f["back_ms_p99"] == pytest.approx(15.0)
    assert f["rtt_ms_p50"] == pytest.approx(25.0)
    assert f["felt_over_rendered"] == pytest.approx(0.5)
