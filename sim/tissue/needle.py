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
      + σ(v)·w(d)·c_k             (cutting: v > 0, tip in punctured layer k)

where Lⱼ is the shaft length inside layer j, μⱼ its friction per metre (N/m), c_k the cutting
force and σ(v) = clamp(v / v₀, −1, 1) a Karnopp-style smoothed sign (v₀ = 1 mm/s) so that
holding still renders no friction chatter. On retraction (v < 0) only friction remains, with
the opposite sign: force_n < 0 pulls the tool inward, resisting withdrawal.

Fresh tissue: w(d) = clamp(1 − (D − d)/b, 0, 1), with D the deepest tip depth reached and b
the bevel length. At the front of the track (d = D) the whole bevel cuts (w = 1); re-advancing
along the already-cut track gives friction only until the bevel reaches fresh tissue again,
and the cutting force then builds up over b. w depends on depth only, never on whether the
depth changed since the previous tick, so a repeated sample (the loop reuses the previous
device sample when a new one arrives late) renders the same force: no one-tick drop.

While the tip advances into fresh tissue on intact layer n > 0, the tip term is
max(fₙ(d − eₙ), σ(v)·w(d)·c_{n−1}): until the next membrane pushes back harder than the
cutting force, the tip is still cutting the bottom of the layer above, so the force is
continuous where the tip meets a boundary and drops only at punctures.

State kept between ticks (`LayeredState`): the tip depth at which each layer punctured and
the deepest tip depth D since the last full withdrawal. Both change only when the depth
does (a new puncture, a new deepest point), so stepping twice with the same input gives the
same force. Punctured layers stay punctured while the needle is inside; once it is fully
withdrawn (depth <= 0) the state resets to intact (the hole is assumed to close), and the
force is 0.
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
    bevel_length_m: b, the length over which the cutting force builds up as the tip enters
        fresh tissue beyond the deepest point reached. Default 1 mm (the bevel of an
        18–22 G needle is 1–2 mm long); the cutting force's slope in depth, c/b, is then
        at most 300 N/m with the default layers, below what a Touch-class device renders
        stably.

    Raises ConfigError if no layers are given, or v₀ or b is not positive.
    """

    layers: tuple[Layer, ...] = SKIN_FAT_MUSCLE
    friction_velocity_m_s: float = 1.0e-3
    bevel_length_m: float = 1.0e-3

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("NeedleInsertion needs at least one Layer, e.g. SKIN_FAT_MUSCLE")
        if not 0.0 < self.friction_velocity_m_s < float("inf"):
            raise ConfigError(
                f"NeedleInsertion friction_velocity_m_s must be finite and > 0, "
                f"got {self.friction_velocity_m_s}"
            )
        if not 0.0 < self.bevel_length_m < float("inf"):
            raise ConfigError(
                f"NeedleInsertion bevel_length_m must be finite and > 0 (e.g. 1e-3), "
                f"got {self.bevel_length_m}"
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
        deepest = depth if depth > state.deepest_m else state.deepest_m
        if sigma > 0.0:
            # w: how much of the bevel is in fresh tissue (1 at the front of the track).
            fresh = 1.0 - (deepest - depth) / self.bevel_length_m
            if fresh > 0.0:
                if not deflecting:
                    force += sigma * fresh * layers[index].cutting_force_n
                elif index > 0:
                    # Until the next membrane pushes back harder, the tip is still cutting
                    # the bottom of the layer above: the force stays continuous there.
                    cutting = sigma * fresh * layers[index - 1].cutting_force_n
                    if cutting > elastic:
                        force += cutting - elastic
        if punctures is not state.puncture_depths_m or deepest != state.deepest_m:
            state = LayeredState(punctures, deepest)
        return state, TissueOutput(force_n=force, layer=index, events=events)
