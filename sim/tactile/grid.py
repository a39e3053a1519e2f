"""The taxel grid on the probe face and the probe's pose over the tissue.

Probe frame: origin at the centre of the (flat, square-taxelled) probe face, x along the
grid's columns, y along its rows, z up. Taxel (row r, column c) is centred at
x = (c − (cols − 1)/2) · pitch, y = (r − (rows − 1)/2) · pitch. Frames are arrays of shape
(rows, cols) indexed [r, c].

World frame: the palpation scene's (metres, tissue surface at z = 0, z up). The probe is
level (its face parallel to the surface); its pose is the face centre's position and a yaw
about z. The indentation is the depth of the face below the surface, −z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

FloatArray = NDArray[np.float64]


class TaxelGrid(BaseModel):
    """Rows × columns of square taxels at `pitch_m`; the taxels tile the probe face."""

    model_config = ConfigDict(frozen=True)

    rows: int = Field(16, ge=2, le=64)
    cols: int = Field(16, ge=2, le=64)
    pitch_m: float = Field(0.002, gt=0.0, le=0.02)

    @property
    def n(self) -> int:
        """Number of taxels."""
        return self.rows * self.cols

    @property
    def taxel_area_m2(self) -> float:
        return self.pitch_m * self.pitch_m

    @property
    def size_m(self) -> tuple[float, float]:
        """Width (x) and height (y) of the probe face."""
        return self.cols * self.pitch_m, self.rows * self.pitch_m

    @cached_property
    def centres_m(self) -> FloatArray:
        """(n, 2) taxel centres in the probe frame, row-major (index = r * cols + c)."""
        xs = (np.arange(self.cols) - 0.5 * (self.cols - 1)) * self.pitch_m
        ys = (np.arange(self.rows) - 0.5 * (self.rows - 1)) * self.pitch_m
        gx, gy = np.meshgrid(xs, ys, indexing="xy")
        return np.stack([gx.ravel(), gy.ravel()], axis=1)

    def position_of(self, row: float, col: float) -> tuple[float, float]:
        """Probe-frame (x, y) in metres of a (fractional) row and column."""
        return (
            (col - 0.5 * (self.cols - 1)) * self.pitch_m,
            (row - 0.5 * (self.rows - 1)) * self.pitch_m,
        )


@dataclass(frozen=True, slots=True)
class ProbePose:
    """Where the probe face is: centre (x, y, z) in the world (m) and yaw about z (rad)."""

    x_m: float
    y_m: float
    z_m: float
    yaw_rad: float = 0.0

    @property
    def indentation_m(self) -> float:
        """Depth of the face below the tissue surface (z = 0); 0 when above it."""
        return max(0.0, -self.z_m)

    def to_world(self, x_m: float, y_m: float) -> tuple[float, float]:
        """World (x, y) of a point given in the probe frame."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        return self.x_m + c * x_m - s * y_m, self.y_m + s * x_m + c * y_m

    def to_probe(self, x_m: float, y_m: float) -> tuple[float, float]:
        """Probe-frame (x, y) of a world point."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        dx, dy = x_m - self.x_m, y_m - self.y_m
        return c * dx + s * dy, -s * dx + c * dy

    def points_to_world(self, xy_m: FloatArray) -> FloatArray:
        """World (x, y) of (n, 2) probe-frame points."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        out = np.empty_like(xy_m)
        out[:, 0] = self.x_m + c * xy_m[:, 0] - s * xy_m[:, 1]
        out[:, 1] = self.y_m + s * xy_m[:, 0] + c * xy_m[:, 1]
        return out
