"""Exponential strain stiffening: F = A·(e^{B·d} − 1).

Soft tissue is compliant at small strain and stiffens sharply as collagen fibres straighten;
Fung's exponential law is the classic description (Y. C. Fung, "Elasticity of soft tissues in
simple elongation", Am. J. Physiol. 213 (1967); "Biomechanics: Mechanical Properties of Living
Tissues", 1993). Here it is written directly as a force-depth law for an indenter.

State kept between ticks: none (the state is None). The force is a function of the input's
depth alone, so a repeated sample renders the same force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput

# math.exp overflows just above 709; capping the argument keeps absurd depths finite (the
# control loop's force clamp is the real limit, this only keeps the model total).
_MAX_EXPONENT = 700.0


@dataclass(frozen=True, slots=True)
class ExponentialStiffening:
    """Stateless, lossless exponential-stiffening tissue.

    Equation: F = A·(e^{B·d} − 1) for d > 0, else 0. Stiffness dF/dd = A·B·e^{B·d} grows with
    depth, starting at A·B at the surface.

    scale_n: A in N. Default 0.5 N.
    rate_per_m: B in 1/m. Default 100 /m (the force scale grows e-fold every 10 mm).
    With the defaults F ≈ 0.86 N at 10 mm, 3.2 N at 20 mm, 9.5 N at 30 mm, and the stiffness
    goes from 50 N/m at the surface to ~370 N/m at 20 mm: the literature order of magnitude for
    indentation of soft organs (a few N at 1–2 cm), chosen to stay renderable on a
    Touch-class device over the first ~2 cm.

    Raises ConfigError if a parameter is negative or not finite.
    """

    scale_n: float = 0.5
    rate_per_m: float = 100.0

    def __post_init__(self) -> None:
        for name in ("scale_n", "rate_per_m"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(
                    f"ExponentialStiffening {name} must be finite and >= 0, got {value}"
                )

    def force_at(self, depth_m: float) -> float:
        """Elastic force in N at `depth_m` (m); 0 out of contact."""
        if not depth_m > 0.0:
            return 0.0
        exponent = self.rate_per_m * depth_m
        return self.scale_n * math.expm1(exponent if exponent < _MAX_EXPONENT else _MAX_EXPONENT)

    def initial_state(self) -> None:
        return None

    def step(self, state: None, inp: TissueInput) -> tuple[None, TissueOutput]:
        depth = inp.depth_m
        if not depth > 0.0:
            return None, TissueOutput(force_n=0.0)
        return None, TissueOutput(force_n=self.force_at(depth), layer=0)
