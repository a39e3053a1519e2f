"""The simulated tactile array as one configurable object: model + noise + publication rate.

What a tactile driver process (or a scene) holds: `TactileArray(config)` builds the model
once (~0.1 s), then `frame(pose, inclusion, rng)` gives what the array reads at that pose
(about 0.45 ms of one core back to back, 1-1.5 ms when the core's caches went cold between
frames, as in a session where other processes share the CPU: `python -m sim.tactile.bench`),
and `force_map(inclusion)` the same model's normal force for the 1 kHz tick. The config is
a pydantic model, so it goes into a session's manifest as it is (`describe()`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.tactile.boussinesq import FloatArray
from sim.tactile.force_map import ProbeForceMap
from sim.tactile.grid import ProbePose, TaxelGrid
from sim.tactile.model import Inclusion, TactileModel, TissueSlab
from sim.tactile.noise import NoiseModel


class TactileArrayConfig(BaseModel):
    """Everything that defines a simulated array; every key optional."""

    model_config = ConfigDict(frozen=True)

    grid: TaxelGrid = TaxelGrid()
    tissue: TissueSlab = TissueSlab()
    noise: NoiseModel = NoiseModel()
    rate_hz: float = Field(200.0, ge=1.0, le=2000.0, description="frames published per second")
    samples_per_radius: int = Field(2, ge=2, le=8, description="inclusion quadrature density")


class TactileArray:
    """A configured array over the tissue: frames and the matching stylus force."""

    def __init__(self, config: TactileArrayConfig | None = None) -> None:
        self.config = config or TactileArrayConfig()
        self.model = TactileModel(
            self.config.grid, self.config.tissue, self.config.samples_per_radius
        )

    def clean_frame(self, pose: ProbePose, inclusion: Inclusion | None) -> FloatArray:
        """Noise-free pressure (kPa), (rows, cols). Raises ConfigError for a misplaced inclusion."""
        return self.model.pressure_frame_kpa(pose, inclusion)

    def frame(
        self, pose: ProbePose, inclusion: Inclusion | None, rng: np.random.Generator
    ) -> FloatArray:
        """What the array reads (kPa) at this pose: the clean frame through the noise model."""
        return self.config.noise.apply(self.clean_frame(pose, inclusion), rng)

    def force_map(self, inclusion: Inclusion | None) -> ProbeForceMap:
        """The probe's normal force over this inclusion, tabulated for the tick (~1 s to build)."""
        return ProbeForceMap.build(self.model, inclusion)

    def describe(self) -> dict[str, Any]:
        """For the manifest: the config and the probe's stiffness without an inclusion."""
        return {
            "config": self.config.model_dump(),
            "base_stiffness_n_per_m": self.model.base_stiffness_n_per_m,
            "model": "boussinesq-strain-energy slab, rigid level probe (sim.tactile.model)",
        }
