"""Hunt–Crossley contact: nonlinear spring with depth-scaled damping.

F = k·dⁿ + λ·dⁿ·ḋ = k·dⁿ·(1 + α·ḋ) with λ = α·k, for d > 0, clamped at F ≥ 0.

Because the damping term is scaled by dⁿ it vanishes at the surface, so the force is
continuous at first contact and at release (no impact spike, no "sticky" pull as with a
linear damper). The clamp covers release faster than 1/α, where the raw law would go
negative; the tissue then simply loses contact with the tool.

Sources: K. H. Hunt and F. R. E. Crossley, "Coefficient of restitution interpreted as damping
in vibroimpact", ASME J. Appl. Mech. 42 (1975); D. W. Marhefka and D. E. Orin, "A compliant
contact model with nonlinear damping for simulation of robotic systems", IEEE Trans. SMC-A 29
(1999), which writes λ = (3/2)·α·k and relates α to the restitution coefficient.

State kept between ticks: none (the state is None). The force is a function of the input's
depth and velocity alone, so a repeated sample renders the same force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput


@dataclass(frozen=True, slots=True)
class HuntCrossley:
    """Stateless Hunt–Crossley tissue.

    stiffness_n_per_m_pow_n: k in N/mⁿ. Default 2000 N/m^1.5: 2 N at 10 mm and a local
        stiffness dF/dd = 300 N/m there, inside the range a Touch-class device renders stably.
    exponent: n (dimensionless). Default 1.5, the Hertz exponent for a rounded tip.
    damping_s_per_m: α in s/m, so λ = α·k in N·s/m^(n+1). Default 1.0 s/m: soft tissue is
        strongly damped; α ≈ 1.5·(1 − e)/v_impact gives ~1 s/m for a restitution e ≈ 0.3 at
        1 m/s (Hunt & Crossley 1975; Marhefka & Orin 1999).

    Raises ConfigError if a parameter is negative or not finite, or the exponent is < 1.
    """

    stiffness_n_per_m_pow_n: float = 2000.0
    exponent: float = 1.5
    damping_s_per_m: float = 1.0

    def __post_init__(self) -> None:
        for name in ("stiffness_n_per_m_pow_n", "damping_s_per_m"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(f"HuntCrossley {name} must be finite and >= 0, got {value}")
        if not 1.0 <= self.exponent < float("inf"):
            raise ConfigError(
                f"HuntCrossley exponent must be >= 1 (1 = linear, 1.5 = Hertz), got {self.exponent}"
            )

    @property
    def damping_lambda(self) -> float:
        """λ = α·k, the coefficient of dⁿ·ḋ in N·s/m^(n+1)."""
        return self.damping_s_per_m * self.stiffness_n_per_m_pow_n

    def force_at(self, depth_m: float) -> float:
        """Elastic part k·dⁿ in N at `depth_m` (m); 0 out of contact."""
        if not depth_m > 0.0:
            return 0.0
        return self.stiffness_n_per_m_pow_n * math.pow(depth_m, self.exponent)

    def initial_state(self) -> None:
        return None

    def step(self, state: None, inp: TissueInput) -> tuple[None, TissueOutput]:
        depth = inp.depth_m
        if not depth > 0.0:
            return None, TissueOutput(force_n=0.0)
        force = (
            self.stiffness_n_per_m_pow_n
            * math.pow(depth, self.exponent)
            * (1.0 + self.damping_s_per_m * inp.velocity_m_s)
        )
        return None, TissueOutput(force_n=force if force > 0.0 else 0.0, layer=0)
