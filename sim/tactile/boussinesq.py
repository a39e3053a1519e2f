"""Elastic half-space kernels (Boussinesq) used by the tactile model.

Everything here is a pure numpy function of geometry; nothing depends on a pose or a clock.

Formulas (Boussinesq 1885; K. L. Johnson, *Contact Mechanics*, CUP 1985, §3.2, eqs. 3.20-3.22):

- A normal point force P on the surface of an elastic half-space (Young's modulus E, Poisson's
  ratio ν) displaces the surface at distance r by

      w(r) = (1 − ν²) P / (π E r) = P / (π E* r),        E* = E / (1 − ν²)          (B1)

- and causes, at depth z and horizontal distance r, the vertical stress

      σ_z(r, z) = 3 P z³ / (2π (r² + z²)^(5/2)) = P · G_z(r)                        (B2)

  G_z integrates to 1 over every horizontal plane (all of P passes through each depth) and
  spreads it as (1 + (r/z)²)^(−5/2): full width at half maximum 1.13 z, i.e. proportional to
  depth. Its 2-D Fourier transform is Ĝ_z(k) = (1 + kz) e^(−kz).

Compliance from the vertical stress alone (the "stress-energy" form used by the model): the
work of one unit force on the displacement caused by another, w_ij = ∫ σ_z^(i) σ_z^(j) / E dV
(Maxwell–Betti / unit-load method, keeping only σ_z and a 1-D strain σ_z / E). For a
homogeneous half-space, ∫_0^∞ Ĝ_z(k)² dz = 1.25 / k, while (B1) is 2 / (E* k) in Fourier space:
the σ_z-only form is short by the constant factor 0.625 at every wavelength, so scaling it by
ENERGY_SCALE = 1 / 0.625 = 1.6 (and using E*) reproduces Boussinesq's surface compliance
exactly. The model uses that scaled form for the background and for the inclusion alike.

A slab of thickness H on a rigid base is taken, as in Steinbrenner's (1934) settlement
method, as the half-space with the strain below H removed: its compliance is the half-space's
minus the tail ∫_H^∞, which has a closed form through ∫_0^∞ kⁿ e^(−ak) J₀(bk) dk
(Laplace transforms of J₀):

    tail(b) = ENERGY_SCALE / (2π E*) · [1.25 I₀ + 1.5 H I₁ + 0.5 H² I₂],  a = 2H,
    I₀ = 1/ρ,  I₁ = a/ρ³,  I₂ = (2a² − b²)/ρ⁵,  ρ = √(a² + b²)                      (B3)

(from ∫_H^∞ (1 + kz)² e^(−2kz) dz = e^(−2kH) (1.25 + 1.5 kH + 0.5 k²H²) / k).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

ENERGY_SCALE = 1.6
"""Factor that makes the σ_z-only strain energy reproduce Boussinesq's compliance (B1)."""

# Gauss–Legendre points and weights on [-1/2, 1/2] used to average over a taxel's square.
_GL_ORDER = 8
_gl_x, _gl_w = np.polynomial.legendre.leggauss(_GL_ORDER)
GAUSS_POINTS: FloatArray = 0.5 * _gl_x
GAUSS_WEIGHTS: FloatArray = 0.5 * _gl_w


def effective_modulus_pa(youngs_modulus_pa: float, poisson_ratio: float) -> float:
    """E* = E / (1 − ν²), the plane-strain modulus that (B1) uses."""
    return youngs_modulus_pa / (1.0 - poisson_ratio * poisson_ratio)


def point_load_stress_zz(dx: FloatArray, dy: FloatArray, z: FloatArray) -> FloatArray:
    """σ_z per newton of surface force (Pa/N) at horizontal offset (dx, dy) and depth z > 0 (B2)."""
    r2 = dx * dx + dy * dy + z * z
    out: FloatArray = (1.5 / math.pi) * z**3 / (r2 * r2 * np.sqrt(r2))
    return out


def patch_mean_stress_zz(
    dx: FloatArray, dy: FloatArray, z: FloatArray, pitch_m: float
) -> FloatArray:
    """σ_z per newton (Pa/N) spread uniformly over a square taxel of side `pitch_m`.

    (B2) averaged over the square to second order: mean ≈ σ + (s²/24) ∇²_h σ, with
    ∇²_h (r² + z²)^(−5/2) = (35 r² (r² + z²)^(−1) − 10) (r² + z²)^(−7/2). `dx`, `dy` are
    (n, N) offsets from the square's centre to the points, `z` their (N,) depths (> 0); the
    error is O((s/z)⁴): 3 % directly under the square at z = 1.5 s, under 0.5 % from z = 2.5 s.
    """
    rh2 = dx * dx + dy * dy
    r2 = rh2 + z * z
    inv = 1.0 / r2
    inv_r7 = inv * inv * inv * np.sqrt(inv)
    c = (1.5 / math.pi) * z**3
    s2 = pitch_m * pitch_m / 24.0
    out: FloatArray = (c * inv_r7) * (r2 + s2 * (35.0 * rh2 * inv - 10.0))
    return out


def _inverse_distance_primitive(x: FloatArray, y: FloatArray) -> FloatArray:
    """F(x, y) with ∂²F/∂x∂y = 1/√(x²+y²) for every sign of x and y.

    F = x·ln(y + r) + y·ln(x + r); written as x·asinh(y/|x|) + y·asinh(x/|y|), which differs
    from it by x·ln|x| + y·ln|y| (no mixed derivative, cancels in a rectangle's four corners)
    and is 0 on the axes.
    """
    ax = np.abs(x)
    ay = np.abs(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        fx = np.where(ax > 0.0, x * np.arcsinh(y / np.where(ax > 0.0, ax, 1.0)), 0.0)
        fy = np.where(ay > 0.0, y * np.arcsinh(x / np.where(ay > 0.0, ay, 1.0)), 0.0)
    out: FloatArray = fx + fy
    return out


def rectangle_inverse_distance(
    px: FloatArray, py: FloatArray, x0: float, x1: float, y0: float, y1: float
) -> FloatArray:
    """∫∫ dA / |p − q| over q in the rectangle [x0, x1] × [y0, y1], for points p = (px, py)."""
    f = _inverse_distance_primitive
    out: FloatArray = (
        f(x1 - px, y1 - py) - f(x0 - px, y1 - py) - f(x1 - px, y0 - py) + f(x0 - px, y0 - py)
    )
    return out


def halfspace_patch_compliance(offsets_m: FloatArray, pitch_m: float) -> FloatArray:
    """Mean surface displacement over one square taxel per newton spread over another (m/N · E*).

    `offsets_m` (..., 2) are centre-to-centre offsets; the answer is to be divided by E*. This
    is (B1) integrated over both squares (a Galerkin boundary element): exact over the loaded
    square (closed form), 8×8 Gauss points over the receiving one.
    """
    h = 0.5 * pitch_m
    gx, gy = np.meshgrid(GAUSS_POINTS * pitch_m, GAUSS_POINTS * pitch_m, indexing="ij")
    gw = np.outer(GAUSS_WEIGHTS, GAUSS_WEIGHTS)
    px = offsets_m[..., 0, None, None] + gx
    py = offsets_m[..., 1, None, None] + gy
    integral = rectangle_inverse_distance(px, py, -h, h, -h, h)
    area = pitch_m * pitch_m
    out: FloatArray = (integral * gw).sum(axis=(-2, -1)) / (math.pi * area)
    return out


def layer_tail_compliance(offsets_m: FloatArray, pitch_m: float, thickness_m: float) -> FloatArray:
    """The part of the half-space compliance stored below depth H (B3), in m/N · E*.

    Subtracting it from `halfspace_patch_compliance` gives a slab of thickness H on a rigid
    base (Steinbrenner). Averaged over both squares with 2×2 Gauss points each (the tail is
    smooth on the scale of H, much larger than a taxel).
    """
    g = np.array([-0.5, 0.5]) / math.sqrt(3.0) * pitch_m
    a = 2.0 * thickness_m
    total = np.zeros(offsets_m.shape[:-1])
    for ax_ in g:
        for ay_ in g:
            for bx_ in g:
                for by_ in g:
                    dx = offsets_m[..., 0] + ax_ - bx_
                    dy = offsets_m[..., 1] + ay_ - by_
                    b2 = dx * dx + dy * dy
                    rho2 = a * a + b2
                    rho = np.sqrt(rho2)
                    i0 = 1.0 / rho
                    i1 = a / (rho2 * rho)
                    i2 = (2.0 * a * a - b2) / (rho2 * rho2 * rho)
                    total = total + (1.25 * i0 + 1.5 * thickness_m * i1 + 0.5 * thickness_m**2 * i2)
    out: FloatArray = ENERGY_SCALE / (2.0 * math.pi) * total / 16.0
    return out


def rigid_square_punch_stiffness(effective_modulus: float, side_m: float) -> float:
    """Reference stiffness F/δ (N/m) of a rigid square punch on a half-space: 1.135 E* · side.

    Gazetas (1991), vertical stiffness of a rigid footing of any shape,
    K = 2GL/(1 − ν) · (0.73 + 1.54 χ^0.75) with χ = 1 for a square of half-side L, and
    2G/(1 − ν) = E*. Used to validate the boundary-element solution.
    """
    return 0.5 * side_m * effective_modulus * (0.73 + 1.54)
