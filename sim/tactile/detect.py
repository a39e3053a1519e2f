"""Baseline inclusion detectors: one on tactile frames, one on the stylus force alone.

Tactile (`detect_frame`, `detect_sweep`): a rigid flat probe on homogeneous tissue already
gives a non-flat frame (pressure piles up at the edges and corners), so the background is a
*shape*, taken either from a calibration frame on an inclusion-free phantom
(`homogeneous_background`, as tactile imagers are calibrated) or as the per-taxel median of a
sweep's mean-normalised frames (`median_background`: the inclusion is under different taxels
in different frames). Each frame is fitted as p ≈ s · background (s = median ratio, robust to
the bump), the residual is smoothed over 3 × 3 taxels and scored against the noise (robust
MAD of neighbour differences). A frame detects when the score reaches `k_sigma` and the
relative contrast `min_contrast`; the location is the centroid of the smoothed residual above
half its peak (sub-taxel), in the probe frame and, given the pose, in the world.

Stylus force (`detect_from_force`): the probe's stiffness F/δ along a sweep, smoothed; the
background is its low percentile (the bump of a flat probe covers much of a short sweep, so
a median would sit inside it); detection and location as above, along the path only. Its
threshold is higher (9 σ) because the low-percentile background and the maximum of a
smoothed trace both bias the score up: over 400 seeded inclusion-free sweeps (81 samples,
0.25 % force noise) the largest score was 7.6. The tactile detector's threshold (6 σ) sits
above the largest of its inclusion-free frame scores (≈ 4.5 over 300 seeded frames).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from haptics.errors import ConfigError
from sim.tactile.boussinesq import FloatArray
from sim.tactile.grid import ProbePose, TaxelGrid
from sim.tactile.model import TactileModel

_MAD_TO_SIGMA = 1.4826
_MIN_NOISE_KPA = 1e-4
_BOX = np.ones((3, 3))


@dataclass(frozen=True)
class Detection:
    """A detector's answer.

    contrast: relative excess over the background at the peak (0.1 = 10 %).
    score: that excess over its noise (in standard deviations of the smoothed residual).
    probe_xy_m: the peak's location in the probe frame (None for the force detector).
    world_xy_m: its location in the world (None when no pose was given).
    frame_index: which frame of a sweep (or sample of a force trace) it came from; -1: none.
    """

    detected: bool
    contrast: float
    score: float
    probe_xy_m: tuple[float, float] | None = None
    world_xy_m: tuple[float, float] | None = None
    frame_index: int = -1


NOTHING = Detection(False, 0.0, 0.0)


def homogeneous_background(model: TactileModel) -> FloatArray:
    """The calibration frame: the probe on inclusion-free tissue, scaled to mean 1."""
    frame = model.pressure_frame_kpa(ProbePose(0.0, 0.0, -1e-3), None)
    out: FloatArray = frame / frame.mean()
    return out


def median_background(frames: Sequence[FloatArray] | FloatArray) -> FloatArray:
    """Per-taxel median of the mean-normalised frames in contact, scaled to mean 1.

    Raises ConfigError when no frame has contact (all-zero frames carry no shape).
    """
    stack = [np.asarray(f, dtype=float) for f in frames]
    stack = [f / f.mean() for f in stack if f.mean() > 0.0]
    if not stack:
        raise ConfigError(
            "median_background: no frame has contact (all pressures 0); pass frames recorded "
            "while the probe pressed the tissue, or use homogeneous_background(model)"
        )
    med = np.median(np.stack(stack), axis=0)
    out: FloatArray = med / med.mean()
    return out


def _noise_sigma(resid: FloatArray, valid: np.ndarray) -> float:
    """Per-taxel noise (kPa) from neighbour differences (insensitive to smooth bumps)."""
    diffs = []
    for axis in (0, 1):
        d = np.diff(resid, axis=axis)
        ok = np.logical_and(
            np.take(valid, range(1, valid.shape[axis]), axis=axis),
            np.take(valid, range(valid.shape[axis] - 1), axis=axis),
        )
        diffs.append(d[ok])
    all_d = np.concatenate(diffs)
    if all_d.size == 0:
        return _MIN_NOISE_KPA
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(all_d - np.median(all_d)))) / math.sqrt(2.0)
    return max(sigma, _MIN_NOISE_KPA)


def detect_frame(
    frame_kpa: FloatArray,
    background: FloatArray,
    grid: TaxelGrid,
    pose: ProbePose | None = None,
    *,
    k_sigma: float = 6.0,
    min_contrast: float = 0.03,
) -> Detection:
    """Look for a stiff inclusion in one tactile frame (see the module docstring).

    Dead taxels (reading exactly 0 while the frame is in contact) are ignored. A frame with
    fewer than half its taxels in contact answers NOTHING.
    Raises ConfigError when the frame's or background's shape is not the grid's.
    """
    frame = np.asarray(frame_kpa, dtype=float)
    if frame.shape != (grid.rows, grid.cols) or background.shape != frame.shape:
        raise ConfigError(
            f"frame {frame.shape} and background {background.shape} must both be "
            f"({grid.rows}, {grid.cols}), the taxel grid's rows × cols"
        )
    valid = (frame > 0.0) & (background > 0.0) & np.isfinite(frame)
    if valid.sum() < 0.5 * frame.size:
        return NOTHING
    scale = float(np.median(frame[valid] / background[valid]))
    expected = scale * background
    resid = np.where(valid, frame - expected, 0.0)
    weight = ndimage.convolve(valid.astype(float), _BOX, mode="constant")
    smooth = ndimage.convolve(resid, _BOX, mode="constant") / np.maximum(weight, 1.0)
    sigma = _noise_sigma(resid, valid)
    # noise of a 3×3 mean where all nine are valid; fewer near edges and dead taxels
    score_map = smooth * np.sqrt(np.maximum(weight, 1.0)) / sigma
    score_map = np.where(valid, score_map, -np.inf)
    peak = np.unravel_index(int(np.argmax(score_map)), score_map.shape)
    score = float(score_map[peak])
    contrast = float(smooth[peak] / expected[peak])
    detected = score >= k_sigma and contrast >= min_contrast
    # centroid of the smoothed residual above half its peak, in the peak's connected region
    above = valid & (smooth >= 0.5 * smooth[peak])
    labels, _ = ndimage.label(above)
    region = labels == labels[peak]
    w = np.where(region, smooth, 0.0)
    rows, cols = np.indices(frame.shape)
    total = float(w.sum())
    if total > 0.0:
        r, c = float((w * rows).sum() / total), float((w * cols).sum() / total)
    else:  # a flat residual (noise-free, no inclusion): the peak is as good as anywhere
        r, c = float(peak[0]), float(peak[1])
    px, py = grid.position_of(r, c)
    world = pose.to_world(px, py) if pose is not None else None
    return Detection(detected, contrast, score, (px, py), world)


def detect_sweep(
    frames: Sequence[FloatArray],
    poses: Sequence[ProbePose],
    background: FloatArray,
    grid: TaxelGrid,
    *,
    min_frames: int = 2,
    k_sigma: float = 6.0,
    min_contrast: float = 0.03,
) -> Detection:
    """Detect over a sweep: yes when at least `min_frames` frames detect; the location is the
    one from the frame scoring highest (the inclusion most inside the probe).

    Raises ConfigError when frames and poses differ in number.
    """
    if len(frames) != len(poses):
        raise ConfigError(f"{len(frames)} frames but {len(poses)} poses: pass one pose per frame")
    best = NOTHING
    hits = 0
    for i, (frame, pose) in enumerate(zip(frames, poses, strict=True)):
        d = detect_frame(frame, background, grid, pose, k_sigma=k_sigma, min_contrast=min_contrast)
        hits += d.detected
        if d.probe_xy_m is not None and (best.probe_xy_m is None or d.score > best.score):
            best = Detection(d.detected, d.contrast, d.score, d.probe_xy_m, d.world_xy_m, i)
    return Detection(
        hits >= min_frames,
        best.contrast,
        best.score,
        best.probe_xy_m,
        best.world_xy_m,
        best.frame_index,
    )


def detect_from_force(
    path_xy_m: FloatArray,
    force_n: FloatArray,
    indentation_m: FloatArray,
    *,
    window: int = 9,
    background_percentile: float = 10.0,
    k_sigma: float = 9.0,
    min_contrast: float = 0.005,
    min_indentation_m: float = 5e-4,
) -> Detection:
    """Detect from the stylus force alone along one sweep (see the module docstring).

    path_xy_m (N, 2) world positions of the probe, force_n (N,) its normal force,
    indentation_m (N,) its depth. The location is on the path (the force cannot tell which
    side of it the inclusion is). Raises ConfigError on arrays of mismatched length.
    """
    xy = np.asarray(path_xy_m, dtype=float)
    f = np.asarray(force_n, dtype=float)
    d = np.asarray(indentation_m, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or not (len(xy) == len(f) == len(d)):
        raise ConfigError(
            f"path {xy.shape}, force {f.shape}, indentation {d.shape}: pass (N, 2), (N,), (N,)"
        )
    keep = (d >= min_indentation_m) & np.isfinite(f)
    if keep.sum() < 2 * window:
        return NOTHING
    idx = np.flatnonzero(keep)
    k = f[keep] / d[keep]
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy[keep], axis=0).T))])
    smooth = ndimage.uniform_filter1d(k, window, mode="nearest")
    base = float(np.percentile(smooth, background_percentile))
    diffs = np.diff(k)
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(diffs - np.median(diffs)))) / math.sqrt(2.0)
    sigma = max(sigma, 1e-9 * max(base, 1.0))
    peak = int(np.argmax(smooth))
    excess = smooth[peak] - base
    score = float(excess / (sigma / math.sqrt(window)))
    contrast = float(excess / base) if base > 0.0 else 0.0
    detected = score >= k_sigma and contrast >= min_contrast
    above = smooth >= base + 0.5 * excess
    labels, _ = ndimage.label(above)
    w = np.where(labels == labels[peak], smooth - base, 0.0)
    s_hat = float((w * s).sum() / w.sum()) if w.sum() > 0.0 else float(s[peak])
    x_hat = float(np.interp(s_hat, s, xy[keep][:, 0]))
    y_hat = float(np.interp(s_hat, s, xy[keep][:, 1]))
    return Detection(detected, contrast, score, None, (x_hat, y_hat), int(idx[peak]))
