"""Tissue models: pure step functions of (state, input) with no pybullet inside.

Every model is a frozen dataclass of parameters with `initial_state()` and
`step(state, TissueInput) -> (state, TissueOutput)`, plain floats only, cheap enough for a
1 kHz tick. `MODELS` maps names to default-constructed models; `sim.tissue.curves` runs a
model through a profile offline and `sim.tissue.plot` draws it.
"""

from sim.tissue.base import (
    EVENT_CUT_END,
    EVENT_CUT_START,
    EVENT_NONE,
    EVENT_PUNCTURE,
    ElasticLaw,
    TissueInput,
    TissueModel,
    TissueOutput,
)
from sim.tissue.cutting import Cutting, CuttingState
from sim.tissue.exponential_stiffening import ExponentialStiffening
from sim.tissue.hunt_crossley import HuntCrossley
from sim.tissue.kelvin_voigt import KelvinVoigt, kelvin_voigt_force
from sim.tissue.layered import (
    FAT,
    MUSCLE,
    SKIN,
    SKIN_FAT_MUSCLE,
    Layer,
    LayeredState,
    LayeredTissue,
)
from sim.tissue.linear_spring import LinearSpring
from sim.tissue.needle import NeedleInsertion
from sim.tissue.polynomial_stiffening import PolynomialStiffening
from sim.tissue.registry import MODELS, create_model
from sim.tissue.standard_linear_solid import SLSState, StandardLinearSolid

__all__ = [
    "EVENT_CUT_END",
    "EVENT_CUT_START",
    "EVENT_NONE",
    "EVENT_PUNCTURE",
    "FAT",
    "MODELS",
    "MUSCLE",
    "SKIN",
    "SKIN_FAT_MUSCLE",
    "Cutting",
    "CuttingState",
    "ElasticLaw",
    "ExponentialStiffening",
    "HuntCrossley",
    "KelvinVoigt",
    "Layer",
    "LayeredState",
    "LayeredTissue",
    "LinearSpring",
    "NeedleInsertion",
    "PolynomialStiffening",
    "SLSState",
    "StandardLinearSolid",
    "TissueInput",
    "TissueModel",
    "TissueOutput",
    "create_model",
    "kelvin_voigt_force",
]
