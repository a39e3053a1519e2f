"""Draw a registered tissue model's characteristic curves to a PNG.

Force against depth for a press and release (at a slow and a fast speed, so damping shows
as hysteresis); for `StandardLinearSolid` also force against time under a held indentation;
for `NeedleInsertion` and `LayeredTissue` force against insertion depth with the punctures
marked and, for the needle, the negative retraction branch; for `Cutting` the normal and
tangential force of a cut, a lift, and a second pass along the same path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.tissue.base import EVENT_CUT_END, EVENT_CUT_START, EVENT_PUNCTURE, TissueModel
from sim.tissue.curves import Curve, cycle_work, hold, press_release_cycle, run_profile
from sim.tissue.cutting import Cutting
from sim.tissue.layered import LayeredTissue
from sim.tissue.needle import NeedleInsertion
from sim.tissue.registry import create_model
from sim.tissue.standard_linear_solid import StandardLinearSolid

_MM = 1.0e3
_DT = 1.0e-3


_SPEED_COLORS = ("tab:blue", "tab:orange", "tab:green")


def _press_release_axes(
    ax: Any, model: TissueModel[Any], max_depth_m: float, speeds_m_s: tuple[float, ...]
) -> None:
    lossless = True
    for speed, color in zip(speeds_m_s, _SPEED_COLORS, strict=False):
        curve = press_release_cycle(model, max_depth_m, speed, _DT)
        lossless = lossless and abs(cycle_work(curve)) < 1e-9
        pressing = curve.velocity_m_s > 0.0
        releasing = ~pressing
        ax.plot(
            curve.depth_m[pressing] * _MM,
            curve.force_n[pressing],
            color=color,
            label=f"press {speed * _MM:g} mm/s",
        )
        ax.plot(
            curve.depth_m[releasing] * _MM,
            curve.force_n[releasing],
            color=color,
            linestyle="--",
            label=f"release {speed * _MM:g} mm/s",
        )
    if lossless:
        ax.text(
            0.98,
            0.02,
            "lossless: release retraces press at every speed",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="small",
        )
    ax.set_xlabel("depth [mm]")
    ax.set_ylabel("normal force [N]")
    ax.set_title("force vs depth")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")


def _relaxation_axes(ax: Any, model: StandardLinearSolid) -> None:
    depth = 0.01
    tau = model.relaxation_time_s
    curve = hold(model, depth, 5.0 * tau, _DT)
    equilibrium = model.equilibrium_stiffness_n_per_m * depth
    instantaneous = model.instantaneous_stiffness_n_per_m * depth
    ax.plot(curve.time_s, curve.force_n, color="tab:blue", label=f"held at {depth * _MM:.0f} mm")
    ax.axhline(equilibrium, color="gray", linestyle=":", label="equilibrium k∞·d")
    ax.axhline(instantaneous, color="gray", linestyle="--", label="instantaneous (k∞+k₁)·d")
    at_tau = equilibrium + (instantaneous - equilibrium) * np.exp(-1.0)
    ax.plot([tau], [at_tau], "o", color="tab:red", label=f"t = τ = {tau:g} s")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("normal force [N]")
    ax.set_title("stress relaxation under held indentation")
    ax.set_ylim(0.0, instantaneous * 1.15)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")


def _mark_punctures(ax: Any, curve: Curve, names: list[str]) -> None:
    for i, k in enumerate(curve.steps_with(EVENT_PUNCTURE)):
        before = curve.force_n[k - 1] if k > 0 else curve.force_n[k]
        x = curve.depth_m[k] * _MM
        ax.plot([x, x], [before, curve.force_n[k]], color="tab:red", linewidth=1.0)
        ax.plot([x], [before], "v", color="tab:red", label="puncture" if i == 0 else None)
        layer = int(curve.layer[k])
        name = names[layer] if 0 <= layer < len(names) else str(layer)
        ax.annotate(name, (x, before), textcoords="offset points", xytext=(4, 4), fontsize="small")


_LAYER_COLORS = ("#f4d6c6", "#fbefb8", "#e6b3b3", "#cfe0f0", "#d9ead3")


def _shade_layers(ax: Any, curve: Curve, names: list[str]) -> None:
    """Shade the depth range the tip spent in each layer during insertion."""
    inserting = curve.velocity_m_s > 0.0
    depth = curve.depth_m[inserting] * _MM
    layer = curve.layer[inserting]
    labelled: set[int] = set()
    start = 0
    for k in range(1, depth.size + 1):
        if k < depth.size and layer[k] == layer[start]:
            continue
        index = int(layer[start])
        if index >= 0:
            name = names[index] if index < len(names) else str(index)
            ax.axvspan(
                depth[start],
                depth[min(k, depth.size - 1)],
                color=_LAYER_COLORS[index % len(_LAYER_COLORS)],
                alpha=0.6,
                linewidth=0,
                label=f"tip in {name}" if index not in labelled else None,
            )
            labelled.add(index)
        start = k


def _layers_axes(ax: Any, model: LayeredTissue | NeedleInsertion, max_depth_m: float) -> None:
    speed = 0.01
    curve = press_release_cycle(model, max_depth_m, speed, _DT)
    names = [layer.name for layer in model.layers]
    _shade_layers(ax, curve, names)
    inserting = curve.velocity_m_s > 0.0
    ax.plot(
        curve.depth_m[inserting] * _MM,
        curve.force_n[inserting],
        color="tab:blue",
        label=f"insertion {speed * _MM:g} mm/s",
    )
    ax.plot(
        curve.depth_m[~inserting] * _MM,
        curve.force_n[~inserting],
        color="tab:orange",
        label="retraction",
    )
    _mark_punctures(ax, curve, names)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel("insertion depth [mm]")
    ax.set_ylabel("axial force [N] (+ resists insertion)")
    ax.set_title("force vs insertion depth")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")


def _cutting_profile() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Press in, drag 30 mm, lift, go back 15 mm, press again, drag 25 mm, lift."""

    def seg(d0: float, d1: float, vt: float, seconds: float) -> tuple[Any, Any]:
        n = round(seconds / _DT)
        return np.linspace(d0, d1, n + 1)[1:], np.full(n, vt)

    parts = [
        seg(0.0, 0.008, 0.0, 0.4),  # press
        seg(0.008, 0.008, 0.02, 1.5),  # drag forward 30 mm, cutting fresh tissue
        seg(0.008, -0.002, 0.0, 0.5),  # lift out
        seg(-0.002, -0.002, -0.03, 0.5),  # back 15 mm in the air
        seg(-0.002, 0.008, 0.0, 0.5),  # press again on the cut
        seg(0.008, 0.008, 0.02, 1.25),  # drag 25 mm: 15 mm along the cut, then fresh
        seg(0.008, -0.002, 0.0, 0.5),  # lift out
    ]
    depth = np.concatenate([p[0] for p in parts])
    tangential = np.concatenate([p[1] for p in parts])
    return depth, tangential


def _cutting_axes(axes: Any, model: Cutting) -> None:
    depth, tangential = _cutting_profile()
    curve = run_profile(model, depth, _DT, tangential_velocities_m_s=tangential)
    position = np.cumsum(tangential) * _DT
    top, bottom = axes
    top.plot(curve.time_s, curve.force_n, color="tab:blue", label="normal force")
    top.plot(curve.time_s, curve.tangential_force_n, color="tab:orange", label="tangential force")
    for k in curve.steps_with(EVENT_CUT_START):
        top.axvline(curve.time_s[k], color="tab:green", linestyle="--", linewidth=1.0)
    for k in curve.steps_with(EVENT_CUT_END):
        top.axvline(curve.time_s[k], color="tab:red", linestyle=":", linewidth=1.0)
    top.plot([], [], color="tab:green", linestyle="--", label="cut start")
    top.plot([], [], color="tab:red", linestyle=":", label="cut end")
    top.axhline(0.0, color="black", linewidth=0.6)
    top.set_ylabel("force [N]")
    top.set_title("cut 30 mm, lift, back 15 mm, cut again (15 mm recut, then fresh)")
    top.grid(True, alpha=0.3)
    top.legend(loc="lower left", fontsize="small")
    bottom.plot(curve.time_s, depth * _MM, color="tab:blue", label="depth [mm]")
    bottom.plot(curve.time_s, position * _MM, color="tab:orange", label="path position [mm]")
    bottom.set_xlabel("time [s]")
    bottom.set_ylabel("mm")
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="upper left", fontsize="small")


def plot_model(name: str, out_path: Path) -> Path:
    """Draw the registered model `name` to the PNG `out_path` and return that path.

    Parent folders are created. Raises ConfigError if `name` is not a registered model.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = create_model(name)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, StandardLinearSolid):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        _press_release_axes(axes[0], model, 0.02, (0.001, 0.01, 0.1))
        _relaxation_axes(axes[1], model)
    elif isinstance(model, LayeredTissue | NeedleInsertion):
        fig, ax = plt.subplots(figsize=(10, 5))
        _layers_axes(ax, model, 0.05)
    elif isinstance(model, Cutting):
        fig, axes = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
        _cutting_axes(axes, model)
    else:
        fig, ax = plt.subplots(figsize=(7, 5))
        _press_release_axes(ax, model, 0.02, (0.01, 0.1))
    fig.suptitle(f"tissue model '{name}' ({type(model).__name__}, defaults)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
