"""A session on one time axis: position, force, contact and events (matplotlib, Agg).

Period error is measured against the loop rate the manifest declares (or, when it declares
none, the median tick interval), with `haptics.session.figures`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haptics.errors import SessionError
from haptics.session.figures import period_errors_ns, period_or_median_ns
from haptics.session.reading import Session
from haptics.wire.messages import EVENT_NAMES


def plot_session(session: Session, out: Path) -> Path:
    """Draw the session to `out` (PNG) and return the path; damaged streams are drawn from
    their intact batches.

    Raises SessionError when the state or telemetry stream has no samples to draw (naming
    the file and why), or when `out` cannot be written.
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
    fig, axes = plt.subplots(4, 1, figsize=(11, 9), sharex=True)
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
            for a in axes[:3]:
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
