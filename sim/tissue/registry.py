"""Name → default-constructed tissue model, for the CLI and plots.

A plain table of constructors; adding a model is one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from haptics.errors import ConfigError
from sim.tissue.base import TissueModel
from sim.tissue.cutting import Cutting
from sim.tissue.exponential_stiffening import ExponentialStiffening
from sim.tissue.hunt_crossley import HuntCrossley
from sim.tissue.kelvin_voigt import KelvinVoigt
from sim.tissue.layered import LayeredTissue
from sim.tissue.linear_spring import LinearSpring
from sim.tissue.needle import NeedleInsertion
from sim.tissue.polynomial_stiffening import PolynomialStiffening
from sim.tissue.standard_linear_solid import StandardLinearSolid

MODELS: dict[str, Callable[[], TissueModel[Any]]] = {
    "linear": LinearSpring,
    "kelvin_voigt": KelvinVoigt,
    "hunt_crossley": HuntCrossley,
    "exponential": ExponentialStiffening,
    "polynomial": PolynomialStiffening,
    "sls": StandardLinearSolid,
    "layered": LayeredTissue,
    "needle": NeedleInsertion,
    "cutting": Cutting,
}


def create_model(name: str) -> TissueModel[Any]:
    """Build the default model registered as `name`.

    Raises ConfigError naming the known models if `name` is not one of them.
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown tissue model {name!r}; choose one of: {', '.join(MODELS)}"
        ) from None
    return factory()
