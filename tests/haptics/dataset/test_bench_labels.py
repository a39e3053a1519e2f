"""`haptics bench labels` at a small size: the figures are there and add up."""

from __future__ import annotations

import time
from pathlib import Path

from haptics.bench.labels import bench_agreement, bench_append


def test_agreement_bench_small(tmp_path: Path) -> None:
    r = bench_agreement(tmp_path, sessions=20, annotators=3, intervals=20)
    assert r["answers"] == 20 * 3 * 20
    assert r["grid_units"] == 20 * 2000  # 20 s sessions on the 10 ms grid
    assert r["windows"] == 20 * 20
    assert 0.5 < r["alpha"] < 1.0  # one label in ten swapped, boundaries jittered
    assert abs(r["total_s"] - r["load_s"] - r["compute_s"]) < 0.002


def test_append_bench_small(tmp_path: Path) -> None:
    r = bench_append(str(tmp_path / "append.sqlite"), writers=2, per_writer=10)
    assert r["answers"] == r["expected"] == 20 and r["errors"] == []
    assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]


def test_paced_append_bench_keeps_its_schedule(tmp_path: Path) -> None:
    t = time.perf_counter()
    r = bench_append(str(tmp_path / "paced.sqlite"), writers=2, per_writer=10, interval_ms=50.0)
    took = time.perf_counter() - t
    assert r["answers"] == r["expected"] == 20 and r["errors"] == []
    assert r["per_writer_per_s"] == 20.0
    assert took > 9 * 0.05  # ten answers each, one every 50 ms: paced, not flat out
    assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
