"""How long a tactile frame and a stylus-force lookup take on this machine (printed, not asserted).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m sim.tactile.bench [--frames N]

Run it with one BLAS thread, as the tactile process should be: on a loaded 2-core machine
OpenBLAS's threads fight each other and a 1 ms frame takes hundreds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sim.tactile.force_map import ProbeForceMap
from sim.tactile.grid import ProbePose, TaxelGrid
from sim.tactile.model import Inclusion, TactileModel
from sim.tactile.noise import NoiseModel


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    a = np.asarray(samples_s) * 1e3
    return {"p50_ms": float(np.median(a)), "p99_ms": float(np.percentile(a, 99))}


def benchmark_frame(frames: int = 200, grid: TaxelGrid | None = None) -> dict[str, object]:
    """Time `frames` frames (model solve + noise) sweeping over an inclusion, and the force map.

    Returns wall and CPU (thread) time percentiles per frame back to back and paced at 200 Hz
    (a sleep between frames, as the array runs: the caches go cold, and a frame costs more),
    the model's and the force map's build times, and the force map's cost per call (µs);
    also prints them as JSON.
    """
    t0 = time.perf_counter()
    model = TactileModel(grid=grid)
    build_model_s = time.perf_counter() - t0
    inc = Inclusion(center_m=(0.0, 0.0, -0.012), radius_m=0.006, modulus_ratio=10.0)
    noise = NoiseModel()
    rng = np.random.default_rng(0)
    wall: list[float] = []
    cpu: list[float] = []
    paced: list[float] = []
    for i in range(frames):
        pose = ProbePose(-0.03 + 0.06 * i / max(frames - 1, 1), 0.0, -0.005)
        w0, c0 = time.perf_counter(), time.thread_time()
        noise.apply(model.pressure_frame_kpa(pose, inc), rng)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    for i in range(frames):  # as the array runs: one frame every 5 ms, the core idle between
        pose = ProbePose(-0.03 + 0.06 * i / max(frames - 1, 1), 0.0, -0.005)
        time.sleep(0.005)
        c0 = time.thread_time()
        noise.apply(model.pressure_frame_kpa(pose, inc), rng)
        paced.append(time.thread_time() - c0)
    t0 = time.perf_counter()
    fmap = ProbeForceMap.build(model, inc)
    build_map_s = time.perf_counter() - t0
    calls = 20000
    c0 = time.thread_time()
    for i in range(calls):
        fmap.normal_force_n(-0.03 + 3e-6 * i, 0.001, -0.005)
    per_call_us = (time.thread_time() - c0) / calls * 1e6
    out: dict[str, object] = {
        "grid": f"{model.grid.rows}x{model.grid.cols} @ {model.grid.pitch_m * 1e3:g} mm",
        "frames": frames,
        "frame_wall": _percentiles(wall),
        "frame_cpu": _percentiles(cpu),
        "frame_cpu_paced_200hz": _percentiles(paced),
        "model_build_s": build_model_s,
        "force_map_build_s": build_map_s,
        "force_map_call_cpu_us": per_call_us,
    }
    print(json.dumps(out, indent=2))
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: `python -m sim.tactile.bench --frames 200`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args(argv)
    benchmark_frame(args.frames)


if __name__ == "__main__":
    main()
