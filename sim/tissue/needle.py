"""Needle insertion through layered tissue: deflection, puncture, cutting and shaft friction.

The three phases of needle insertion (Okamura, Simone, O'Leary, "Force modeling for needle
insertion into soft tissue", IEEE TBME 51 (2004)), per layer of a `LayeredTissue` stack:

1. deflection: the intact layer's surface deflects with its stiffening law fᵢ;
2. puncture: when fᵢ reaches the layer's threshold the layer gives way (EVENT_PUNCTURE) and
   the force drops to what the next phase needs;
3. cutting + friction: advancing into fresh tissue costs the layer's cutting force at the
   tip, and the shaft rubs along every punctured layer it crosses.

    F = fₙ(d − eₙ)                (tip on intact layer n, met at depth eₙ; 0 otherwise)
      + σ(v)·Σⱼ μⱼ·Lⱼ             (shaft friction, j over punctured layers)
      + σ(v)·c_k                  (cutting: v > 0 into fresh tissue, tip in punctured layer k)

where Lⱼ is the shaft length inside layer j, μⱼ its friction per metre (N/m), c_k the cutting
force and σ(v) = clamp(v / v₀, −1, 1) a Karnopp-style smoothed sign (v₀ = 1 mm/s) so that
holding still renders no friction chatter. On retraction (v < 0) only friction remains, with
the opposite sign: force_n < 0 pulls the tool inward, resisting withdrawal. Re-advancing
along the already-cut track gives friction only, no cutting.

While the tip advances into fresh tissue on intact layer n > 0, the tip term is
max(fₙ(d − eₙ), σ(v)·c_{n−1}): until the next membrane pushes back harder than the cutting
force, the tip is still cutting the bottom of the layer above, so the force is continuous
where the tip meets a boundary and drops only at punctures.

Punctured layers stay punctured while the needle is inside; once it is fully withdrawn
(depth <= 0) the state resets to intact (the hole is assumed to close), and the force is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import TissueInput, TissueOutput
from sim.tissue.layered import INTACT, SKIN_FAT_MUSCLE, Layer, LayeredState, advance_tip


@dataclass(frozen=True, slots=True)
class NeedleInsertion:
    """A needle pushed through a layer stack (skin, fat, muscle by default).

    layers: the stack, outermost first; each `Layer` carries thickness, stiffness law,
        puncture force, cutting force and shaft friction. Defaults (literature order of
        magnitude, Okamura et al. 2004; Gerovich et al. 2004): skin 2 mm, puncture 1.5 N,
        cutting 0.3 N, friction 40 N/m; fat 10 mm, 0.5 N, 0.1 N, 20 N/m; muscle 15 mm, 1.2 N,
        0.3 N, 50 N/m.
    friction_velocity_m_s: v₀, the speed above which friction and cutting reach their full
        value. Default 1 mm/s, well below hand speeds (tens of mm/s).

    Raises ConfigError if no layers are given or v₀ is not positive.
    """

    layers: tuple[Layer, ...] = SKIN_FAT_MUSCLE
    friction_velocity_m_s: float = 1.0e-3

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("NeedleInsertion needs at least one Layer, e.g. SKIN_FAT_MUSCLE")
        if not 0.0 < self.friction_velocity_m_s < float("inf"):
            raise ConfigError(
                f"NeedleInsertion friction_velocity_m_s must be finite and > 0, "
                f"got {self.friction_velocity_m_s}"
            )

    def initial_state(self) -> LayeredState:
        return INTACT

    def shaft_friction_n(self, punctures: tuple[float, ...], depth_m: float) -> float:
        """Full-speed shaft friction in N with the tip at `depth_m` (m): Σ μⱼ·Lⱼ."""
        layers = self.layers
        last = len(layers) - 1
        total = 0.0
        entry = 0.0
        for j, puncture in enumerate(punctures):
            layer = layers[j]
            end = puncture + layer.thickness_m
            reach = depth_m if (j == last or depth_m < end) else end
            if reach > entry:
                total += layer.friction_n_per_m * (reach - entry)
            if depth_m <= end:
                break
            entry = end
        return total

    def step(self, state: LayeredState, inp: TissueInput) -> tuple[LayeredState, TissueOutput]:
        depth = inp.depth_m
        if not depth > 0.0:
            return INTACT, TissueOutput(force_n=0.0)
        layers = self.layers
        punctures, events, index, elastic, deflecting = advance_tip(
            layers, state.puncture_depths_m, depth
        )
        force = elastic
        sigma = inp.velocity_m_s / self.friction_velocity_m_s
        sigma = 1.0 if sigma > 1.0 else (-1.0 if sigma < -1.0 else sigma)
        if punctures and sigma != 0.0:
            force += sigma * self.shaft_friction_n(punctures, depth)
        deepest = state.deepest_m
        if depth > deepest:
            deepest = depth
            if sigma > 0.0:
                if not deflecting:
                    force += sigma * layers[index].cutting_force_n
                elif index > 0:
                    # Until the next membrane pushes back harder, the tip is still cutting
                    # the bottom of the layer above: the force stays continuous there.
                    cutting = sigma * layers[index - 1].cutting_force_n
                    if cutting > elastic:
                        force += cutting - elastic
        if punctures is not state.puncture_depths_m or deepest != state.deepest_m:
            state = LayeredState(punctures, deepest)
        return state, TissueOutput(force_n=force, layer=index, events=events)
