"""Tactile pressure frames read back from a session: background-removed contrast, and which
frames to show.

Contrast (`contrast_kpa`) is how far a frame rises above what the probe alone would give:

    expected = s · B            B: the background shape (mean 1), s = median(frame / B)
    contrast = max over taxels of the 3 × 3 mean of (frame − expected)     [kPa]

The scale s is a median, so a bump covering a minority of taxels does not lift it; the 3 × 3
mean keeps single-taxel read noise from setting the maximum. B defaults to flat (all ones),
so the background is the frame's median; a rigid flat probe, though, already piles pressure
up at its edges on homogeneous tissue, so a flat B scores that edge every frame in contact.
`background_shape` takes B from a recording instead: the per-taxel median of its
mean-normalised frames in contact (an inclusion sits under different taxels as the probe
moves, so the median is the probe's own shape). Taxels that are not finite, or that read 0
while the frame is in contact (dead), are left out. numpy/scipy only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from haptics.errors import SessionError

_BOX = (3, 3)


def _stack(frames: np.ndarray) -> np.ndarray:
    a = np.asarray(frames, dtype=float)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise SessionError(
            f"pressure frames of shape {a.shape}: pass one (rows, cols) frame or a "
            "(frames, rows, cols) stack"
        )
    return a


def in_contact(frames: np.ndarray, min_kpa: float = 0.5) -> np.ndarray:
    """Which frames press on something: median taxel pressure above `min_kpa` (bool, one
    per frame). The median, not the maximum, so a few noisy taxels do not count."""
    a = _stack(frames)
    flat = np.where(np.isfinite(a), a, 0.0).reshape(len(a), -1)
    return np.asarray(np.median(flat, axis=1) > min_kpa) if flat.size else np.zeros(0, bool)


def background_shape(frames: np.ndarray, min_kpa: float = 0.5) -> np.ndarray | None:
    """The probe's own pressure shape (mean 1): the per-taxel median of the frames in contact
    (`in_contact`), each scaled to mean 1; None when fewer than 3 frames are in contact."""
    a = _stack(frames)
    pressed = a[in_contact(a, min_kpa)]
    pressed = np.where(np.isfinite(pressed), pressed, 0.0)
    if len(pressed) < 3:
        return None
    means = pressed.reshape(len(pressed), -1).mean(axis=1)
    med = np.median(pressed / means[:, None, None], axis=0)
    mean = float(med.mean())
    return med / mean if mean > 0 else None


def contrast_kpa(frames: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Background-removed contrast of each frame in kPa (see the module docstring): one
    value per frame of a (frames, rows, cols) stack, or a 1-element array for one frame.

    `background`: the shape B (rows, cols), e.g. from `background_shape`; None: flat.
    Raises SessionError when shapes do not match.
    """
    a = _stack(frames)
    bg = np.ones(a.shape[1:]) if background is None else np.asarray(background, dtype=float)
    if bg.shape != a.shape[1:]:
        raise SessionError(f"background {bg.shape} does not match frames {a.shape[1:]}")
    out = np.zeros(len(a))
    for i, frame in enumerate(a):
        finite = np.isfinite(frame) & (bg > 0)
        pressed = float(np.median(frame[finite])) > 0.0 if finite.any() else False
        valid = finite & (frame > 0.0) if pressed else finite
        if not valid.any():
            continue
        scale = float(np.median(frame[valid] / bg[valid]))
        resid = np.where(valid, frame - scale * bg, 0.0)
        weight = ndimage.uniform_filter(valid.astype(float), _BOX, mode="constant")
        smooth = ndimage.uniform_filter(resid, _BOX, mode="constant") / np.maximum(weight, 1e-9)
        out[i] = float(np.max(np.where(valid, smooth, -np.inf)))
    return out


def pick_times(times_s: np.ndarray, frames: np.ndarray, n: int = 4) -> list[float]:
    """`n` evenly spaced frame times (s) among the frames in contact (`in_contact`), or among
    all frames when fewer than `n` are in contact; fewer when there are fewer frames."""
    t = np.asarray(times_s, dtype=float)
    if t.size == 0 or n <= 0:
        return []
    pressed = in_contact(frames)
    pool = t[pressed] if int(pressed.sum()) >= n else t
    # the middle of n equal slices: never the very first or last frame of a press
    idx = ((np.arange(n) + 0.5) * pool.size / n).astype(int)
    return [float(pool[i]) for i in np.unique(np.clip(idx, 0, pool.size - 1))]
