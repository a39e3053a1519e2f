"""`haptics bench palpation`'s evaluation: both detectors on the scene's seeded inclusions."""

import json
import subprocess
from pathlib import Path

from sim.scenes.palpation_bench import evaluate_seed

HAPTICS = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "haptics")


def test_tactile_detector_finds_the_seeded_inclusion_and_nothing_without_one() -> None:
    found = evaluate_seed(1)
    assert found["tactile"]["detected"] and found["tactile"]["error_m"] < 0.004
    assert 8.0 <= found["modulus_ratio"] <= 18.0
    blank = evaluate_seed(1, with_inclusion=False)
    assert not blank["tactile"]["detected"] and not blank["force"]["detected"]


def test_bench_palpation_prints_both_detectors_side_by_side() -> None:
    out = subprocess.run(
        [HAPTICS, "bench", "palpation", "--seeds", "1", "--json"],
        capture_output=True, text=True, timeout=240, check=True,
    )
    r = json.loads(out.stdout)
    assert set(r) >= {"tactile", "force", "seeds", "method"}
    for name in ("tactile", "force"):
        assert set(r[name]) == {
            "detection_rate", "error_median_mm", "error_max_mm", "false_positive_rate"
        }
