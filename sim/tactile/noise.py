"""What a real resistive taxel array does to a clean pressure frame: noise, dead taxels, an ADC.

Applied in this order: Gaussian read noise per taxel (kPa), clipping to the ADC's range
[0, full scale], quantisation to `adc_bits`, dead taxels forced to 0 (an open row/column
contact reads no pressure). Everything random comes from the caller's seeded
`numpy.random.Generator`, so a seed reproduces a session's frames; the dead taxels are a
property of one physical array and come from their own seed (`dead_mask`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class NoiseModel(BaseModel):
    """The array's imperfections. The defaults are a good resistive (Velostat/FSR) matrix."""

    model_config = ConfigDict(frozen=True)

    sigma_kpa: float = Field(0.05, ge=0.0, description="Gaussian read noise per taxel")
    dead_fraction: float = Field(0.0, ge=0.0, le=0.5, description="taxels that always read 0")
    dead_seed: int = Field(0, description="which taxels of this array are dead")
    adc_bits: int | None = Field(12, ge=1, le=24, description="None: no quantisation")
    full_scale_kpa: float = Field(100.0, gt=0.0, description="pressure at the ADC's top code")

    @property
    def step_kpa(self) -> float:
        """One ADC code in kPa (0 without quantisation)."""
        if self.adc_bits is None:
            return 0.0
        return float(self.full_scale_kpa / (2**self.adc_bits - 1))

    def dead_mask(self, shape: tuple[int, int]) -> BoolArray:
        """True where a taxel of this array is dead (`dead_fraction` of them, from `dead_seed`)."""
        n = shape[0] * shape[1]
        count = round(self.dead_fraction * n)
        mask = np.zeros(n, dtype=bool)
        if count:
            mask[np.random.default_rng(self.dead_seed).choice(n, size=count, replace=False)] = True
        return mask.reshape(shape)

    def apply(self, frame_kpa: FloatArray, rng: np.random.Generator) -> FloatArray:
        """The frame as the array reads it (a new array; `frame_kpa` is not changed)."""
        out = np.asarray(frame_kpa, dtype=float)
        if self.sigma_kpa > 0.0:
            out = out + rng.normal(0.0, self.sigma_kpa, out.shape)
        out = np.clip(out, 0.0, self.full_scale_kpa)
        if self.adc_bits is not None:
            step = self.step_kpa
            out = np.round(out / step) * step
        if self.dead_fraction > 0.0:
            out = np.where(self.dead_mask(out.shape), 0.0, out)
        result: FloatArray = out
        return result
