"""A session on one time axis: position, force, contact and events (matplotlib, Agg).

Period error is measured against the loop rate the manifest declares (or, when it declares
none, the median tick interval), with `haptics.session.figures`.

A session with a tactile stream gets two more things: its background-removed contrast over
time (`haptics.session.pressure.contrast_kpa`, against the recording's own probe shape) on the
same time axis, and pressure maps at chosen times (kPa with a colour bar, and under each the
pressure less the probe's own shape, where an inclusion shows), drawn on the taxel grid the
manifest declares (rows × cols from the stream's layout, pitch from the sensor's description
when it gives one, else taxel indices). Without a tactile stream the figure is as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from haptics.errors import SessionError
from haptics.session.figures import period_errors_ns, period_or_median_ns
from haptics.session.pressure import background_shape, contrast_kpa, pick_times
from haptics.session.reading import Session
from haptics.wire.messages import EVENT_NAMES

MAX_PRESSURE_MAPS = 8


@dataclass
class _Tactile:
    """One tactile stream, ready to draw: frames, their times on the plot's axis, contrast."""

    name: str
    times_s: np.ndarray
    frames: np.ndarray
    contrast: np.ndarray
    background: np.ndarray | None
    pitch_mm: float | None


def _pitch_mm(session: Session, name: str) -> float | None:
    """The taxel pitch (mm) the stream's source describes in the manifest, or None."""
    source = session.manifest.streams[name].source
    sensors: Any = session.manifest.device.get("sensors") or {}
    info: Any = sensors.get(source) if isinstance(sensors, dict) else None
    try:
        pitch = float(info["extra"]["array"]["config"]["grid"]["pitch_m"]) * 1e3
    except (KeyError, TypeError, ValueError):
        return None
    return pitch if np.isfinite(pitch) and pitch > 0 else None


def _tactile(session: Session, t0: int) -> list[_Tactile]:
    """The session's tactile streams that hold frames."""
    out: list[_Tactile] = []
    for name in session.streams_of("tactile"):
        if session.table(name).num_rows == 0:
            continue
        frames = session.column_array(name, "pressure_kpa").astype(float)
        if frames.ndim != 3:
            continue
        times = (session.column_array(name, "host_time_ns").astype(np.int64) - t0) / 1e9
        shape = background_shape(frames)
        contrast = contrast_kpa(frames, shape)
        out.append(_Tactile(name, times, frames, contrast, shape, _pitch_mm(session, name)))
    return out


def _frame_times(tac: _Tactile, pressure_at: list[float] | None) -> list[int]:
    """Indices of the frames to show: nearest to each of `pressure_at`, else `pick_times`."""
    wanted = pressure_at if pressure_at is not None else pick_times(tac.times_s, tac.frames)
    idx = [int(np.argmin(np.abs(tac.times_s - t))) for t in wanted]
    return idx[:MAX_PRESSURE_MAPS]


def plot_session(session: Session, out: Path, pressure_at: list[float] | None = None) -> Path:
    """Draw the session to `out` (PNG) and return the path; damaged streams are drawn from
    their intact batches.

    With a tactile stream, the figure adds its contrast over time and its pressure maps at
    the times `pressure_at` (s on the plot's axis; each shows the nearest frame), by default
    at 4 evenly spaced times where the probe is in contact (`pick_times`).

    Raises SessionError when the state or telemetry stream has no samples to draw (naming
    the file and why), when `pressure_at` is given but the session holds no tactile frames,
    or when `out` cannot be written.
    """
    for name in ("state", "telemetry"):
        if name not in session.manifest.streams:
            raise SessionError(f"{session.path} has no '{name}' stream: nothing to plot")
        if session.table(name).num_rows == 0:
            why = session.missing.get(name) or session.damaged.get(name)
            file = session.path / session.manifest.streams[name].file
            raise SessionError(
                f"{file} holds no samples, nothing to plot"
                + (f": {why}" if why else " (the session recorded nothing)")
            )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st, tel = session.arrays("state"), session.arrays("telemetry")
    t0 = int(min(st["host_time_ns"][0], tel["wake_ns"][0]))
    ts = (st["host_time_ns"].astype(np.int64) - t0) / 1e9
    tt = (tel["wake_ns"].astype(np.int64) - t0) / 1e9
    tactile = _tactile(session, t0)
    if pressure_at is not None and not tactile:
        raise SessionError(
            f"{session.path} has no tactile frames to show at --pressure-at; drop the option "
            "(its streams: " + ", ".join(session.stream_names) + ")"
        )
    if pressure_at is not None and len(pressure_at) > MAX_PRESSURE_MAPS:
        raise SessionError(
            f"--pressure-at gives {len(pressure_at)} times; at most {MAX_PRESSURE_MAPS} fit"
        )
    if not tactile:
        fig, axes = plt.subplots(4, 1, figsize=(11, 9), sharex=True)
    else:
        shown = _frame_times(tactile[0], pressure_at)
        fig = plt.figure(figsize=(11, 17))
        grid = fig.add_gridspec(
            7,
            len(shown) + 1,
            height_ratios=[1, 1, 1, 0.8, 1, 1.4, 1.4],
            width_ratios=[1.0] * len(shown) + [0.06],
        )
        first = fig.add_subplot(grid[0, :])
        axes = [first, *(fig.add_subplot(grid[i, :], sharex=first) for i in range(1, 5))]
        # the contrast trace sits under the contact depth, the period error stays last
        axes = [axes[0], axes[1], axes[2], axes[4], axes[3]]
    ax = axes[0]
    for c, lbl in (("px", "x"), ("py", "y"), ("pz", "z")):
        ax.plot(ts, st[c] * 1e3, label=lbl, lw=0.9)
    ax.axhline(0.0, color="0.6", lw=0.6, ls="--")
    ax.set_ylabel("device position (mm)")
    ax.legend(loc="upper right", ncol=3, fontsize=8)
    ax = axes[1]
    for c, lbl in (("fx", "x"), ("fy", "y"), ("fz", "z")):
        ax.plot(tt, tel[c], label=f"commanded {lbl}", lw=0.9)
    ax.plot(tt, tel["tissue_force_n"], color="k", lw=0.6, alpha=0.5, label="tissue |F|")
    ax.set_ylabel("force (N)")
    ax.legend(loc="upper right", ncol=4, fontsize=8)
    ax = axes[2]
    ax.fill_between(
        tt,
        0,
        tel["depth_m"] * 1e3,
        where=tel["contact"] > 0,
        color="tab:green",
        alpha=0.4,
        step="mid",
        label="contact depth",
    )
    ax.plot(
        tt,
        tel["inclusion"] * float(max(1e-9, tel["depth_m"].max() * 1e3)),
        color="tab:red",
        lw=0.8,
        label="over inclusion",
    )
    ax.set_ylabel("depth (mm)")
    ax.legend(loc="upper right", fontsize=8)
    if tactile:
        ax = axes[4]
        for tac in tactile:
            ax.plot(tac.times_s, tac.contrast, lw=0.8, label=f"{tac.name} contrast")
        for i in shown:
            ax.axvline(tactile[0].times_s[i], color="tab:orange", lw=0.8, ls="--")
        ax.set_ylabel("tactile contrast (kPa)")
        ax.legend(loc="upper right", fontsize=8)
        _pressure_maps(fig, grid, tactile[0], shown)
    ax = axes[3]
    rate = session.nominal_rate_hz("telemetry")
    wake = tel["wake_ns"].astype(np.int64)
    err = period_errors_ns(wake, period_or_median_ns(wake, rate)) / 1e3
    ax.plot(tt[1:], err, lw=0.6, color="tab:purple")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("period error (µs)")
    ax.set_xlabel("time (s)")
    for bit, name in EVENT_NAMES.items():
        hits = tt[(tel["events"] & bit) != 0]
        for x in hits[:200]:
            for a in [*axes[:3], *axes[4:]]:
                a.axvline(x, color="0.3", lw=0.5, alpha=0.5)
        if hits.size and name not in ("overrun",):
            axes[0].annotate(
                name,
                (hits[0], axes[0].get_ylim()[1]),
                fontsize=7,
                rotation=90,
                va="top",
                ha="right",
            )
    m = session.manifest
    fig.suptitle(
        f"{session.path.name} · {m.scene.get('scene')} · {m.device.get('driver')} · {m.status}"
    )
    if tactile:  # one time axis: tick labels on the bottom one (period error) only
        for a in [*axes[:3], axes[4]]:
            a.tick_params(labelbottom=False)
    fig.tight_layout()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise SessionError(
            f"cannot write the plot to {out} ({exc.strerror or exc}); choose another path with -o"
        ) from exc
    finally:
        plt.close(fig)
    return out


def _pressure_maps(fig: Any, grid: Any, tac: _Tactile, shown: list[int]) -> None:
    """Two rows of maps on the taxel grid at the frames `shown`: the pressure (kPa, one
    shared scale) and, under it, the pressure less the probe's own shape (s · B of
    `haptics.session.pressure`, kPa, a diverging scale centred on 0), each with a colour bar."""
    rows, cols = tac.frames.shape[1:]
    pitch = tac.pitch_mm
    if pitch is not None:  # the array's face in mm, centred on the probe; row 0 at −y
        extent = (-cols * pitch / 2, cols * pitch / 2, -rows * pitch / 2, rows * pitch / 2)
        unit, origin = "mm", "lower"
    else:
        extent = (-0.5, cols - 0.5, rows - 0.5, -0.5)
        unit, origin = "taxel", "upper"
    frames = np.where(np.isfinite(tac.frames[shown]), tac.frames[shown], 0.0)
    shape = tac.background if tac.background is not None else np.ones((rows, cols))
    scales = [float(np.median(f[shape > 0] / shape[shape > 0])) for f in frames]
    resid = np.stack([f - s * shape for f, s in zip(frames, scales, strict=True)])
    vmax = max(float(frames.max()), 1e-6)
    rmax = max(float(np.abs(resid).max()), 1e-6)
    what = "less probe shape" if tac.background is not None else "less median"
    for row, data, cmap, lo, hi, label in (
        (5, frames, "viridis", 0.0, vmax, "pressure (kPa)"),
        (6, resid, "RdBu_r", -rmax, rmax, f"{what} (kPa)"),
    ):
        image = None
        for k, i in enumerate(shown):
            ax = fig.add_subplot(grid[row, k])
            image = ax.imshow(
                data[k],
                cmap=cmap,
                vmin=lo,
                vmax=hi,
                extent=extent,
                origin=origin,
                interpolation="nearest",
            )
            if row == 5:
                ax.set_title(
                    f"t = {tac.times_s[i]:.2f} s · max {float(frames[k].max()):.1f} kPa",
                    fontsize=8,
                )
            else:
                ax.set_title(f"contrast {tac.contrast[i]:.2f} kPa", fontsize=8)
                ax.set_xlabel(f"x ({unit})", fontsize=7)
            if k == 0:
                ax.set_ylabel(f"{tac.name} {rows}×{cols}\ny ({unit})", fontsize=7)
            ax.tick_params(labelsize=6)
        if image is not None:
            bar = fig.colorbar(image, cax=fig.add_subplot(grid[row, len(shown)]))
            bar.set_label(label, fontsize=7)
            bar.ax.tick_params(labelsize=6)
