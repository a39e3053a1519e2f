"""Pressure under a flat, rigid, level palpation probe pressed into tissue with a stiff inclusion.

The tissue is an elastic slab (Young's modulus E, Poisson's ratio ν, thickness H on a rigid
base) holding a sphere `modulus_ratio` times stiffer. The probe face is a rigid flat punch
tiled by the taxels; it is pressed in by the indentation δ. Each taxel carries a uniform
pressure p_j (a piecewise-constant boundary element), i.e. a force f_j = A p_j.

Compliance (formulas in `sim.tactile.boussinesq`): the mean displacement under taxel i per
unit force on taxel j is the work of the two unit loads' vertical stress fields,

    C_ij = S ∫_slab σ_z^(i) σ_z^(j) / E*(x) dV,       S = ENERGY_SCALE = 1.6,

which for the homogeneous slab is Boussinesq's w = P/(π E* r) (Johnson, Contact Mechanics,
§3.2) less the strain below H (Steinbrenner), in closed form, averaged over the two squares.
The inclusion replaces 1/E* by 1/(ratio · E*) over its volume:

    C = C₀ / E* + U diag(w_c) Uᵀ,   U_ic = σ_z^(i)(x_c),   w_c = S (1/E*_inc − 1/E*) ΔV_c,

with U the point-load stress (B2) averaged over taxel i's square, at quadrature
points x_c filling the sphere (a lattice of `samples_per_radius` per radius, fixed to the
inclusion, so the answer moves smoothly with the probe). C is a Gram matrix of positive
energies, so it stays symmetric positive definite at any contrast.

Relation to the layered-column (Winkler) model: under a load much wider than the slab is
thick, σ_z = p at every depth and C reduces to each column's own Σ hₗ/Eₗ (times S), a
Winkler foundation of stacked layers. Winkler alone cannot show depth: a column's compliance
does not depend on where along it the stiff part sits, and neighbouring columns do not share
load, so its bump is the inclusion's sharp silhouette at any depth. The stress spreading of
(B2) is what couples the columns and makes depth visible.

Rigid punch: every taxel in contact moves by δ, so C f = δ·1 on the contact set, with f ≥ 0
(taxels that would pull are taken out of contact and the rest solved again). The normal force
on the probe is F = Σ f_j = A Σ p_j: the taxel sum and the probe's force are one number,
by construction.

What the inclusion looks like: its stiffness removes strain energy at depth d, where the
stress of a surface load has spread as (1 + (r/d)²)^(−5/2) (B2). Taxels within about d of the
inclusion's axis share that reduced compliance, so the pressure bump is about as wide as the
inclusion plus ~d and its height falls as the energy is shared among more taxels: it widens
and weakens with depth, with no blur put in by hand (the tests measure both). Measured on
the default probe (16 × 16 taxels at 2 mm, 7 kPa slab 40 mm thick, ν = 0.45, pressed 5 mm),
a 3 mm-radius inclusion 10× stiffer, centred under the probe:

    centre depth (mm)            6     9    12    16    20
    bump width at half max (mm)  4.5   7.8   9.0  12.8  16.3
    peak contrast (%)           41    14     6.1   2.5   1.2
    probe force change (%)       0.25  0.25  0.24  0.21  0.16

The pressure image sees what the summed force barely does: that is why the tactile
detector beats the stylus-force one (`sim.tactile.detect`).

Limits: small strain (geometry of the undeformed tissue, force linear in δ; keep δ below the
inclusion's top depth, ~10 % of the slab, for the numbers to mean much); the inclusion's own
disturbance of the stress field is neglected (first order in the stress, exact in the
modulus); only σ_z carries energy (the 1.6 factor makes the homogeneous case exact, and the
inclusion is assumed to scale the same way); the slab is the half-space with the energy
below H removed (Steinbrenner-style), which ignores how a bonded base confines a nearly
incompressible layer, so a thin slab under a wide probe comes out softer than it would be;
frictionless, level probe; the slab is laterally unbounded (the scene's block is 100 mm
wide, the probe 32 mm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haptics.errors import ConfigError
from sim.tactile.blas import one_blas_thread
from sim.tactile.boussinesq import (
    ENERGY_SCALE,
    FloatArray,
    effective_modulus_pa,
    halfspace_patch_compliance,
    layer_tail_compliance,
    patch_mean_stress_zz,
)
from sim.tactile.grid import ProbePose, TaxelGrid


class TissueSlab(BaseModel):
    """The background tissue: a slab on a rigid base, its top surface the plane z = 0."""

    model_config = ConfigDict(frozen=True)

    modulus_pa: float = Field(
        7000.0, gt=0.0, description="Young's modulus of the background (normal breast ≈ 7 kPa)"
    )
    poisson_ratio: float = Field(
        0.45, ge=0.0, lt=0.5, description="tissue is nearly incompressible"
    )
    thickness_m: float = Field(0.04, gt=0.0, description="slab thickness over the rigid base")

    @property
    def effective_modulus_pa(self) -> float:
        return effective_modulus_pa(self.modulus_pa, self.poisson_ratio)


class Inclusion(BaseModel):
    """A stiff sphere buried in the slab (world frame; z of its centre is negative)."""

    model_config = ConfigDict(frozen=True)

    center_m: tuple[float, float, float]
    radius_m: float = Field(gt=0.0)
    modulus_ratio: float = Field(
        10.0, ge=1.0, le=1000.0, description="its modulus over the background's (tumours: 8-18)"
    )

    @classmethod
    def from_ground_truth(
        cls, truth: Mapping[str, Any], modulus_ratio: float | None = None
    ) -> Inclusion:
        """The inclusion a scene recorded as ground truth (`center_m`, `radius_m`, and
        `modulus_ratio` unless given here), e.g. a manifest's `ground_truth.inclusion`.

        Raises ConfigError when a key is missing or a value is out of range.
        """
        ratio = modulus_ratio if modulus_ratio is not None else truth.get("modulus_ratio")
        try:
            return cls(
                center_m=tuple(truth["center_m"]),
                radius_m=truth["radius_m"],
                modulus_ratio=ratio,
            )
        except (KeyError, TypeError, ValidationError) as exc:
            raise ConfigError(
                f"ground truth {dict(truth)} is not an inclusion ({exc}): it needs center_m "
                "(x, y, z in m, z < 0), radius_m, and modulus_ratio (here or as an argument)"
            ) from exc

    @property
    def depth_m(self) -> float:
        """Depth of its centre below the surface."""
        return -self.center_m[2]

    @property
    def top_depth_m(self) -> float:
        return self.depth_m - self.radius_m


@cache
def _unit_ball_quadrature(samples_per_radius: int) -> tuple[FloatArray, FloatArray]:
    """Centroids and volumes of the parts of a cubic lattice's cubes inside the unit ball."""
    h = 1.0 / samples_per_radius
    k = (np.arange(-samples_per_radius, samples_per_radius) + 0.5) * h
    sub = (np.arange(8) + 0.5) / 8.0 * h - 0.5 * h
    cubes = np.stack(np.meshgrid(k, k, k, indexing="ij"), axis=-1).reshape(-1, 3)
    offs = np.stack(np.meshgrid(sub, sub, sub, indexing="ij"), axis=-1).reshape(-1, 3)
    pts = cubes[:, None, :] + offs[None, :, :]
    inside = (pts**2).sum(axis=-1) <= 1.0
    count = inside.sum(axis=1)
    keep = count > 0
    centroids = (pts * inside[..., None]).sum(axis=1)[keep] / count[keep, None]
    volumes = count[keep].astype(float)
    volumes *= 4.0 / 3.0 * math.pi / volumes.sum()
    centroids.setflags(write=False)
    volumes.setflags(write=False)
    return centroids, volumes


def inclusion_quadrature(
    inclusion: Inclusion, samples_per_radius: int
) -> tuple[FloatArray, FloatArray]:
    """Points filling the sphere and their volumes: ((N, 3) world x, y, depth; (N,) m³).

    The cubes of a lattice of spacing radius / samples_per_radius that meet the sphere, each
    represented by the centroid and the volume of its part inside (measured on 8³ sub-points),
    scaled so the volumes add up to the sphere's exactly.
    """
    unit, unit_volumes = _unit_ball_quadrature(samples_per_radius)
    r = inclusion.radius_m
    cx, cy, cz = inclusion.center_m
    world = np.stack([unit[:, 0] * r + cx, unit[:, 1] * r + cy, unit[:, 2] * r - cz], axis=1)
    return world, unit_volumes * r**3


Float32Array = NDArray[np.float32]


@dataclass(frozen=True)
class _InclusionTerms:
    points: FloatArray  # (N, 3): world x, y and depth (> 0)
    weights: FloatArray  # (N,): S (1/E*_inc − 1/E*) ΔV, m³/Pa (negative)
    # for the level-probe stress (float32, see `TactileModel._level_stress`)
    depth2: Float32Array  # (N,) depth²
    scale: Float32Array  # (N,) 1.5/π · depth³


class TactileModel:
    """The slab and the probe's taxel grid, with everything that does not move precomputed.

    Build once (tens of ms), then ask for `taxel_forces_n`, `pressure_frame_kpa` or
    `normal_force_n` at any pose: each is a pure function of (pose, inclusion).
    """

    def __init__(
        self,
        grid: TaxelGrid | None = None,
        tissue: TissueSlab | None = None,
        samples_per_radius: int = 2,
    ) -> None:
        """Precompute the homogeneous compliance.

        Raises ConfigError when samples_per_radius is below 2 (too coarse to mean anything).
        """
        if samples_per_radius < 2:
            raise ConfigError(
                f"samples_per_radius={samples_per_radius}: use 2 or more (2 is the default)"
            )
        self.grid = grid or TaxelGrid()
        self.tissue = tissue or TissueSlab()
        self.samples_per_radius = samples_per_radius
        g = self.grid
        self._e_star = self.tissue.effective_modulus_pa
        # compliance of every centre-to-centre offset, then gathered into the n × n matrix
        ox = np.arange(-(g.cols - 1), g.cols) * g.pitch_m
        oy = np.arange(-(g.rows - 1), g.rows) * g.pitch_m
        offsets = np.stack(np.meshgrid(ox, oy, indexing="xy"), axis=-1)
        table = halfspace_patch_compliance(offsets, g.pitch_m) - layer_tail_compliance(
            offsets, g.pitch_m, self.tissue.thickness_m
        )
        rc = np.indices((g.rows, g.cols)).reshape(2, -1)
        dr = rc[0][:, None] - rc[0][None, :] + (g.rows - 1)
        dc = rc[1][:, None] - rc[1][None, :] + (g.cols - 1)
        self.base_compliance: FloatArray = table[dr, dc] / self._e_star  # m/N
        with one_blas_thread():
            import scipy.linalg  # on first use: importing it costs seconds on a loaded box

            self._base_inverse: FloatArray = scipy.linalg.cho_solve(
                scipy.linalg.cho_factor(self.base_compliance), np.eye(g.n)
            )
        # forces (N) for δ = 1 m on homogeneous tissue
        self._base_unit_forces: FloatArray = self._base_inverse.sum(axis=1)
        # the per-frame products in float32: the 256 × 256 inverse then takes 256 KB, half a
        # core's L2 cache, and a frame half the time (float32 rounding, ~1e-7, is far below
        # the model's own error and the array's noise)
        self._base_inverse32: Float32Array = self._base_inverse.astype(np.float32)
        self._base_unit_forces32: Float32Array = self._base_unit_forces.astype(np.float32)
        xs, ys = self.grid.centres_m[: g.cols, 0], self.grid.centres_m[:: g.cols, 1]
        self._column_x: FloatArray = np.ascontiguousarray(xs)
        self._row_y: FloatArray = np.ascontiguousarray(ys)
        self._stress_work: dict[int, tuple[Float32Array, Float32Array, Float32Array]] = {}
        self._terms_cache: dict[Inclusion, _InclusionTerms] = {}

    @property
    def base_stiffness_n_per_m(self) -> float:
        """F/δ of the probe on tissue without an inclusion."""
        return float(self._base_unit_forces.sum())

    def _terms(self, inclusion: Inclusion) -> _InclusionTerms:
        cached = self._terms_cache.get(inclusion)
        if cached is not None:
            return cached
        if inclusion.top_depth_m <= 0.0 or inclusion.depth_m + inclusion.radius_m >= (
            self.tissue.thickness_m
        ):
            raise ConfigError(
                f"inclusion at depth {inclusion.depth_m * 1e3:.1f} mm with radius "
                f"{inclusion.radius_m * 1e3:.1f} mm does not fit inside the "
                f"{self.tissue.thickness_m * 1e3:.1f} mm slab: move it deeper or shallower, "
                "or shrink it"
            )
        pts, vol = inclusion_quadrature(inclusion, self.samples_per_radius)
        e_inc = inclusion.modulus_ratio * self._e_star
        w = ENERGY_SCALE * (1.0 / e_inc - 1.0 / self._e_star) * vol
        depth = pts[:, 2]
        terms = _InclusionTerms(
            pts,
            w,
            (depth * depth).astype(np.float32),
            ((1.5 / math.pi) * depth**3).astype(np.float32),
        )
        if len(self._terms_cache) > 64:
            self._terms_cache.clear()
        self._terms_cache[inclusion] = terms
        return terms

    def stress_at_points(self, pose: ProbePose, points: FloatArray) -> FloatArray:
        """(n, N) vertical stress (Pa/N) at world points (x, y, depth) per newton on each taxel."""
        centres = pose.points_to_world(self.grid.centres_m)
        dx = centres[:, 0, None] - points[None, :, 0]
        dy = centres[:, 1, None] - points[None, :, 1]
        return patch_mean_stress_zz(dx, dy, points[:, 2], self.grid.pitch_m)

    def _level_stress(self, pose: ProbePose, terms: _InclusionTerms) -> Float32Array:
        """`stress_at_points` (float32) for a probe with yaw 0, into reused buffers.

        With the probe's axes along the world's, a taxel's x depends on its column only and
        its y on its row, so the offsets are (cols, N) and (rows, N) arrays broadcast into the
        (rows, cols, N) result; `patch_mean_stress_zz`'s formula, evaluated in place. The
        array returned is overwritten by the next call.
        """
        g, pts = self.grid, terms.points
        n_pts = pts.shape[0]
        work = self._stress_work.get(n_pts)
        if work is None:
            shape = (g.rows, g.cols, n_pts)
            work = (
                np.empty(shape, np.float32),
                np.empty(shape, np.float32),
                np.empty(shape, np.float32),
            )
            self._stress_work = {n_pts: work}
        rh2, inv, out = work
        dx = ((pose.x_m + self._column_x)[:, None] - pts[None, :, 0]).astype(np.float32)
        dy = ((pose.y_m + self._row_y)[:, None] - pts[None, :, 1]).astype(np.float32)
        dx *= dx
        dy *= dy
        np.add(dy[:, None, :], dx[None, :, :], out=rh2)
        np.add(rh2, terms.depth2, out=inv)
        np.reciprocal(inv, out=inv)  # 1 / r²
        # σ = c · r⁻⁵ · (1 + s²/24 · (35 rₕ² / r² − 10) / r²)
        np.multiply(rh2, inv, out=rh2)
        rh2 *= np.float32(35.0)
        rh2 -= np.float32(10.0)
        rh2 *= inv
        rh2 *= np.float32(g.pitch_m * g.pitch_m / 24.0)
        rh2 += np.float32(1.0)
        np.sqrt(inv, out=out)
        out *= inv
        out *= inv
        out *= rh2
        out *= terms.scale
        return out.reshape(g.n, n_pts)

    def compliance(self, pose: ProbePose, inclusion: Inclusion | None) -> FloatArray:
        """The n × n compliance C (m/N) between the taxels at this pose."""
        if inclusion is None:
            return self.base_compliance
        terms = self._terms(inclusion)
        u = self.stress_at_points(pose, terms.points)
        out: FloatArray = self.base_compliance + (u * terms.weights) @ u.T
        return out

    def unit_forces(self, pose: ProbePose, inclusion: Inclusion | None) -> FloatArray:
        """Taxel forces (N) per metre of indentation at this pose (n,), all ≥ 0.

        Solved through the Woodbury identity around the precomputed homogeneous inverse
        (C = C₀ + U W Uᵀ has rank-N changes, N ≈ 64 quadrature points), its n × N products
        in float32 (the result agrees with the direct float64 solve to ~1e-6: the tests
        check it); when a taxel would pull, the contact set shrinks and the rest is solved
        directly.
        Raises ConfigError when the inclusion does not fit inside the slab.
        """
        if inclusion is None or inclusion.modulus_ratio == 1.0:  # 1.0: it is the tissue
            return self._base_unit_forces
        terms = self._terms(inclusion)
        with one_blas_thread():
            return self._solve(pose, terms)

    def _solve(self, pose: ProbePose, terms: _InclusionTerms) -> FloatArray:
        if pose.yaw_rad == 0.0:
            u32 = self._level_stress(pose, terms)
        else:
            u32 = self.stress_at_points(pose, terms.points).astype(np.float32)
        z = self._base_inverse32 @ u32  # (n, N): the costly product, in float32
        s = np.diag(1.0 / terms.weights) + (u32.T @ z).astype(np.float64)
        y = np.linalg.solve(s, (u32.T @ self._base_unit_forces32).astype(np.float64))
        f: FloatArray = self._base_unit_forces - (z @ y.astype(np.float32)).astype(np.float64)
        if (f >= 0.0).all():
            return f
        u = self.stress_at_points(pose, terms.points)
        c = self.base_compliance + (u * terms.weights) @ u.T
        active = np.ones(self.grid.n, dtype=bool)
        for _ in range(self.grid.n):
            fa = _solve_spd(c[np.ix_(active, active)])
            if (fa >= 0.0).all():
                f = np.zeros(self.grid.n)
                f[active] = fa
                return f
            idx = np.flatnonzero(active)
            active[idx[fa < 0.0]] = False
        return np.zeros(self.grid.n)  # pragma: no cover - every pass removes a taxel

    def taxel_forces_n(self, pose: ProbePose, inclusion: Inclusion | None) -> FloatArray:
        """Force (N) on each taxel, (n,) in row-major order; zeros when the probe is above z = 0."""
        delta = pose.indentation_m
        if delta <= 0.0:
            return np.zeros(self.grid.n)
        out: FloatArray = self.unit_forces(pose, inclusion) * delta
        return out

    def pressure_frame_kpa(self, pose: ProbePose, inclusion: Inclusion | None) -> FloatArray:
        """The noise-free tactile frame: pressure (kPa) on each taxel, shape (rows, cols)."""
        p = self.taxel_forces_n(pose, inclusion) / self.grid.taxel_area_m2 * 1e-3
        out: FloatArray = p.reshape(self.grid.rows, self.grid.cols)
        return out

    def normal_force_n(self, pose: ProbePose, inclusion: Inclusion | None) -> float:
        """The probe's normal force (N): the sum of the taxel forces, solved directly."""
        return float(self.taxel_forces_n(pose, inclusion).sum())


def slab_for_stiffness(
    stiffness_n_per_m: float, grid: TaxelGrid | None = None, tissue: TissueSlab | None = None
) -> TissueSlab:
    """`tissue` (default slab) with its modulus scaled so the probe's F/δ on it, without an
    inclusion, is `stiffness_n_per_m` (F/δ is proportional to the modulus).

    For scenes tuned by feel in N/m. Raises ConfigError for a stiffness that is not positive.
    """
    if not stiffness_n_per_m > 0.0:
        raise ConfigError(f"stiffness {stiffness_n_per_m} N/m: use a positive stiffness")
    tissue = tissue or TissueSlab()
    k = TactileModel(grid=grid, tissue=tissue).base_stiffness_n_per_m
    return tissue.model_copy(update={"modulus_pa": tissue.modulus_pa * stiffness_n_per_m / k})


def _solve_spd(c: FloatArray) -> FloatArray:
    """x with C x = 1 for a symmetric positive definite C (Cholesky; LU if rounding spoils it)."""
    ones = np.ones(c.shape[0])
    try:
        import scipy.linalg

        factor = scipy.linalg.cho_factor(c, check_finite=False, overwrite_a=False)
        out: FloatArray = scipy.linalg.cho_solve(factor, ones, check_finite=False)
    except np.linalg.LinAlgError:
        out = np.asarray(np.linalg.solve(c, ones), dtype=np.float64)
    return out


def frame_force_n(frame_kpa: FloatArray, grid: TaxelGrid) -> float:
    """The normal force (N) a pressure frame (kPa) adds up to: A · Σ p."""
    return float(np.asarray(frame_kpa).sum() * 1e3 * grid.taxel_area_m2)
