"""Polynomial strain stiffening: F = k₁·d + k₂·d² + k₃·d³.

The form used for the pre-puncture stiffness of soft tissue in needle-insertion models
(A. M. Okamura, C. Simone, M. D. O'Leary, "Force modeling for needle insertion into soft
tissue", IEEE Trans. Biomed. Eng. 51 (2004), which fits a second-order polynomial). With
non-negative coefficients the force is convex: the slope grows with depth.

State kept between ticks: none (the state is None). The force is a function of the input's
depth alone, so a repeated sample renders the same force.
"""

from __future__ import annotations

from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput


@dataclass(frozen=True, slots=True)
class PolynomialStiffening:
    """Stateless, lossless polynomial-stiffening tissue.

    Equation: F = k₁·d + k₂·d² + k₃·d³ for d > 0, else 0 (N, d in m).

    linear_n_per_m: k₁, the surface stiffness. Default 100 N/m.
    quadratic_n_per_m2: k₂. Default 1e4 N/m².
    cubic_n_per_m3: k₃. Default 0 (Okamura et al. 2004 use a quadratic).
    With the defaults F = 2 N at 10 mm with a local stiffness of 300 N/m there: the
    literature order of magnitude for soft-tissue indentation, renderable on a Touch-class
    device.

    Raises ConfigError if a coefficient is negative (the law must stiffen) or not finite.
    """

    linear_n_per_m: float = 100.0
    quadratic_n_per_m2: float = 1.0e4
    cubic_n_per_m3: float = 0.0

    def __post_init__(self) -> None:
        for name in ("linear_n_per_m", "quadratic_n_per_m2", "cubic_n_per_m3"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(
                    f"PolynomialStiffening {name} must be finite and >= 0 so the force "
                    f"stiffens with depth, got {value}"
                )

    def force_at(self, depth_m: float) -> float:
        """Elastic force in N at `depth_m` (m); 0 out of contact."""
        if not depth_m > 0.0:
            return 0.0
        d = depth_m
        return d * (self.linear_n_per_m + d * (self.quadratic_n_per_m2 + d * self.cubic_n_per_m3))

    def initial_state(self) -> None:
        return None

    def step(self, state: None, inp: TissueInput) -> tuple[None, TissueOutput]:
        depth = inp.depth_m
        if not depth > 0.0:
            return None, TissueOutput(force_n=0.0)
        return None, TissueOutput(force_n=self.force_at(depth), layer=0)
