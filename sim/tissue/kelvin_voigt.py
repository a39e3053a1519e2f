"""Kelvin–Voigt contact: a spring and a damper in parallel, the haptics workhorse.

F = k·d + b·ḋ while in contact (d > 0), clamped at zero so the damper never pulls the tool
back in on fast release (that "sticky" negative force is what Hunt–Crossley fixes
properly). Plain floats: ~0.2 µs a call, cheap enough for every 1 kHz tick.

State kept between ticks: none (the state is None). The force is a function of the input's
depth and velocity alone, so a repeated sample renders the same force.
"""

from __future__ import annotations

from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput


def kelvin_voigt_force(
    depth_m: float,
    velocity_m_s: float,
    stiffness: float,
    damping: float,
    damping_onset_m: float = 0.0,
) -> float:
    """Normal force in N for a penetration `depth_m` (m) moving at `velocity_m_s` (m/s).

    `stiffness` in N/m, `damping` in N·s/m. Zero out of contact and never negative. With
    `damping_onset_m` > 0 (m) the damping builds up linearly over that first depth, so the
    force is continuous where contact begins (the classic law steps by b·ḋ there).
    """
    if depth_m <= 0.0:
        return 0.0
    if depth_m < damping_onset_m:
        damping *= depth_m / damping_onset_m
    force = stiffness * depth_m + damping * velocity_m_s
    return force if force > 0.0 else 0.0


@dataclass(frozen=True, slots=True)
class KelvinVoigt:
    """Stateless Kelvin–Voigt tissue: F = max(0, k·d + b·ḋ) for d > 0, else 0.

    Passive: on release the clamped damper force is below the spring force, so a
    press-and-release cycle can only absorb energy.

    Defaults: 300 N/m is soft-tissue-like and below the 400 N/m CHAI3D lists as stable on a
    Touch-class device; 1 N·s/m of damping is a small, passive amount.

    Raises ConfigError if a parameter is negative or not finite.
    """

    stiffness_n_per_m: float = 300.0
    damping_ns_per_m: float = 1.0

    def __post_init__(self) -> None:
        for name in ("stiffness_n_per_m", "damping_ns_per_m"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(f"KelvinVoigt {name} must be finite and >= 0, got {value}")

    def initial_state(self) -> None:
        return None

    def step(self, state: None, inp: TissueInput) -> tuple[None, TissueOutput]:
        force = kelvin_voigt_force(
            inp.depth_m, inp.velocity_m_s, self.stiffness_n_per_m, self.damping_ns_per_m
        )
        return None, TissueOutput(force_n=force, layer=0 if inp.depth_m > 0.0 else -1)
