"""Background-removed contrast of tactile frames (haptics.session.pressure), on synthetic
frames whose bumps are planted, so which contrast is larger is known in advance."""

from __future__ import annotations

import numpy as np
import pytest

from haptics.errors import SessionError
from haptics.session.pressure import (
    background_shape,
    contrast_kpa,
    in_contact,
    pick_times,
)

N = 16


def _bump(
    amplitude_kpa: float, width_taxels: float, at: tuple[float, float] = (8.0, 6.0)
) -> np.ndarray:
    r, c = np.indices((N, N))
    return amplitude_kpa * np.exp(-((r - at[0]) ** 2 + (c - at[1]) ** 2) / (2.0 * width_taxels**2))


def _probe_shape() -> np.ndarray:
    """A rigid flat probe's shape: pressure piling up towards the edges (mean 1)."""
    x = (np.arange(N) - (N - 1) / 2) / (N / 2)
    xx, yy = np.meshgrid(x, x)
    shape = 1.0 / np.sqrt(1.05 - xx**2) / np.sqrt(1.05 - yy**2)
    return np.asarray(shape / float(shape.mean()))


def _noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    return frame + np.random.default_rng(seed).normal(0.0, 0.05, frame.shape)


def test_a_planted_bump_scores_above_a_flat_frame_and_a_weaker_or_deeper_one_less() -> None:
    flat = _noisy(np.full((N, N), 2.0), 1)
    strong = _noisy(2.0 + _bump(1.0, 1.5), 1)
    weak = _noisy(2.0 + _bump(0.3, 1.5), 1)
    deep = _noisy(2.0 + _bump(0.5, 3.0), 1)  # deeper inclusion: wider and weaker at the surface
    c_flat, c_strong, c_weak, c_deep = contrast_kpa(np.stack([flat, strong, weak, deep]))
    assert c_flat < 0.15  # noise only: a 3 × 3 mean of 0.05 kPa read noise
    assert c_strong > 0.6 and c_strong > c_deep > c_flat and c_strong > c_weak > c_flat
    assert contrast_kpa(strong)[0] == pytest.approx(c_strong)  # one frame alone, same answer


def test_the_probe_shape_from_a_sweep_removes_the_edge_pile_up() -> None:
    shape = _probe_shape()
    sweep = [_noisy(2.0 * shape + _bump(0.8, 1.5, (4.0 + k, 4.0 + k)), k) for k in range(8)]
    plain = _noisy(2.0 * shape, 99)
    with_bump = _noisy(2.0 * shape + _bump(0.8, 1.5), 98)
    # against a flat background the edges alone look like a strong contrast...
    assert contrast_kpa(plain)[0] > 1.0
    bg = background_shape(np.stack(sweep))
    assert bg is not None and bg.shape == (N, N) and bg.mean() == pytest.approx(1.0)
    # ...against the sweep's own shape only the bump stands out
    c_plain, c_bump = contrast_kpa(np.stack([plain, with_bump]), bg)
    assert c_plain < 0.2 < 0.5 < c_bump


def test_frames_without_contact_have_no_shape_and_tiny_contrast() -> None:
    idle = np.stack([_noisy(np.zeros((N, N)), k) for k in range(5)])
    assert not in_contact(idle).any()
    assert background_shape(idle) is None
    assert (contrast_kpa(idle) < 0.15).all()
    with pytest.raises(SessionError, match="does not match"):
        contrast_kpa(idle, np.ones((4, 4)))
    with pytest.raises(SessionError, match="pass one"):
        contrast_kpa(np.zeros(5))


def test_dead_and_not_finite_taxels_are_left_out() -> None:
    frame = _noisy(np.full((N, N), 2.0), 3)
    frame[0, 0] = np.nan
    frame[5, 5] = 0.0  # dead while the frame is pressed
    assert np.isfinite(contrast_kpa(frame)).all() and contrast_kpa(frame)[0] < 0.15


def test_default_times_are_spread_over_the_frames_in_contact() -> None:
    t = np.arange(100) * 0.01
    frames = np.zeros((100, 4, 4))
    frames[40:80] = 3.0  # contact from 0.40 s to 0.79 s
    picked = pick_times(t, frames)
    assert len(picked) == 4 and all(0.40 <= x < 0.80 for x in picked)
    assert picked == sorted(picked) and len(set(picked)) == 4
    # no contact: spread over every frame; fewer frames than asked: each once
    assert len(pick_times(t, np.zeros((100, 4, 4)))) == 4
    assert pick_times(t[:2], frames[:2]) == [0.0, 0.01]
    assert pick_times(t[:0], frames[:0]) == []
