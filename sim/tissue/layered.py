"""Layered tissue: a stack of membranes (e.g. skin, fat, muscle) that deflect, then puncture.

For a probe pushed into a layered body. The tip first presses on the surface of the
outermost intact layer, which deflects with that layer's stiffening force-depth law. When
the force reaches the layer's puncture threshold, the layer punctures: EVENT_PUNCTURE, and
the force drops at once (the deflected surface relaxes around the tip). The tip then
crosses that layer's thickness and meets the next layer's surface, where the pattern
repeats. This is the "deformation, puncture, next layer" pattern of needle insertion
(Okamura, Simone, O'Leary, IEEE TBME 51 (2004); layered skin/fat/muscle as in Gerovich et al.,
"The effect of visual and haptic feedback on computer-assisted needle insertion", Comput.
Aided Surg. 9 (2004)). `LayeredTissue` renders only that elastic part (a probe popping through
membranes); `NeedleInsertion` adds tip cutting and shaft friction on the same geometry.

Geometry (a 1-D simplification, in tip coordinates): layer 0 is met at depth 0; if layer i
punctured at tip depth pᵢ, layer i + 1 is met at pᵢ + tᵢ (tᵢ its thickness). The deflection
before each puncture therefore adds to the depth at which the next boundary is met, as if the
tissue stayed compressed by it. The deepest layer is treated as extending below its nominal
thickness. A punctured layer stays punctured while the tip is inside the tissue; once the
tip is fully withdrawn (depth <= 0) the state resets to intact, i.e. the small hole is
assumed to close, and a new insertion punctures again.

State kept between ticks (`LayeredState`): the tip depth at which each punctured layer gave
way and the deepest depth reached since the last full withdrawal. `LayeredTissue`'s force is a
function of depth and that state, and the state changes only when the depth reaches a new
puncture, so a repeated sample renders the same force.
"""

from __future__ import annotations

from dataclasses import dataclass

from haptics.errors import ConfigError
from sim.tissue.base import EVENT_PUNCTURE, ElasticLaw, TissueInput, TissueOutput
from sim.tissue.polynomial_stiffening import PolynomialStiffening


@dataclass(frozen=True, slots=True)
class Layer:
    """One tissue layer.

    name: label for plots and telemetry.
    thickness_m: thickness crossed by the tip after the layer punctures.
    stiffness: force-depth law of the layer's surface deflection before puncture (N vs m).
    puncture_force_n: elastic force at which the layer punctures.
    cutting_force_n: force at the tip while it advances through this layer after puncture
        (used by `NeedleInsertion`; a blunt `LayeredTissue` probe ignores it).
    friction_n_per_m: shaft friction per metre of shaft inside this layer, in N/m (used by
        `NeedleInsertion`).

    Raises ConfigError if a dimension or force is negative, zero where it must not be, or
    not finite.
    """

    name: str
    thickness_m: float
    stiffness: ElasticLaw
    puncture_force_n: float
    cutting_force_n: float = 0.0
    friction_n_per_m: float = 0.0

    def __post_init__(self) -> None:
        for field, minimum_exclusive in (
            ("thickness_m", True),
            ("puncture_force_n", True),
            ("cutting_force_n", False),
            ("friction_n_per_m", False),
        ):
            value = getattr(self, field)
            ok = (value > 0.0 if minimum_exclusive else value >= 0.0) and value < float("inf")
            if not ok:
                bound = "> 0" if minimum_exclusive else ">= 0"
                raise ConfigError(
                    f"Layer {self.name!r}: {field} must be finite and {bound}, got {value}"
                )


# Defaults: literature order of magnitude for an ~18–22 G bevel needle (Okamura et al. 2004;
# Gerovich et al. 2004; reviews of needle-insertion force models report skin puncture at
# ~1–2 N, fat ~0.5 N, muscle/fascia ~1–1.5 N, shaft friction of tens of N per metre inserted).
# Deflection before puncture comes out at ~7 mm (skin), ~4 mm (fat), ~5 mm (muscle).
SKIN = Layer(
    name="skin",
    thickness_m=2.0e-3,
    stiffness=PolynomialStiffening(linear_n_per_m=50.0, quadratic_n_per_m2=2.5e4),
    puncture_force_n=1.5,
    cutting_force_n=0.3,
    friction_n_per_m=40.0,
)
FAT = Layer(
    name="fat",
    thickness_m=10.0e-3,
    stiffness=PolynomialStiffening(linear_n_per_m=30.0, quadratic_n_per_m2=2.0e4),
    puncture_force_n=0.5,
    cutting_force_n=0.1,
    friction_n_per_m=20.0,
)
MUSCLE = Layer(
    name="muscle",
    thickness_m=15.0e-3,
    stiffness=PolynomialStiffening(linear_n_per_m=80.0, quadratic_n_per_m2=3.0e4),
    puncture_force_n=1.2,
    cutting_force_n=0.3,
    friction_n_per_m=50.0,
)
SKIN_FAT_MUSCLE: tuple[Layer, ...] = (SKIN, FAT, MUSCLE)


@dataclass(frozen=True, slots=True)
class LayeredState:
    """State shared by `LayeredTissue` and `NeedleInsertion`.

    puncture_depths_m: tip depth at which each punctured layer gave way, outermost first;
        its length is the number of punctured layers.
    deepest_m: deepest tip depth reached since the last full withdrawal (the tip only cuts
        fresh tissue beyond it).
    """

    puncture_depths_m: tuple[float, ...] = ()
    deepest_m: float = 0.0

    @property
    def punctured(self) -> int:
        """How many layers are punctured, counted from the surface."""
        return len(self.puncture_depths_m)


INTACT = LayeredState()


def advance_tip(
    layers: tuple[Layer, ...], punctures: tuple[float, ...], depth_m: float
) -> tuple[tuple[float, ...], int, int, float, bool]:
    """Move the tip to `depth_m` (> 0) through `layers` with the given puncture history.

    Returns (punctures, events, layer index, elastic force in N, deflecting), where
    `deflecting` is True while the tip presses on an intact layer's surface. Pure, no
    allocation unless a layer punctures.
    """
    n = len(punctures)
    if n < len(layers):
        entry = 0.0 if n == 0 else punctures[n - 1] + layers[n - 1].thickness_m
        if depth_m >= entry:
            layer = layers[n]
            force = layer.stiffness.force_at(depth_m - entry)
            if force < layer.puncture_force_n:
                return punctures, 0, n, force, True
            return (*punctures, depth_m), EVENT_PUNCTURE, n, 0.0, False
    # Inside a punctured layer: the first whose far boundary lies beyond the tip.
    for i in range(n - 1):
        if depth_m < punctures[i] + layers[i].thickness_m:
            return punctures, 0, i, 0.0, False
    return punctures, 0, n - 1, 0.0, False


@dataclass(frozen=True, slots=True)
class LayeredTissue:
    """A stack of layers a blunt probe deflects and pops through, one by one.

    Force: the elastic force of the intact layer the tip presses on, fᵢ(d − eᵢ), where eᵢ is
    the depth at which the tip met that layer; 0 while the tip crosses a punctured layer.
    `layer` in the output is the layer the tip is pressing on or inside. Default layers:
    skin 2 mm / fat 10 mm / muscle 15 mm, puncturing at 1.5 / 0.5 / 1.2 N (see module notes).

    Raises ConfigError if no layers are given.
    """

    layers: tuple[Layer, ...] = SKIN_FAT_MUSCLE

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("LayeredTissue needs at least one Layer, e.g. SKIN_FAT_MUSCLE")

    def initial_state(self) -> LayeredState:
        return INTACT

    def step(self, state: LayeredState, inp: TissueInput) -> tuple[LayeredState, TissueOutput]:
        depth = inp.depth_m
        if not depth > 0.0:
            return INTACT, TissueOutput(force_n=0.0)
        punctures, events, index, force, _ = advance_tip(
            self.layers, state.puncture_depths_m, depth
        )
        if punctures is not state.puncture_depths_m or depth > state.deepest_m:
            state = LayeredState(punctures, depth if depth > state.deepest_m else state.deepest_m)
        return state, TissueOutput(force_n=force, layer=index, events=events)
