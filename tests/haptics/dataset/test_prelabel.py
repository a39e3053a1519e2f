"""Force-only detectors on synthetic traces (pure functions: no session needed)."""

from __future__ import annotations

import numpy as np

from haptics.dataset.prelabel import detect_contact_onsets, detect_punctures, needle_phases

MS = 1_000_000


def trace(force: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(force.size, dtype=np.int64) * MS, force  # 1 kHz


def test_contact_onset_is_where_force_leaves_the_floor() -> None:
    f = np.zeros(1000)
    f[300:600] = np.linspace(0, 1.0, 300)  # press from 300 ms
    f[600:] = 0.0
    t, f = trace(f)
    hits = detect_contact_onsets(t, f)
    assert len(hits) == 1
    assert 295 * MS <= hits[0].t0_ns <= 320 * MS
    assert hits[0].confidence == 1.0  # reaches far above the threshold
    # a graze that barely crosses the threshold is unsure
    g = np.zeros(500)
    g[100:200] = 0.06
    (h,) = detect_contact_onsets(*trace(g))
    assert h.confidence < 0.5


def test_puncture_is_a_sharp_sustained_drop_not_a_spike_or_a_slow_decline() -> None:
    f = np.concatenate(
        [
            np.linspace(0, 1.2, 400),  # loading
            np.full(200, 0.5),  # puncture at 400 ms: 1.2 → 0.5
            np.linspace(0.5, 1.0, 300),
            np.linspace(1.0, 0.2, 400),  # slow retraction: no puncture
        ]
    )
    f[700] += 0.6  # a one-sample spike: no puncture
    t, f = trace(f)
    hits = detect_punctures(t, f)
    assert len(hits) == 1
    assert abs(hits[0].t0_ns / MS - 400) <= 5
    assert hits[0].confidence == 1.0  # more than halved
    # a smaller drop (30 %) is found with a lower confidence
    g = np.concatenate([np.linspace(0, 1.0, 300), np.full(200, 0.7)])
    (h,) = detect_punctures(*trace(g))
    assert 0.5 < h.confidence < 0.7


def test_needle_phases_from_ground_truth() -> None:
    n = 1000
    wake = np.arange(n, dtype=np.int64) * MS
    contact = np.zeros(n, np.uint8)
    contact[200:900] = 1
    depth = np.zeros(n)
    depth[200:600] = np.linspace(0, 0.02, 400)
    depth[600:900] = np.linspace(0.02, 0, 300)
    events = np.zeros(n, np.uint32)
    events[400] = 1  # puncture
    hits = needle_phases(wake, contact, depth, events)
    assert [h.value for h in hits] == ["approach", "contact", "puncture", "insertion", "retraction"]
    assert [h.t0_ns // MS for h in hits] == [0, 200, 400, 430, 599]
    assert all(h.t1_ns is not None and h.t1_ns > h.t0_ns for h in hits)
