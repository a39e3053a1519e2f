"""Draw tactile frames (pressure maps in kPa) to a PNG, for `haptics sessions plot` and reports.

Uses matplotlib's Agg backend (no display). Each panel is one frame in the probe frame
(mm, x right, y up), with a shared colour scale and, optionally, a marker where a detector
put the inclusion. Raw pressure is dominated by the rigid probe's edges and corners, so with
a `background` (the calibration shape, `sim.tactile.detect`) the panels show the contrast
instead: each frame over its fitted background, minus 1, in %, dead taxels grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from haptics.errors import ConfigError
from sim.tactile.boussinesq import FloatArray
from sim.tactile.grid import TaxelGrid


def render_pressure_png(
    frames_kpa: Sequence[FloatArray],
    grid: TaxelGrid,
    path: str | Path,
    *,
    titles: Sequence[str] | None = None,
    markers_xy_m: Sequence[tuple[float, float] | None] | None = None,
    suptitle: str | None = None,
    background: FloatArray | None = None,
) -> Path:
    """Write the frames side by side to `path` (PNG) and return it.

    markers_xy_m: per frame, a probe-frame (x, y) to mark (e.g. a detection) or None.
    background: show contrast (%) against this shape instead of pressure (kPa).
    Raises ConfigError when no frame is given, a frame's shape is not the grid's, or the
    titles/markers do not match the frames in number.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [np.asarray(f, dtype=float) for f in frames_kpa]
    if not frames:
        raise ConfigError("render_pressure_png: pass at least one frame")
    for f in frames:
        if f.shape != (grid.rows, grid.cols):
            raise ConfigError(
                f"frame of shape {f.shape}: expected ({grid.rows}, {grid.cols}) for this grid"
            )
    for name, seq in (("titles", titles), ("markers_xy_m", markers_xy_m)):
        if seq is not None and len(seq) != len(frames):
            raise ConfigError(f"{len(seq)} {name} for {len(frames)} frames: pass one per frame")
    w_mm, h_mm = (v * 1e3 for v in grid.size_m)
    extent = (-w_mm / 2, w_mm / 2, -h_mm / 2, h_mm / 2)
    if background is not None:
        frames = [_contrast_percent(f, np.asarray(background, dtype=float)) for f in frames]
        top = max(float(np.nanmax(np.abs(f))) for f in frames) or 1.0
        vmin, vmax, cmap, label = -top, top, "RdBu_r", "contrast over background (%)"
    else:
        vmax = max(float(np.nanmax(f)) for f in frames) or 1.0
        vmin, cmap, label = 0.0, "inferno", "pressure (kPa)"
    fig, axes = plt.subplots(
        1,
        len(frames),
        figsize=(2.6 * len(frames) + 1.2, 3.6),
        squeeze=False,
        layout="constrained",
    )
    colours = matplotlib.colormaps[cmap].with_extremes(bad="0.6")
    image = None
    for k, (ax, frame) in enumerate(zip(axes[0], frames, strict=True)):
        image = ax.imshow(
            frame,
            origin="lower",
            extent=extent,
            vmin=vmin,
            vmax=vmax,
            cmap=colours,
            interpolation="nearest",
        )
        ax.set_xlabel("x (mm)")
        if k == 0:
            ax.set_ylabel("y (mm)")
        else:
            ax.tick_params(labelleft=False)
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
        mark = markers_xy_m[k] if markers_xy_m is not None else None
        if mark is not None:
            ax.plot(mark[0] * 1e3, mark[1] * 1e3, marker="+", color="lime", ms=14, mew=2)
    assert image is not None
    fig.colorbar(image, ax=axes[0].tolist(), label=label, shrink=0.9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _contrast_percent(frame: FloatArray, background: FloatArray) -> FloatArray:
    """100 · (frame / (s · background) − 1), s the median ratio; NaN where a taxel reads 0."""
    valid = (frame > 0.0) & (background > 0.0)
    if not valid.any():
        return np.full(frame.shape, np.nan)
    scale = float(np.median(frame[valid] / background[valid]))
    out: FloatArray = np.where(valid, 100.0 * (frame / (scale * background) - 1.0), np.nan)
    return out
