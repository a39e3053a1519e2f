"""Replaying a session: re-render its recorded device motion and compare forces.

The recorded state stream drives the loop through the `replay` driver (same sequence
numbers, same rate), with the scene and parameters stored in the manifest. Each command the
loop sends names the state sample it answered, so every re-rendered force is compared with
the recorded force for the same sample. A regression tool for renderers and drivers: with
the same scene and parameters the forces match.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from haptics.errors import HapticsError, SessionError
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import Session, open_session


def force_by_state_seq(session: Session, which: str = "rendered") -> tuple[np.ndarray, np.ndarray]:
    """(state_seq, force xyz) per answered sample: the force the scene `rendered` (before
    passivity and safety, a pure function of the sample) or the force `commanded` (after
    them: it also depends on tick timing through the rate limit, ramp-in and energy)."""
    t = session.arrays("telemetry")
    cols = ("rx", "ry", "rz") if which == "rendered" else ("fx", "fy", "fz")
    keep = t["state_seq"] > 0
    seq = t["state_seq"][keep]
    f = np.stack([t[c][keep] for c in cols], axis=1)
    # the first command answering each sample (later ones repeat it while input is held)
    seq_u, first = np.unique(seq, return_index=True)
    return seq_u, f[first]


def compare_forces(recorded: Session, replayed: Session, which: str = "rendered") -> dict[str, Any]:
    """Force error between two sessions on the samples both answered (see force_by_state_seq)."""
    a_seq, a_f = force_by_state_seq(recorded, which)
    b_seq, b_f = force_by_state_seq(replayed, which)
    common, ia, ib = np.intersect1d(a_seq, b_seq, return_indices=True)
    if common.size == 0:
        raise HapticsError("the replay answered none of the recorded samples; nothing to compare")
    err = np.linalg.norm(a_f[ia] - b_f[ib], axis=1)
    peak = float(np.linalg.norm(a_f, axis=1).max())
    rmse = float(np.sqrt(np.mean(err**2)))
    return {
        "samples_compared": int(common.size),
        "samples_recorded": int(a_seq.size),
        "force_rmse_n": round(rmse, 6),
        "max_abs_error_n": round(float(err.max()), 6),
        "peak_force_n": round(peak, 4),
        "rmse_fraction_of_peak": round(rmse / peak, 6) if peak > 0 else 0.0,
    }


def replay_session(path: str | Path, record_dir: Path | None = None) -> dict[str, Any]:
    """Replay the session at `path` through the loop and compare the forces.

    Raises SessionError if the session cannot be replayed (no scene recorded, no samples).
    """
    original = open_session(path)
    m = original.manifest
    scene = m.scene.get("scene")
    if not scene:
        raise SessionError(f"{path}: the manifest names no scene; cannot re-render it")
    state = original.arrays("state")
    if state["seq"].size < 2:
        raise SessionError(f"{path}: fewer than two state samples; nothing to replay")
    duration = float(state["host_time_ns"][-1] - state["host_time_ns"][0]) / 1e9
    out_dir = record_dir or Path(tempfile.mkdtemp(prefix="haptics-replay-"))
    cfg = SessionConfig(
        device=f"replay:{original.path}",
        scene=scene,
        scene_params=m.scene.get("config", {}),
        duration_s=duration + 0.3,
        record_dir=out_dir,
        monitor=False,
        rate_hz=float(m.loop.get("rate_hz", 1000.0)),
    )
    with SessionRun(cfg) as run:
        run.run_to_end(0.05)
    replayed = open_session(run.result["session"])
    return {
        "session": str(original.path),
        "replay": str(replayed.path),
        "scene": scene,
        **compare_forces(original, replayed),
    }
