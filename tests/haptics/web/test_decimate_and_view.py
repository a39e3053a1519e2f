"""Decimation (pure functions) and the session view through the API: a trace never carries
more than two points per pixel column, and every column keeps its extremes."""

from __future__ import annotations

import base64
import time
from typing import Any

import numpy as np
from starlette.testclient import TestClient

from haptics.session.overview import coarse_level, levels_of
from haptics.web.decimate import minmax, minmax_numpy
from tests.haptics.web.workbench_builders import Bench

MS = 1_000_000


def column(t: np.ndarray, t0: int, t1: int, width: int) -> np.ndarray:
    return np.clip((t - t0) * width // (t1 - t0), 0, width - 1)


def test_minmax_keeps_every_columns_extremes_and_bounds_the_points() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(200_000, dtype=np.int64) * MS
    y = rng.normal(size=t.size)
    y[123_457] = 50.0  # one spike must survive any zoom
    for t0, t1, width in [(0, int(t[-1]), 500), (10**9, 90 * 10**9, 1000), (0, int(t[-1]), 37)]:
        tt, yy = minmax(t, y, t0, t1, width)
        assert tt.size <= 2 * width + 2
        assert np.all(np.diff(tt) > 0)
        inside = (t >= t0) & (t <= t1)
        assert yy.max() == y[inside].max() and yy.min() == y[inside].min()
        # same extremes per column as the numpy reference
        rt, ry = minmax_numpy(t[inside], y[inside], t0, t1, width)
        for c in np.unique(column(rt, t0, t1, width))[:50]:
            got = yy[(column(tt, t0, t1, width) == c) & (tt >= t0) & (tt <= t1)]
            ref = ry[column(rt, t0, t1, width) == c]
            assert got.max() == ref.max() and got.min() == ref.min()


def test_small_windows_come_back_whole() -> None:
    t = np.arange(100, dtype=np.int64) * MS
    y = np.sin(t / 1e7)
    tt, yy = minmax(t, y, 10 * MS, 20 * MS, 800)
    assert tt[0] == 9 * MS and tt[-1] == 21 * MS  # one sample beyond each edge
    assert np.array_equal(yy, y[9:22])


def test_numpy_path_handles_nan() -> None:
    t = np.arange(10_000, dtype=np.int64) * MS
    y = np.ones(t.size)
    y[::7] = np.nan
    y[5000] = 9.0
    tt, yy = minmax(t, y, 0, int(t[-1]), 100)
    assert tt.size <= 202 and np.nanmax(yy) == 9.0


def test_a_slow_stream_over_an_hour_keeps_a_level_dense_enough_for_the_whole_plot() -> None:
    t = np.arange(108_000, dtype=np.int64) * (MS * 100 // 3)  # video frames: 30 Hz, 1 h
    y = np.ones(t.size)
    y[54_321] = 70.0  # a lost frame: one long interval
    levels = levels_of(t, y)
    assert [lv.block for lv in levels] == [8, 64, 512, 4096]
    assert levels[0].t.size == 27_000 and levels[0].y.max() == 70.0


def samples(trace: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A trace's (t_ms, y) as the browser decodes them."""
    t = np.frombuffer(base64.b64decode(trace["t_ms"]), "<f8")
    y = np.frombuffer(base64.b64decode(trace["y"]), "<f4")
    assert t.size == y.size == trace["n"]
    return t, y


def test_the_levels_of_an_hour_keep_its_extremes() -> None:
    t = np.arange(3_600_000, dtype=np.int64) * MS
    y = np.sin(np.arange(t.size) / 5000.0)
    y[2_000_001] = -7.0
    levels = levels_of(t, y)
    # too long to keep every sample, or the blocks of 8 (900,000 points)
    assert [lv.block for lv in levels] == [64, 512, 4096]
    for lv in levels:
        assert lv.t.size <= 2 * (t.size // lv.block) + lv.block
        assert lv.y.min() == -7.0 and lv.y.max() == y.max()
        assert np.all(np.diff(lv.t) >= 0)
        # built level from level, each block is what its block size gives from the samples
        # (only the tail that fills no block differs: kept as the finer level had it)
        rt, ry = coarse_level(t, y, lv.block)
        blocked = 2 * (t.size // lv.block)
        assert np.array_equal(lv.t[:blocked], rt[:blocked])
        assert np.array_equal(lv.y[:blocked], ry[:blocked])
    wt, wy = minmax(levels[-1].t, levels[-1].y, 0, int(t[-1]), 100)
    assert wy.min() == -7.0 and wt.size <= 202


def test_view_of_any_window_is_bounded(
    clients: dict[str, tuple[TestClient, str]], bench: Bench
) -> None:
    c, _ = clients["alice"]
    url = f"/api/sessions/{bench.session_id}/view"
    whole = c.get(url, params={"width": 100}).json()
    names = {(t["panel"], t["name"]) for t in whole["traces"]}
    assert whole["panels"] == ["position", "force", "depth"]
    assert {t["panel"] for t in whole["traces"]} == set(whole["panels"])
    assert {("force", "commanded"), ("force", "rendered"), ("force", "applied")} <= names
    assert {("position", "pz"), ("depth", "contact depth")} <= names
    for tr in whole["traces"]:
        assert 0 < samples(tr)[0].size <= 2 * 100 + 2
    depth = samples(next(t for t in whole["traces"] if t["name"] == "contact depth"))[1]
    assert depth.max() == np.float32(0.001) and depth.min() == 0.0  # the step survives
    zoom = c.get(
        url,
        params={
            "t0_ns": bench.start_ns + 100 * MS,
            "t1_ns": bench.start_ns + 110 * MS,
            "width": 800,
        },
    ).json()
    pz_t, _ = samples(next(t for t in zoom["traces"] if t["name"] == "pz"))
    assert 10 <= pz_t.size <= 13  # 10 ms at 1 kHz: every sample, nothing decimated
    bad = c.get(url, params={"t0_ns": bench.start_ns + 5, "t1_ns": bench.start_ns})
    assert bad.status_code == 400


def test_warm_start_reads_sessions_ahead(bench: Bench) -> None:
    from haptics.web.app import create_app

    app = create_app(bench.dir, secret="s", warm=True)
    with TestClient(app):
        wb = app.state.workbench
        deadline = time.monotonic() + 60
        while bench.session_id not in wb._traces:
            assert time.monotonic() < deadline, "the session was not read ahead in 60 s"
            time.sleep(0.05)
