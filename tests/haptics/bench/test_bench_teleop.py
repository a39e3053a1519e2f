"""`haptics bench teleop`: the uncompensated link goes unstable on stiff tissue once there is
delay, time-domain passivity keeps it passive and its oscillation from growing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from haptics.bench.teleop import TeleopBenchParams, simulate

SHORT = dataclasses.replace(TeleopBenchParams(), duration_s=6.0)


def test_no_delay_both_are_stable_and_feel_the_tissue() -> None:
    for passivity in (False, True):
        r = simulate(SHORT, 0.0, passivity)
        assert r["stable"] and not r["contact_lost"]
        # the follower's PD (3000 N/m) in series with the 2000 N/m tissue: 1200 N/m felt (the
        # passivity controller, with the device's damper bound, costs a few percent of it)
        assert r["felt_n_per_m"] == pytest.approx(1200.0, rel=0.05)


@pytest.mark.parametrize("rtt_ms", [20.0, 100.0])
def test_delay_makes_the_baseline_bounce_and_generate_energy(rtt_ms: float) -> None:
    r = simulate(SHORT, rtt_ms / 1e3, passivity=False)
    assert not r["stable"] and r["contact_lost"]
    assert r["network_energy_max_j"] > 1.0


@pytest.mark.parametrize("rtt_ms", [20.0, 50.0, 100.0, 200.0])
def test_passivity_keeps_the_link_passive_and_not_growing(rtt_ms: float) -> None:
    p = dataclasses.replace(TeleopBenchParams(), duration_s=10.0)
    r = simulate(p, rtt_ms / 1e3, passivity=True)
    assert r["network_energy_max_j"] <= 1e-9
    assert not r["growing"] and not r["diverged"]
    assert r["p2p_mm"] is not None and r["p2p_mm"] < 5.0
    assert r["felt_n_per_m"] is not None and r["felt_n_per_m"] > 300.0


def test_the_command_prints_the_table_and_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "haptics.cli.main", "bench", "teleop", "--rtt-ms", "0", "50",
         "--json"], capture_output=True, text=True, check=True, timeout=120,
    )
    rows = json.loads(out.stdout)["rows"]
    assert [r["rtt_ms"] for r in rows] == [0.0, 50.0]
    assert rows[1]["tdpa"]["stable"] and not rows[1]["baseline"]["stable"]
    bad = subprocess.run(
        [sys.executable, "-m", "haptics.cli.main", "bench", "teleop", "--loss", "2"],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "loss" in bad.stderr and "Traceback" not in bad.stderr
