"""`haptics bench palpation`: how well each detector finds the palpation scene's inclusion.

Offline, on scripted sweeps, not real-time sessions: for each seed the palpation scene's
own inclusion (position, radius, modulus ratio drawn from the seed) and tissue, and the
probe swept level 5 mm deep along the scene's two palpation lines (y = ∓4 mm, x from −30 to
+30 mm, 1 mm steps), the same sweep the scene's scripted operator makes. At each pose the
tactile array's noisy frame (its noise model, seeded) and the stylus force the scene renders
(the same model's `ProbeForceMap`, plus Gaussian force-sensor noise of `force_noise_n`).
N seeds take seconds instead of N sessions of tens of seconds; the recorded-session path
goes through the same detector in tests/integration/test_tactile_session.py.

Detection rate: seeds where the detector says yes. Localisation error: distance in the
plane from its location to the inclusion's centre, over detected seeds. False positives:
the same sweeps over tissue without an inclusion, per detector.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.scenes.palpation import PalpationConfig, draw_inclusion, draw_modulus_ratio
from sim.tactile.detect import Detection, detect_from_force, detect_sweep, homogeneous_background
from sim.tactile.grid import ProbePose
from sim.tactile.model import Inclusion, slab_for_stiffness
from sim.tactile.sensor import TactileArray, TactileArrayConfig

SWEEP_DEPTH_M = 0.005
LINES_Y_M = (-0.004, 0.004)


def sweep_poses(step_m: float = 0.001) -> list[list[ProbePose]]:
    """The scene's two palpation lines as level probe poses, one list per line."""
    xs = np.arange(-0.030, 0.030 + step_m / 2, step_m)
    return [[ProbePose(float(x), y, -SWEEP_DEPTH_M) for x in xs] for y in LINES_Y_M]


def _error_m(d: Detection, inc: Inclusion) -> float | None:
    if not d.detected or d.world_xy_m is None:
        return None
    return math.hypot(d.world_xy_m[0] - inc.center_m[0], d.world_xy_m[1] - inc.center_m[1])


def evaluate_seed(
    seed: int, with_inclusion: bool = True, force_noise_n: float = 0.002
) -> dict[str, Any]:
    """Both detectors on one seed's sweeps: {"tactile": {...}, "force": {...}} with
    detected and error_m (None when not detected or without an inclusion)."""
    cfg = PalpationConfig(seed=seed)
    truth = draw_inclusion(cfg)
    inc = Inclusion(
        center_m=truth.center_m, radius_m=truth.radius_m, modulus_ratio=draw_modulus_ratio(cfg)
    )
    array = TactileArray(
        TactileArrayConfig(tissue=slab_for_stiffness(cfg.tissue_stiffness_n_per_m))
    )
    inclusion = inc if with_inclusion else None
    rng = np.random.default_rng(seed)
    force_map = array.force_map(inclusion)
    background = homogeneous_background(array.model)
    frames, poses = [], []
    force_best: Detection | None = None
    for line in sweep_poses():
        path = np.array([(p.x_m, p.y_m) for p in line])
        force = np.array([force_map.normal_force_n(p.x_m, p.y_m, p.z_m) for p in line])
        force = force + rng.normal(0.0, force_noise_n, force.shape)
        d = detect_from_force(path, force, np.full(len(line), SWEEP_DEPTH_M))
        if force_best is None or (d.detected, d.score) > (force_best.detected, force_best.score):
            force_best = d
        for p in line:
            frames.append(array.frame(p, inclusion, rng))
            poses.append(p)
    tactile = detect_sweep(frames, poses, background, array.config.grid)
    assert force_best is not None
    return {
        "seed": seed,
        "modulus_ratio": inc.modulus_ratio,
        "depth_m": inc.depth_m,
        "tactile": {
            "detected": tactile.detected,
            "error_m": _error_m(tactile, inc) if with_inclusion else None,
        },
        "force": {
            "detected": force_best.detected,
            "error_m": _error_m(force_best, inc) if with_inclusion else None,
        },
    }


def evaluate_seeds(seeds: int, first_seed: int = 0) -> dict[str, Any]:
    """Detection rate, localisation error (median, max) and false positives of the tactile
    and the force-only detector over `seeds` seeds. Raises ValueError for seeds < 1."""
    if seeds < 1:
        raise ValueError(f"--seeds {seeds}: give at least 1")
    runs = [evaluate_seed(s) for s in range(first_seed, first_seed + seeds)]
    blanks = [evaluate_seed(s, with_inclusion=False) for s in range(first_seed, first_seed + seeds)]
    out: dict[str, Any] = {
        "seeds": seeds,
        "method": "offline scripted sweeps (sim.scenes.palpation_bench)",
    }
    for name in ("tactile", "force"):
        errors = [r[name]["error_m"] for r in runs if r[name]["error_m"] is not None]
        out[name] = {
            "detection_rate": sum(r[name]["detected"] for r in runs) / seeds,
            "error_median_mm": float(np.median(errors)) * 1e3 if errors else None,
            "error_max_mm": float(np.max(errors)) * 1e3 if errors else None,
            "false_positive_rate": sum(b[name]["detected"] for b in blanks) / seeds,
        }
    out["per_seed"] = runs
    return out
