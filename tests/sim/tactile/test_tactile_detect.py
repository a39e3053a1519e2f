"""The baseline detectors on seeded frames and force traces.

Stated figures (each asserted below, seeded):
- tactile, one frame pressed 5 mm deep, inclusions 3-10 mm in radius with their top 4-6 mm
  deep (the palpation scene's range and smaller), 8-18× stiffer, within 8 mm of the probe's
  centre, 0.05 kPa noise, 2 % dead taxels, 12-bit ADC: detected in ≥ 95 % of frames (seen:
  100 %), localisation error under 1.5 mm in every frame (seen: median 0.3, max 1.0 mm).
  Not asserted, measured the same way: 3-5 mm inclusions with their top 6-10 mm deep are at
  the noise floor (85 % detected, error p95 1.7 mm);
- tactile, inclusion-free frames: ≤ 1 % false positives (300 frames);
- sweeps across the inclusion: the tactile detector localises in 2-D within 2 mm; the
  force-only detector (5 mN load-cell noise) finds the larger inclusions along the path but
  cannot say which side of the path they are on, and misses a 2.5 mm one whose force bump is
  0.2 % (the tactile contrast of the same one is > 10 %).
"""

from __future__ import annotations

import numpy as np
import pytest

from haptics.errors import ConfigError
from sim.tactile import (
    Inclusion,
    NoiseModel,
    ProbePose,
    TactileModel,
    detect_frame,
    detect_from_force,
    detect_sweep,
    homogeneous_background,
    median_background,
)

NOISE = NoiseModel(sigma_kpa=0.05, dead_fraction=0.02, dead_seed=4, adc_bits=12)
XS = np.arange(-0.04, 0.0401, 0.001)


@pytest.fixture(scope="module")
def model() -> TactileModel:
    return TactileModel()


@pytest.fixture(scope="module")
def background(model: TactileModel) -> np.ndarray:
    return homogeneous_background(model)


def _random_inclusion(
    rng: np.random.Generator,
    near: tuple[float, float],
    radius_m: tuple[float, float],
    top_depth_m: tuple[float, float],
) -> Inclusion:
    r = rng.uniform(*radius_m)
    top = rng.uniform(*top_depth_m)
    x, y = near[0] + rng.uniform(-0.008, 0.008), near[1] + rng.uniform(-0.008, 0.008)
    return Inclusion(center_m=(x, y, -(top + r)), radius_m=r, modulus_ratio=rng.uniform(8, 18))


@pytest.mark.parametrize(
    ("radius_m", "top_depth_m"),
    [
        ((0.006, 0.010), (0.004, 0.006)),  # the palpation scene's inclusions
        ((0.003, 0.005), (0.004, 0.006)),  # smaller ones at the same depth
    ],
)
def test_detects_and_localises_planted_inclusions(
    model: TactileModel,
    background: np.ndarray,
    radius_m: tuple[float, float],
    top_depth_m: tuple[float, float],
) -> None:
    rng = np.random.default_rng(11)
    hits, errors = 0, []
    trials = 60
    for _ in range(trials):
        pose = ProbePose(rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02), -0.005, 0.3)
        inc = _random_inclusion(rng, (pose.x_m, pose.y_m), radius_m, top_depth_m)
        frame = NOISE.apply(model.pressure_frame_kpa(pose, inc), rng)
        d = detect_frame(frame, background, model.grid, pose)
        hits += d.detected
        assert d.world_xy_m is not None
        errors.append(
            np.hypot(d.world_xy_m[0] - inc.center_m[0], d.world_xy_m[1] - inc.center_m[1])
        )
    assert hits >= 0.95 * trials
    assert max(errors) < 0.0015, f"median {np.median(errors) * 1e3:.2f} mm"


def test_few_false_positives_without_an_inclusion(
    model: TactileModel, background: np.ndarray
) -> None:
    rng = np.random.default_rng(12)
    false = 0
    for _ in range(300):
        x, y = rng.uniform(-0.03, 0.03, 2)
        pose = ProbePose(float(x), float(y), -rng.uniform(0.002, 0.01))
        frame = NOISE.apply(model.pressure_frame_kpa(pose, None), rng)
        false += detect_frame(frame, background, model.grid, pose).detected
    assert false <= 3


def test_flat_frames_and_traces_detect_nothing(model: TactileModel, background: np.ndarray) -> None:
    pose = ProbePose(0.0, 0.0, -0.004)
    d = detect_frame(model.pressure_frame_kpa(pose, None), background, model.grid, pose)
    assert not d.detected
    assert abs(d.score) < 1e-6 and d.world_xy_m is not None and np.isfinite(d.world_xy_m).all()
    path = np.stack([XS, np.zeros_like(XS)], axis=1)
    flat = detect_from_force(path, np.full(len(XS), 2.0), np.full(len(XS), 0.005))
    assert not flat.detected
    assert flat.world_xy_m is not None and np.isfinite(flat.world_xy_m).all()


def test_nan_taxels_are_ignored(model: TactileModel, background: np.ndarray) -> None:
    inc = Inclusion(center_m=(0.003, 0.002, -0.011), radius_m=0.006, modulus_ratio=10.0)
    pose = ProbePose(0.0, 0.0, -0.005)
    frame = NOISE.apply(model.pressure_frame_kpa(pose, inc), np.random.default_rng(5))
    frame[3, 4] = frame[10, 12] = np.nan
    d = detect_frame(frame, background, model.grid, pose)
    assert d.detected and d.world_xy_m is not None
    assert np.hypot(d.world_xy_m[0] - 0.003, d.world_xy_m[1] - 0.002) < 0.0015


def test_no_contact_detects_nothing(model: TactileModel, background: np.ndarray) -> None:
    inc = Inclusion(center_m=(0.0, 0.0, -0.01), radius_m=0.006)
    frame = model.pressure_frame_kpa(ProbePose(0.0, 0.0, 0.002), inc)
    d = detect_frame(frame, background, model.grid)
    assert not d.detected
    assert d.world_xy_m is None


def _sweep(
    model: TactileModel, inc: Inclusion | None, rng: np.random.Generator, y: float = 0.0
) -> tuple[list[ProbePose], list[np.ndarray], np.ndarray, np.ndarray]:
    poses = [ProbePose(x, y, -0.005) for x in XS]
    frames = [NOISE.apply(model.pressure_frame_kpa(p, inc), rng) for p in poses]
    force = np.array([model.normal_force_n(p, inc) for p in poses])
    force += rng.normal(0.0, 0.005, len(force))  # a 5 mN load cell
    path = np.stack([XS, np.full_like(XS, y)], axis=1)
    return poses, frames, force, path


def test_sweep_tactile_against_force_only(model: TactileModel, background: np.ndarray) -> None:
    rng = np.random.default_rng(13)
    # large, shallow: both find it; the force cannot tell the 3 mm offset across the path
    big = Inclusion(center_m=(0.007, 0.003, -0.011), radius_m=0.007, modulus_ratio=12.0)
    poses, frames, force, path = _sweep(model, big, rng)
    tactile = detect_sweep(frames, poses, background, model.grid)
    by_force = detect_from_force(path, force, np.full(len(XS), 0.005))
    assert tactile.detected and by_force.detected
    assert tactile.world_xy_m is not None and by_force.world_xy_m is not None
    assert np.hypot(tactile.world_xy_m[0] - 0.007, tactile.world_xy_m[1] - 0.003) < 0.002
    assert abs(by_force.world_xy_m[0] - 0.007) < 0.003
    assert by_force.world_xy_m[1] == pytest.approx(0.0)  # on the path, not on the inclusion
    assert tactile.contrast > 5 * by_force.contrast
    # small and deep: tactile still sees it, the stylus force alone does not
    small = Inclusion(center_m=(-0.005, 0.0, -0.007), radius_m=0.0025, modulus_ratio=10.0)
    poses, frames, force, path = _sweep(model, small, rng)
    assert detect_sweep(frames, poses, background, model.grid).detected
    assert not detect_from_force(path, force, np.full(len(XS), 0.005)).detected


def test_sweeps_without_an_inclusion(model: TactileModel, background: np.ndarray) -> None:
    rng = np.random.default_rng(14)
    for y in (-0.004, 0.0, 0.004):
        poses, frames, force, path = _sweep(model, None, rng, y)
        assert not detect_sweep(frames, poses, background, model.grid).detected
        assert not detect_from_force(path, force, np.full(len(XS), 0.005)).detected


def test_force_detector_false_positive_rate(model: TactileModel) -> None:
    rng = np.random.default_rng(15)
    k0 = model.base_stiffness_n_per_m
    path = np.stack([XS, np.zeros_like(XS)], axis=1)
    false = 0
    for _ in range(200):
        depth = rng.uniform(0.003, 0.008)
        force = k0 * depth + rng.normal(0.0, 0.005, len(XS))
        false += detect_from_force(path, force, np.full(len(XS), depth)).detected
    assert false <= 2


def test_median_background_from_a_sweep(model: TactileModel, background: np.ndarray) -> None:
    rng = np.random.default_rng(16)
    inc = Inclusion(center_m=(0.004, -0.002, -0.01), radius_m=0.005, modulus_ratio=10.0)
    poses, frames, _, _ = _sweep(model, inc, rng)
    shape = median_background(frames)
    alive = shape > 0.0  # dead taxels read 0 in every frame
    np.testing.assert_allclose(
        shape[alive], background[alive] / background[alive].mean(), rtol=0.05
    )
    d = detect_sweep(frames, poses, shape, model.grid)
    assert d.detected and d.world_xy_m is not None
    assert np.hypot(d.world_xy_m[0] - 0.004, d.world_xy_m[1] + 0.002) < 0.002


def test_bad_input_is_refused(model: TactileModel, background: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="rows × cols"):
        detect_frame(np.ones((4, 4)), background, model.grid)
    with pytest.raises(ConfigError, match="one pose per frame"):
        detect_sweep([background], [], background, model.grid)
    with pytest.raises(ConfigError, match="no frame has contact"):
        median_background([np.zeros((16, 16))])
    with pytest.raises(ConfigError, match=r"\(N, 2\)"):
        detect_from_force(np.zeros((5, 3)), np.zeros(5), np.zeros(5))
