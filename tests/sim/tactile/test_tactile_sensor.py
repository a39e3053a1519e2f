"""The configured array, the scene-facing helpers, and the ground-truth adapter."""

from __future__ import annotations

import numpy as np
import pytest

from haptics.errors import ConfigError
from sim.tactile import (
    Inclusion,
    NoiseModel,
    ProbePose,
    TactileArray,
    TactileArrayConfig,
    TactileModel,
    TaxelGrid,
    frame_force_n,
    slab_for_stiffness,
)


def test_array_frames_are_seeded_and_match_the_force_map() -> None:
    config = TactileArrayConfig(
        grid=TaxelGrid(rows=12, cols=12, pitch_m=0.0025),
        noise=NoiseModel(sigma_kpa=0.1, dead_fraction=0.01),
        rate_hz=250.0,
    )
    array = TactileArray(config)
    inc = Inclusion(center_m=(0.002, 0.0, -0.012), radius_m=0.006, modulus_ratio=14.0)
    pose = ProbePose(0.005, -0.003, -0.004)
    a = array.frame(pose, inc, np.random.default_rng(7))
    b = array.frame(pose, inc, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (12, 12)
    clean = array.clean_frame(pose, inc)
    fmap = array.force_map(inc)
    assert fmap.normal_force_n(pose.x_m, pose.y_m, pose.z_m) == pytest.approx(
        frame_force_n(clean, config.grid), rel=2e-3
    )
    described = array.describe()
    assert described["config"]["rate_hz"] == 250.0
    assert TactileArrayConfig.model_validate(described["config"]) == config


def test_slab_for_stiffness_gives_the_asked_feel() -> None:
    slab = slab_for_stiffness(300.0)
    assert TactileModel(tissue=slab).base_stiffness_n_per_m == pytest.approx(300.0, rel=1e-9)
    with pytest.raises(ConfigError, match="positive"):
        slab_for_stiffness(0.0)


def test_inclusion_from_a_scenes_ground_truth() -> None:
    truth = {"center_m": [0.01, -0.002, -0.014], "radius_m": 0.007, "stiffness_n_per_m": 1500.0}
    inc = Inclusion.from_ground_truth(truth, modulus_ratio=12.0)
    assert inc.center_m == (0.01, -0.002, -0.014)
    assert inc.top_depth_m == pytest.approx(0.007)
    with pytest.raises(ConfigError, match="modulus_ratio"):
        Inclusion.from_ground_truth(truth)
    with pytest.raises(ConfigError, match="center_m"):
        Inclusion.from_ground_truth({"radius_m": 0.005, "modulus_ratio": 10.0})


def test_frames_keep_to_absolute_deadlines_and_skip_rather_than_burst() -> None:
    from sim.tactile.device import next_deadline

    period = 5_000_000
    # early: nothing due, the next deadline unchanged
    assert next_deadline(999, 1_000, period) == (None, 1_000, 0)
    # on time (or a little late): that deadline's frame, the next one a period on (no drift)
    assert next_deadline(1_000, 1_000, period) == (1_000, 1_000 + period, 0)
    assert next_deadline(1_000 + period - 1, 1_000, period) == (1_000, 1_000 + period, 0)
    # woken 3.5 periods late: one frame, for the newest deadline passed; three skipped
    due, after, skipped = next_deadline(1_000 + 3 * period + period // 2, 1_000, period)
    assert (due, after, skipped) == (1_000 + 3 * period, 1_000 + 4 * period, 3)
    # and the one after is not due until its own time: no burst to catch up
    assert next_deadline(1_000 + 3 * period + period // 2 + 1, after, period)[0] is None
