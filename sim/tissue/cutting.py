"""Cutting with a blade: press to start an incision, drag to extend it, and it stays cut.

For scalpel-style interaction. The blade presses along the normal (depth d) and moves along
a 1-D path on the surface (position s along it given by the caller, or integrated from the
signed tangential velocity).

    normal, not cutting:  Fₙ = r·k·d
    cut start:            when Fₙ >= r·F_start → EVENT_CUT_START
    normal, cutting:      Fₙ = min(r·k·d, r·F_start)   (pressing harder cuts deeper, the
                                                       blade does not push back harder)
    tangential, cutting:  Fₜ = −|σ(vₜ)|·r·G·d           (component along the motion, <= 0)
    cut end:              the blade leaves the tissue (d <= 0) → EVENT_CUT_END

r is the resistance of the tissue under the edge: 1 on intact tissue, `recut_fraction` well
inside an existing cut, and in between near a cut's end. G is the tissue's fracture
toughness, so G·d is the energy per metre of a cut d deep; σ(v) = clamp(v/v₀, −1, 1)
smooths the sign of the motion so a still blade gets no chatter. `tangential_force_n` is,
as in the contract, the component along the direction of motion (<= 0 opposes it).

The edge has a length ℓ (`edge_length_m`) and meets the tissue on either side of the blade
position s: ahead, over [s, s + ℓ], and behind, over [s − ℓ, s]. The resistance follows the
side with more uncut tissue:

    r = recut + (1 − recut)·u,    u = max(uncut fraction of [s, s + ℓ], of [s − ℓ, s])

so r is continuous in the position and in what is cut: at the front of the cut being made
the blade meets intact tissue (u = 1), pulled back by x into its own cut u = 1 − x/ℓ, deep
inside a cut u = 0, and a sliver of uncut tissue between two cuts counts for its length
only, so cutting it changes nothing abruptly. (A point blade, ℓ = 0, is split strictly
inside a cut: its force steps at a cut's end, and a blade held still at the front of its
cut would chatter between 1 and `recut`.)

Simplification: the state keeps only where along the path the tissue is cut (a few
intervals, i.e. the cut length), not the depth profile of the cut, so pressing again on a
cut meets r whatever depth the earlier cut reached. What is cut stays cut for the model's
lifetime.

State kept between ticks (`CuttingState`): whether a pass is under way, the blade's path
position, the extent of the current pass and the completed cuts. The position is the
caller's `path_position_m` when given (the scenes give it), so a repeated sample leaves the
state as it was and renders the same force; without it the position integrates the
tangential velocity. The tangential force reads the input's tangential velocity, which a
repeated sample repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import EVENT_CUT_END, EVENT_CUT_START, TissueInput, TissueOutput

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CuttingState:
    """State of a `Cutting` model.

    cutting: True while the blade is inside an incision it is making (a pass).
    position_m: blade position along the path (integral of the tangential velocity).
    pass_start_m, pass_end_m: extent of the current pass (meaningful while cutting).
    cuts: completed cuts as disjoint (start, end) intervals along the path, sorted.
    """

    cutting: bool = False
    position_m: float = 0.0
    pass_start_m: float = 0.0
    pass_end_m: float = 0.0
    cuts: tuple[Interval, ...] = ()

    @property
    def cut_intervals(self) -> tuple[Interval, ...]:
        """All cut path, the current pass included, as disjoint sorted intervals."""
        if not self.cutting:
            return self.cuts
        return merge_interval(self.cuts, (self.pass_start_m, self.pass_end_m))

    @property
    def cut_length_m(self) -> float:
        """Length of path already cut, in m."""
        return sum(end - start for start, end in self.cut_intervals)


def merge_interval(cuts: tuple[Interval, ...], new: Interval) -> tuple[Interval, ...]:
    """`cuts` with `new` added, overlapping or touching intervals merged, sorted by start."""
    start, end = new
    kept: list[Interval] = []
    for a, b in cuts:
        if b < start or a > end:
            kept.append((a, b))
        else:
            start, end = min(a, start), max(b, end)
    kept.append((start, end))
    kept.sort()
    return tuple(kept)


def _overlap(a: float, b: float, lo: float, hi: float) -> float:
    """Length of [a, b] ∩ [lo, hi] (0 if they do not meet)."""
    start = a if a > lo else lo
    end = b if b < hi else hi
    return end - start if end > start else 0.0


@dataclass(frozen=True, slots=True)
class Cutting:
    """A blade cutting tissue along a path.

    stiffness_n_per_m: k, normal stiffness of intact tissue before the cut. Default 300 N/m
        (as `LinearSpring`).
    cut_start_force_n: F_start, normal force at which the blade breaks in. Default 2 N, so a
        cut starts ~6.7 mm deep: literature order of magnitude for scalpel incision onset
        in skin-like tissue (a few N).
    toughness_j_per_m2: G, fracture toughness. Default 500 J/m²: soft-tissue toughness is
        reported at order 10²–10³ J/m² (soft organs lower, skin higher), giving ~3–4 N of
        drag a few mm deep.
    recut_fraction: r well inside an existing cut, 0 < r <= 1. Default 0.2.
    friction_velocity_m_s: v₀. Default 1 mm/s.
    edge_length_m: ℓ, the length of edge in contact along the path on either side of the
        blade position, over which the resistance changes between intact and cut tissue.
        Default 2 mm (the belly of a
        no. 10–15 scalpel blade meets the tissue over a few mm); 0 is a point blade, whose
        resistance steps at a cut's end.

    Raises ConfigError if a parameter is out of range or not finite.
    """

    stiffness_n_per_m: float = 300.0
    cut_start_force_n: float = 2.0
    toughness_j_per_m2: float = 500.0
    recut_fraction: float = 0.2
    friction_velocity_m_s: float = 1.0e-3
    edge_length_m: float = 2.0e-3

    def __post_init__(self) -> None:
        for name in ("stiffness_n_per_m", "toughness_j_per_m2", "edge_length_m"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(f"Cutting {name} must be finite and >= 0, got {value}")
        for name in ("cut_start_force_n", "friction_velocity_m_s"):
            value = getattr(self, name)
            if not 0.0 < value < float("inf"):
                raise ConfigError(f"Cutting {name} must be finite and > 0, got {value}")
        if not 0.0 < self.recut_fraction <= 1.0:
            raise ConfigError(
                f"Cutting recut_fraction must be in (0, 1], got {self.recut_fraction}"
            )

    def initial_state(self) -> CuttingState:
        return CuttingState()

    def resistance_ratio(self, cuts: tuple[Interval, ...], position_m: float) -> float:
        """r at `position_m` (m along the path) given the cut `cuts` (disjoint, sorted):
        `recut_fraction` + (1 − `recut_fraction`)·u, u the larger uncut fraction of the
        edge's length on either side of the position."""
        edge = self.edge_length_m
        if edge <= 0.0:  # a point blade: split strictly inside a cut
            for a, b in cuts:
                if a < position_m < b:
                    return self.recut_fraction
            return 1.0
        ahead = behind = edge
        for a, b in cuts:
            ahead -= _overlap(a, b, position_m, position_m + edge)
            behind -= _overlap(a, b, position_m - edge, position_m)
        uncut = (ahead if ahead > behind else behind) / edge
        if uncut >= 1.0:
            return 1.0
        if uncut <= 0.0:
            return self.recut_fraction
        return self.recut_fraction + (1.0 - self.recut_fraction) * uncut

    def drag_resistance_n(self, state: CuttingState, depth_m: float) -> float:
        """r·G·d in N: the cut's resistance to the blade at the state's position, `depth_m`
        deep, while a pass is under way (0 otherwise). It is what a blade held still meets
        (static = kinetic); `tangential_force_n` is this scaled by |σ(v)|."""
        if not (state.cutting and depth_m > 0.0):
            return 0.0
        ratio = self.resistance_ratio(state.cut_intervals, state.position_m)
        return ratio * self.toughness_j_per_m2 * depth_m

    def step(self, state: CuttingState, inp: TissueInput) -> tuple[CuttingState, TissueOutput]:
        v = inp.tangential_velocity_m_s
        given = inp.path_position_m
        position = state.position_m + v * inp.dt_s if given is None else given
        depth = inp.depth_m
        cuts = state.cuts
        if not depth > 0.0:
            if state.cutting:
                cuts = merge_interval(cuts, (state.pass_start_m, state.pass_end_m))
                return CuttingState(False, position, 0.0, 0.0, cuts), TissueOutput(
                    force_n=0.0, events=EVENT_CUT_END
                )
            return CuttingState(False, position, 0.0, 0.0, cuts), TissueOutput(force_n=0.0)

        cutting = state.cutting
        start = state.pass_start_m
        end = state.pass_end_m
        if cutting:  # the blade has cut up to where it is now: the pass reaches it first
            if position < start:
                start = position
            elif position > end:
                end = position
            ratio = self.resistance_ratio(merge_interval(cuts, (start, end)), position)
        else:
            ratio = self.resistance_ratio(cuts, position)
        normal = ratio * self.stiffness_n_per_m * depth
        threshold = ratio * self.cut_start_force_n
        events = 0
        if not cutting:
            if normal < threshold:
                return CuttingState(False, position, 0.0, 0.0, cuts), TissueOutput(
                    force_n=normal, layer=0
                )
            cutting = True
            events = EVENT_CUT_START
            start = end = position
        if normal > threshold:
            normal = threshold
        sigma = v / self.friction_velocity_m_s
        sigma = 1.0 if (sigma > 1.0 or sigma < -1.0) else (sigma if sigma >= 0.0 else -sigma)
        tangential = -sigma * ratio * self.toughness_j_per_m2 * depth
        return CuttingState(True, position, start, end, cuts), TissueOutput(
            force_n=normal, layer=0, events=events, tangential_force_n=tangential
        )
