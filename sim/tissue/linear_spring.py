"""Linear spring contact: the simplest tissue, F = k·d.

For calibration and as the baseline every other model is compared against: a linear spring
is lossless and its force is exactly proportional to depth.

State kept between ticks: none (the state is None). The force is a function of the input's
depth alone, so a repeated sample renders the same force.
"""

from __future__ import annotations

from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput


@dataclass(frozen=True, slots=True)
class LinearSpring:
    """Stateless linear-spring tissue.

    Equation: F = k·d for d > 0, else 0 (N, with d in m).

    stiffness_n_per_m: k. Default 300 N/m: soft-tissue-like and below the ~400 N/m CHAI3D
        lists as stable on a Touch-class device (same choice as `KelvinVoigt`).

    Raises ConfigError if the stiffness is negative or not finite.
    """

    stiffness_n_per_m: float = 300.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.stiffness_n_per_m < float("inf"):
            raise ConfigError(
                f"LinearSpring stiffness must be a finite value >= 0 N/m, got "
                f"{self.stiffness_n_per_m}; pass e.g. stiffness_n_per_m=300.0"
            )

    def force_at(self, depth_m: float) -> float:
        """Elastic force in N at `depth_m` (m); 0 out of contact."""
        return self.stiffness_n_per_m * depth_m if depth_m > 0.0 else 0.0

    def initial_state(self) -> None:
        return None

    def step(self, state: None, inp: TissueInput) -> tuple[None, TissueOutput]:
        depth = inp.depth_m
        if depth > 0.0:
            return None, TissueOutput(force_n=self.stiffness_n_per_m * depth, layer=0)
        return None, TissueOutput(force_n=0.0)
