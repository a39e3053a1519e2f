"""Standard linear solid (Zener) tissue: force relaxes under a held indentation.

Soft tissue is viscoelastic: press and hold, and the force decays from its instantaneous
value toward a lower equilibrium. The standard linear solid, in its Maxwell form, is the
smallest model with that behaviour: an equilibrium spring k∞ in parallel with a Maxwell
branch (spring k₁ in series with a dashpot η = k₁·τ).

    F = k∞·s + Fₘ,      dFₘ/dt = k₁·ṡ − Fₘ/τ

s is the depth of the tissue surface under the tool. Under a step to depth s₀ held from
t = 0: F(t) = k∞·s₀ + k₁·s₀·e^{−t/τ}, relaxing from (k∞ + k₁)·s₀ to k∞·s₀ with time constant τ.

Integration is exact for a surface depth that is piecewise linear over each step (what a
sampled trajectory is): Fₘ ← Fₘ·e^{−Δt/τ} + k₁·τ·(1 − e^{−Δt/τ})·Δs/Δt. It is unconditionally
stable, so any Δt (1e-3 s at 1 kHz, or much longer) gives the right relaxation.

Contact without adhesion: the tool can only push. If the tool withdraws faster than the
tissue recovers, the surface separates from the tool (force 0) and creeps back on its own,
with the same exact update under the constraint F = 0, until the tool catches up with it. So
the model never pulls on the tool, and it stays passive.

The velocity in the input is not used: the rate comes from the depth difference between
steps, which keeps force and displacement consistent even if the caller's velocity is noisy.

State kept between ticks (`SLSState`): the surface depth s and the Maxwell branch's force Fₘ.
Both evolve with time as well as with depth: a repeated sample (the loop reuses the previous
device sample when a new one is late) is a tick with the tool held still, over which Fₘ
relaxes by the factor e^{−Δt/τ} (0.1 % of Fₘ per 1 ms tick at τ = 1 s), and the next sample
then adds two ticks' worth of depth at once. The force stays continuous: no step beyond what
the motion itself gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput


@dataclass(frozen=True, slots=True)
class SLSState:
    """Internal state of a `StandardLinearSolid`.

    surface_depth_m: s, depth of the tissue surface (equals the tool depth while in contact;
        larger than it while the surface is still recovering after a fast withdrawal).
    maxwell_force_n: Fₘ, the force carried by the spring-dashpot branch.
    """

    surface_depth_m: float = 0.0
    maxwell_force_n: float = 0.0


@dataclass(frozen=True, slots=True)
class StandardLinearSolid:
    """Viscoelastic tissue with stress relaxation (standard linear solid, Maxwell form).

    equilibrium_stiffness_n_per_m: k∞, what remains after full relaxation. Default 150 N/m.
    maxwell_stiffness_n_per_m: k₁, the extra instantaneous stiffness. Default 200 N/m, so the
        instantaneous stiffness is 350 N/m (below the ~400 N/m a Touch-class device renders
        stably) and the force relaxes to 43 % of its peak, in the 30–60 % range reported for
        indentation-relaxation of soft organs (literature order of magnitude).
    relaxation_time_s: τ = η/k₁. Default 1 s: soft-tissue relaxation is reported over time
        scales from a fraction of a second to tens of seconds; 1 s is visible to a user
        holding still and short enough for a demo.

    Raises ConfigError if a stiffness is negative or not finite, or τ is not positive.
    """

    equilibrium_stiffness_n_per_m: float = 150.0
    maxwell_stiffness_n_per_m: float = 200.0
    relaxation_time_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("equilibrium_stiffness_n_per_m", "maxwell_stiffness_n_per_m"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(
                    f"StandardLinearSolid {name} must be finite and >= 0, got {value}"
                )
        if self.equilibrium_stiffness_n_per_m + self.maxwell_stiffness_n_per_m <= 0.0:
            raise ConfigError("StandardLinearSolid needs at least one non-zero stiffness")
        if not 0.0 < self.relaxation_time_s < float("inf"):
            raise ConfigError(
                f"StandardLinearSolid relaxation_time_s must be finite and > 0, "
                f"got {self.relaxation_time_s}"
            )

    @property
    def instantaneous_stiffness_n_per_m(self) -> float:
        """k∞ + k₁, the stiffness felt on a fast press."""
        return self.equilibrium_stiffness_n_per_m + self.maxwell_stiffness_n_per_m

    def initial_state(self) -> SLSState:
        return SLSState()

    def step(self, state: SLSState, inp: TissueInput) -> tuple[SLSState, TissueOutput]:
        k_inf = self.equilibrium_stiffness_n_per_m
        s_old = state.surface_depth_m
        fm_old = state.maxwell_force_n
        dt = inp.dt_s
        if dt > 0.0:
            x = dt / self.relaxation_time_s
            decay = math.exp(-x)
            # c = k₁·τ·(1 − e^{−Δt/τ})/Δt: the branch's effective stiffness over one step.
            gain = self.maxwell_stiffness_n_per_m * -math.expm1(-x) / x
        else:
            decay = 1.0
            gain = self.maxwell_stiffness_n_per_m
        carried = fm_old * decay - gain * s_old
        # Where the surface would sit with zero force (free recovery over this step).
        s_free = -carried / (k_inf + gain)
        depth = inp.depth_m
        if depth > 0.0 and depth >= s_free:
            fm_new = carried + gain * depth
            force = k_inf * depth + fm_new
            return SLSState(depth, fm_new), TissueOutput(
                force_n=force if force > 0.0 else 0.0, layer=0
            )
        # Out of contact: the surface recovers ahead of the tool. A surface cannot rise above
        # its rest position without adhesion, so it is held at >= 0 (a 1-D simplification).
        s_new = s_free if s_free > 0.0 else 0.0
        return SLSState(s_new, carried + gain * s_new), TissueOutput(force_n=0.0)
