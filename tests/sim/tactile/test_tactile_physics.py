"""The tactile model against elasticity: Boussinesq kernels, the rigid punch, the inclusion's bump.

Validation claims (each a test below):
- the boundary elements reproduce Boussinesq's point-load compliance far away and a rigid
  square punch's stiffness (Gazetas 1991) within 3 %;
- the summed taxel force equals the probe's normal force (exactly for the direct solve,
  within 0.2 % for the tabulated force map the 1 kHz tick uses);
- the force rises smoothly across the inclusion, starting before the probe is over it;
- the bump widens and weakens with depth; a stiffer inclusion gives more contrast;
- without an inclusion the frame is the calibration shape times a scale (no bump).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haptics.errors import ConfigError
from sim.tactile import (
    Inclusion,
    ProbeForceMap,
    ProbePose,
    TactileModel,
    TaxelGrid,
    TissueSlab,
    frame_force_n,
    homogeneous_background,
)
from sim.tactile.boussinesq import (
    halfspace_patch_compliance,
    layer_tail_compliance,
    patch_mean_stress_zz,
    point_load_stress_zz,
    rigid_square_punch_stiffness,
)


@pytest.fixture(scope="module")
def model() -> TactileModel:
    return TactileModel()


def _bump(model: TactileModel, pose: ProbePose, inclusion: Inclusion) -> np.ndarray:
    """Pressure added by the inclusion (kPa), noise-free."""
    return model.pressure_frame_kpa(pose, inclusion) - model.pressure_frame_kpa(pose, None)


def _width_mm(bump: np.ndarray, pitch_m: float) -> float:
    """Equivalent diameter of the region above half the bump's peak (mm)."""
    area = float((bump >= 0.5 * bump.max()).sum()) * (pitch_m * 1e3) ** 2
    return 2.0 * math.sqrt(area / math.pi)


def test_far_field_compliance_is_boussinesq() -> None:
    offsets = np.array([[0.010, 0.0], [0.020, 0.006], [0.030, 0.030]])
    s = 0.002
    got = halfspace_patch_compliance(offsets, s)
    d = np.hypot(offsets[:, 0], offsets[:, 1])
    # 1/(π d), averaged over both squares: + (s²/12) ∇²(1/r) = 1/r³ to second order
    expected = (1.0 + s * s / (12.0 * d * d)) / (math.pi * d)
    np.testing.assert_allclose(got, expected, rtol=2e-4)


def test_self_compliance_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 400_000, 2))
    mean_inv = float(np.mean(1.0 / np.hypot(*(a - b).T)))  # unit square, ≈ 2.97
    got = float(halfspace_patch_compliance(np.zeros((1, 2)), 1.0)[0])
    assert got == pytest.approx(mean_inv / math.pi, rel=5e-3)


def test_thinner_slab_is_stiffer() -> None:
    offsets = np.zeros((1, 2))
    tails = [float(layer_tail_compliance(offsets, 0.002, h)[0]) for h in (0.01, 0.04, 1.0)]
    assert tails[0] > tails[1] > tails[2] > 0.0
    k = [
        TactileModel(tissue=TissueSlab(thickness_m=h)).base_stiffness_n_per_m for h in (0.02, 0.04)
    ]
    assert k[0] > k[1]


def test_patch_mean_stress_matches_dense_quadrature() -> None:
    s = 0.002
    g = (np.arange(40) + 0.5) / 40 * s - s / 2
    gx, gy = np.meshgrid(g, g)
    for z in (2.5 * s, 5 * s):
        for dx in (0.0, s, 3 * s):
            dense = point_load_stress_zz(dx + gx, gy, np.full_like(gx, z)).mean()
            got = patch_mean_stress_zz(np.array([[dx]]), np.array([[0.0]]), np.array([z]), s)
            assert float(got[0, 0]) == pytest.approx(float(dense), rel=5e-3)


def test_rigid_square_punch_on_a_half_space() -> None:
    deep = TactileModel(tissue=TissueSlab(thickness_m=10.0))
    side = deep.grid.size_m[0]
    ref = rigid_square_punch_stiffness(deep.tissue.effective_modulus_pa, side)
    assert deep.base_stiffness_n_per_m == pytest.approx(ref, rel=0.03)
    frame = deep.pressure_frame_kpa(ProbePose(0.0, 0.0, -0.002), None)
    # pressure piles up at the rigid punch's edges and corners (1/√distance singularity)
    assert frame[0, 0] > frame[0, 8] > frame[8, 8] > 0.0


def test_taxel_sum_is_the_normal_force(model: TactileModel) -> None:
    rng = np.random.default_rng(3)
    inc = Inclusion(center_m=(0.003, -0.002, -0.011), radius_m=0.006, modulus_ratio=12.0)
    fmap = ProbeForceMap.build(model, inc)
    for _ in range(25):
        x, y = rng.uniform(-0.04, 0.04, 2)
        pose = ProbePose(float(x), float(y), -rng.uniform(0.001, 0.01))
        frame = model.pressure_frame_kpa(pose, inc)
        summed = frame_force_n(frame, model.grid)
        assert summed == pytest.approx(model.normal_force_n(pose, inc), rel=1e-12)
        # the tick's tabulated force agrees within the stated 0.2 %
        assert fmap.normal_force_n(pose.x_m, pose.y_m, pose.z_m) == pytest.approx(summed, rel=2e-3)


def test_force_is_linear_in_indentation_and_zero_above_the_surface(model: TactileModel) -> None:
    inc = Inclusion(center_m=(0.0, 0.0, -0.01), radius_m=0.005)
    f1 = model.normal_force_n(ProbePose(0.002, 0.0, -0.002), inc)
    f3 = model.normal_force_n(ProbePose(0.002, 0.0, -0.006), inc)
    assert f3 == pytest.approx(3.0 * f1, rel=1e-12)
    assert model.normal_force_n(ProbePose(0.0, 0.0, 0.001), inc) == 0.0
    assert not model.pressure_frame_kpa(ProbePose(0.0, 0.0, 0.0), inc).any()


def test_force_rises_smoothly_across_the_inclusion(model: TactileModel) -> None:
    inc = Inclusion(center_m=(0.0, 0.0, -0.012), radius_m=0.006, modulus_ratio=10.0)
    fmap = ProbeForceMap.build(model, inc)
    xs = np.arange(-0.045, 0.0451, 0.00025)
    force = np.array([fmap.normal_force_n(x, 0.0, -0.005) for x in xs])
    exact = np.array([model.normal_force_n(ProbePose(x, 0.0, -0.005), inc) for x in xs[::20]])
    np.testing.assert_allclose(force[::20], exact, rtol=2e-3)
    rise = force.max() - force.min()
    assert rise > 0.02 * force.min()  # the inclusion shows in the stylus force
    assert np.abs(np.diff(force)).max() < 0.03 * rise  # no step anywhere
    # the table reaches far enough: at its edge the bump has died out (< 0.1 % of it left)
    edge_k = fmap.table[0][-1]
    assert abs(edge_k - fmap.base_n_per_m) < 1e-3 * (max(fmap.table[0]) - fmap.base_n_per_m)
    # already rising while the probe's centre is a radius and more away from the inclusion
    edge = np.flatnonzero(np.abs(xs - (-0.006 - 0.004)) < 1e-9)[0]
    assert force[edge] - force.min() > 0.25 * rise


def test_bump_widens_and_weakens_with_depth(model: TactileModel) -> None:
    pose = ProbePose(0.0, 0.0, -0.005)
    widths, peaks = [], []
    for depth in (0.006, 0.009, 0.012, 0.016):
        bump = _bump(model, pose, Inclusion(center_m=(0.0, 0.0, -depth), radius_m=0.003))
        widths.append(_width_mm(bump, model.grid.pitch_m))
        peaks.append(float(bump.max()))
    assert all(b > a for a, b in itertools.pairwise(widths)), widths
    assert all(b < a for a, b in itertools.pairwise(peaks)), peaks
    assert widths[-1] > 1.8 * widths[0]


def test_stiffer_inclusion_gives_more_contrast(model: TactileModel) -> None:
    pose = ProbePose(0.0, 0.0, -0.005)
    base = model.pressure_frame_kpa(pose, None)
    contrast = []
    for ratio in (1.0, 1.01, 2.0, 4.0, 8.0, 12.0, 18.0):
        inc = Inclusion(center_m=(0.0, 0.0, -0.01), radius_m=0.005, modulus_ratio=ratio)
        contrast.append(float((_bump(model, pose, inc) / base).max()))
    assert all(b > a for a, b in itertools.pairwise(contrast)), contrast
    assert contrast[0] == 0.0  # as stiff as the tissue: no inclusion at all
    assert contrast[4] > 0.1  # a tumour 8× stiffer, 5 mm deep: a >10 % bump


def test_no_inclusion_no_bump(model: TactileModel) -> None:
    shape = homogeneous_background(model)
    for pose in (ProbePose(0.01, -0.02, -0.003), ProbePose(-0.03, 0.0, -0.008, 0.4)):
        frame = model.pressure_frame_kpa(pose, None)
        np.testing.assert_allclose(frame / frame.mean(), shape, rtol=1e-9)


def test_centred_inclusion_gives_a_symmetric_frame(model: TactileModel) -> None:
    inc = Inclusion(center_m=(0.01, 0.02, -0.01), radius_m=0.005)
    frame = model.pressure_frame_kpa(ProbePose(0.01, 0.02, -0.004), inc)
    # 1e-6: the frame's products run in float32 (rounding ~1e-7); a bump is ~1e-2 and more
    np.testing.assert_allclose(frame, frame[::-1, :], rtol=1e-6)
    np.testing.assert_allclose(frame, frame[:, ::-1], rtol=1e-6)
    np.testing.assert_allclose(frame, frame.T, rtol=1e-6)
    assert (frame > 0.0).all()


def test_yaw_turns_the_frame(model: TactileModel) -> None:
    inc = Inclusion(center_m=(0.006, 0.0, -0.009), radius_m=0.004)
    straight = model.pressure_frame_kpa(ProbePose(0.0, 0.0, -0.004), inc)
    turned = model.pressure_frame_kpa(ProbePose(0.0, 0.0, -0.004, math.pi / 2), inc)
    # the inclusion on the world's +x axis is on the probe's −y axis once the probe turns 90°
    np.testing.assert_allclose(turned, np.rot90(straight, k=1), rtol=1e-6)  # float32 products


@pytest.mark.parametrize("ratio", [8.0, 18.0, 1000.0])
@pytest.mark.parametrize("yaw", [0.0, 0.4])
def test_fast_frame_equals_the_direct_solve(model: TactileModel, ratio: float, yaw: float) -> None:
    # the frame's Woodbury update in float32 (and the level probe's in-place stress) against
    # the rigid-punch equations solved directly in float64: C f = δ·1 over the n × n compliance
    inc = Inclusion(center_m=(0.003, -0.002, -0.008), radius_m=0.004, modulus_ratio=ratio)
    for x in (-0.012, 0.0, 0.005):
        pose = ProbePose(x, 0.001, -0.004, yaw)
        direct = np.linalg.solve(model.compliance(pose, inc), np.ones(model.grid.n)) * 0.004
        assert (direct > 0.0).all()  # every taxel in contact: one linear solve is the answer
        np.testing.assert_allclose(model.taxel_forces_n(pose, inc), direct, rtol=2e-6)
        bump = direct - model.taxel_forces_n(pose, None)
        assert np.abs(bump).max() > 1e-3 * direct.max()  # there is an inclusion to get right


def test_inclusion_quadrature_has_converged(model: TactileModel) -> None:
    fine = TactileModel(samples_per_radius=6)
    pose = ProbePose(0.0013, 0.0007, -0.005)
    for r, d in ((0.003, 0.008), (0.008, 0.015)):
        inc = Inclusion(center_m=(0.0, 0.0, -d), radius_m=r, modulus_ratio=12.0)
        assert _bump(model, pose, inc).max() == pytest.approx(
            _bump(fine, pose, inc).max(), rel=0.02
        )


def test_configurable_grid() -> None:
    grid = TaxelGrid(rows=8, cols=12, pitch_m=0.003)
    m = TactileModel(grid=grid)
    inc = Inclusion(center_m=(0.0, 0.0, -0.01), radius_m=0.005)
    frame = m.pressure_frame_kpa(ProbePose(0.0, 0.0, -0.005), inc)
    assert frame.shape == (8, 12)
    assert frame_force_n(frame, grid) == pytest.approx(
        m.normal_force_n(ProbePose(0.0, 0.0, -0.005), inc)
    )


def test_inclusion_outside_the_slab_is_refused(model: TactileModel) -> None:
    with pytest.raises(ConfigError, match="does not fit"):
        model.pressure_frame_kpa(
            ProbePose(0.0, 0.0, -0.005), Inclusion(center_m=(0.0, 0.0, -0.002), radius_m=0.004)
        )
    with pytest.raises(ConfigError, match="samples_per_radius"):
        TactileModel(samples_per_radius=1)


_MODEL = TactileModel()


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-0.04, 0.04),
    y=st.floats(-0.04, 0.04),
    radius=st.floats(0.002, 0.01),
    top=st.floats(0.002, 0.015),
    ratio=st.floats(1.5, 30.0),
)
def test_a_stiffer_inclusion_never_softens_the_probe(
    x: float, y: float, radius: float, top: float, ratio: float
) -> None:
    """C loses strain energy where the inclusion is (ΔC ⪯ 0), so K = 1ᵀC⁻¹1 can only grow,
    and grows with the modulus ratio; every taxel keeps pushing (p ≥ 0)."""
    pose = ProbePose(x, y, -0.004)
    inc = Inclusion(center_m=(0.0, 0.0, -(top + radius)), radius_m=radius, modulus_ratio=ratio)
    forces = _MODEL.taxel_forces_n(pose, inc)
    assert (forces >= 0.0).all()
    base = _MODEL.normal_force_n(pose, None)
    f = float(forces.sum())
    assert f >= base * (1.0 - 1e-12)
    stiffer = inc.model_copy(update={"modulus_ratio": ratio * 1.5})
    assert _MODEL.normal_force_n(pose, stiffer) >= f * (1.0 - 1e-12)
