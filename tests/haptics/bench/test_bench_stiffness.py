"""The stiffness benchmark: its criterion detects instability, and the PC earns its keep."""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import pytest

from haptics.bench.stiffness import (
    BenchParams,
    linear_contact_bound,
    run_stiffness_bench,
    simulate_wall,
)
from haptics.cli import bench as bench_cli
from haptics.errors import ConfigError


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    started = time.perf_counter()
    r = run_stiffness_bench()  # the default run is small enough for a test
    r["_wall_s"] = time.perf_counter() - started
    return r


def test_runs_quickly_and_reports_the_figures(result: dict[str, Any]) -> None:
    assert result["_wall_s"] < 10.0
    assert result["device"]["mass_kg"] == 0.1
    assert result["device"]["damping_ns_per_m"] == 8.9
    assert result["device"]["hand_stiffness_n_per_m"] == 400.0
    assert result["delay_samples"] == 1 and result["delay_s"] == pytest.approx(1e-3)
    assert result["reference"]["colgate_bound_undelayed_n_per_m"] == pytest.approx(17800.0)
    assert result["runs"] and all("k_n_per_m" in r for r in result["runs"])
    json.dumps(result, allow_nan=False)  # valid JSON: no NaN anywhere


def test_pc_keeps_the_wall_stable_at_one_and_a_half_times_the_stiffness(
    result: dict[str, Any],
) -> None:
    k0 = result["without_pc"]["k_max_stable_n_per_m"]
    k1 = result["with_pc"]["k_max_stable_n_per_m"]
    assert k0 is not None and math.isfinite(k0) and k0 > BenchParams().k_min
    assert not result["without_pc"]["reached_scan_end"]
    assert not result["with_pc"]["reached_scan_end"]
    assert result["ratio"] == pytest.approx(k1 / k0)
    assert result["ratio"] >= 1.5
    assert result["without_pc"]["monotonic"] and result["with_pc"]["monotonic"]
    # ... and without the PC the same stiffness really is unstable (same criterion)
    assert result["without_pc_at_with_pc_k"]["stable"] is False


def test_the_wall_still_holds_with_the_pc(result: dict[str, Any]) -> None:
    for label in ("without_pc", "with_pc"):
        at = result[label]["at_k_max"]
        assert at["stable"] and not at["contact_lost_in_windows"]
        assert at["mean_penetration_m"] == pytest.approx(at["static_penetration_m"], rel=0.1)
        assert at["effective_stiffness_n_per_m"] == pytest.approx(at["k_n_per_m"], rel=0.1)
        # the hand pushes with k_h·(x_target − x) ≈ 4 N, and the wall pushes back as much
        assert at["mean_force_n"] == pytest.approx(4.0, rel=0.1)


def test_simulated_bound_agrees_with_linear_theory(result: dict[str, Any]) -> None:
    # without the PC the model is linear in contact: the simulated criterion must land just
    # below the eigenvalue bound (slow decay near the bound fails the decay rule)
    k0 = result["without_pc"]["k_max_stable_n_per_m"]
    lin = result["reference"]["linear_contact_bound_without_pc_n_per_m"]
    assert 0.9 * lin <= k0 <= lin


def test_undelayed_bound_is_near_colgate() -> None:
    # no delay: the stability limit sits at the passivity (Colgate) bound 2b/T within 10 %
    p = BenchParams(delay_samples=0)
    assert linear_contact_bound(p) == pytest.approx(2 * p.damping_ns_per_m / p.period_s, rel=0.1)


def test_clearly_unstable_wall_is_flagged() -> None:
    p = BenchParams()
    k0 = linear_contact_bound(p)
    bad = simulate_wall(p, 3 * k0, passivity=False)
    assert not bad.stable
    assert bad.contact_lost_in_windows and bad.bounces > 20
    assert "contact lost" in bad.reason
    good = simulate_wall(p, 0.5 * k0, passivity=False)
    assert good.stable and good.reason == "settled"


def test_marginally_unstable_wall_is_flagged_by_the_decay_rule() -> None:
    # just above the linear bound the oscillation grows slowly without losing contact yet
    p = BenchParams()
    run = simulate_wall(p, 1.02 * linear_contact_bound(p), passivity=False)
    assert not run.stable
    assert run.amplitude_w2_m_s > p.decay_ratio * run.amplitude_w1_m_s


def test_hold_rule_is_live() -> None:
    # with an absurdly tight hold tolerance even a settled wall fails the hold rule
    p = BenchParams(hold_tolerance=1e-12, duration_s=1.2, window_s=0.3)
    run = simulate_wall(p, 5000.0, passivity=False)
    assert not run.stable and "does not hold" in run.reason


def test_too_strong_pc_damper_is_not_a_free_lunch() -> None:
    # the PC's own damper is delayed: bounded far too high it destabilises the wall
    p = BenchParams(max_damping_ns_per_m=150.0)
    assert not simulate_wall(p, 8000.0, passivity=True).stable
    assert simulate_wall(BenchParams(), 8000.0, passivity=True).stable


@pytest.mark.parametrize(
    "override",
    [{"mass_kg": 0.0}, {"delay_samples": -1}, {"duration_s": 0.5}, {"k_max": 10.0}],
)
def test_bad_parameters_are_config_errors(override: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="stiffness bench"):
        run_stiffness_bench(**override)


def test_cli_stiffness_json_and_extension(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="haptics")
    sub = parser.add_subparsers(dest="command", required=True)
    bench_cli.register(sub)

    def setup_demo(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, default=1)
        p.set_defaults(func=lambda args: args.n)

    bench_cli.add_bench_command("demo-test", "a test bench", setup_demo)
    try:
        args = parser.parse_args(["bench", "demo-test", "--n", "7"])
        assert args.func(args) == 7
        args = parser.parse_args(["bench", "stiffness", "--json", "--duration", "1.5"])
        assert args.func(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["criterion"]["duration_s"] == 1.5
        assert out["ratio"] is not None
        args = parser.parse_args(["bench", "stiffness", "--delay", "0", "--duration", "1.5"])
        assert args.func(args) == 0
        assert "highest stable wall stiffness" in capsys.readouterr().out
    finally:
        bench_cli._COMMANDS.pop("demo-test", None)
