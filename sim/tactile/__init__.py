"""A simulated tactile array: pressure (kPa) per taxel on a flat palpation probe.

Pure functions of (pose, tissue, inclusion), numpy/scipy only, no pybullet:

- `sensor`: `TactileArray(TactileArrayConfig(...))`, what a driver or scene holds.
- `model`: the physics (Boussinesq half-space compliance in strain-energy form, a slab on a
  rigid base, a stiff spherical inclusion), solved for a rigid level punch. The formulas
  and their sources are in `sim.tactile.boussinesq` and `sim.tactile.model`.
- `force_map`: the same model's normal force, tabulated once, for the 1 kHz tick.
- `noise`: Gaussian read noise, dead taxels, ADC quantisation, seeded.
- `detect`: a background-removed-contrast detector on frames, and a stylus-force-only one.
- `render`: frames to a PNG. `bench`: frame timing (`python -m sim.tactile.bench`).
- `blas`: the model runs its small products on one BLAS thread (see there why).

How the palpation scene renders the stylus force from the same model (the probe is level,
its face centre is the tool position, the tissue surface z = 0):

    array = TactileArray(TactileArrayConfig(tissue=slab_for_stiffness(300.0)))
    inclusion = Inclusion(center_m=..., radius_m=..., modulus_ratio=12.0)  # ground truth
    force_map = array.force_map(inclusion)             # once, at build (about a second)
    fz = force_map.normal_force_n(x, y, z)             # each tick: a few µs, plain floats

and a tactile driver publishes `array.frame(ProbePose(x, y, z), inclusion, rng)` (about
1 ms each) at `array.config.rate_hz`; A · Σ p of the clean frame equals `fz` within 0.2 %.
"""

from typing import Any

from sim.tactile.force_map import ProbeForceMap
from sim.tactile.grid import ProbePose, TaxelGrid
from sim.tactile.model import (
    Inclusion,
    TactileModel,
    TissueSlab,
    frame_force_n,
    slab_for_stiffness,
)
from sim.tactile.noise import NoiseModel
from sim.tactile.sensor import TactileArray, TactileArrayConfig

# detect (scipy.ndimage) and render (matplotlib) load on first use: a scene or driver that only
# renders force and frames does not pay their import (seconds on a loaded machine) at start-up
_LAZY = {
    "Detection": "sim.tactile.detect",
    "detect_frame": "sim.tactile.detect",
    "detect_from_force": "sim.tactile.detect",
    "detect_sweep": "sim.tactile.detect",
    "homogeneous_background": "sim.tactile.detect",
    "median_background": "sim.tactile.detect",
    "render_pressure_png": "sim.tactile.render",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim.tactile' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Detection",
    "Inclusion",
    "NoiseModel",
    "ProbeForceMap",
    "ProbePose",
    "TactileArray",
    "TactileArrayConfig",
    "TactileModel",
    "TaxelGrid",
    "TissueSlab",
    "detect_frame",
    "detect_from_force",
    "detect_sweep",
    "frame_force_n",
    "homogeneous_background",
    "median_background",
    "render_pressure_png",
    "slab_for_stiffness",
]
