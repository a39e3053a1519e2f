"""Replaying a session: re-render its recorded device motion and compare forces.

The recorded state stream drives the loop through the `replay` driver (same sequence
numbers, same rate, same buttons), with the scene and its parameters and the loop's
configuration stored in the manifest: rate, teleop mapping (scale, offset, camera yaw) and
safety policy; the passivity bound comes with the recorded device schema. Each command the
loop sends names the state sample it answered, so every re-rendered force is compared with
the recorded force for the same sample. A regression tool for renderers and drivers: with
the same scene and configuration the forces match, so a difference is the renderer's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from haptics.errors import HapticsError, SessionError
from haptics.loop.safety import SafetyPolicy
from haptics.loop.teleop import Mapping
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


def recorded_loop(session: Session) -> tuple[float, Mapping, SafetyPolicy, list[str]]:
    """The loop configuration a session ran with, from its manifest's `loop` section: (rate
    in Hz, teleop mapping, safety policy, the names of the parts the manifest lacks, for
    which the defaults stand in).

    Raises SessionError when a recorded part is not a valid mapping or policy.
    """
    loop = session.manifest.loop
    missing = [k for k in ("rate_hz", "mapping", "safety") if k not in loop]
    try:
        rate = float(loop.get("rate_hz", 1000.0))
        mapping = Mapping.model_validate(loop.get("mapping", {}))
        safety = SafetyPolicy.model_validate(loop.get("safety", {}))
    except (ValidationError, TypeError, ValueError) as exc:
        raise SessionError(
            f"{session.path}: the manifest's loop section cannot be used to replay it ({exc}); "
            "fix manifest.json's `loop` (rate_hz, mapping, safety) or replay with "
            "`haptics replay --default-loop` (the default mapping and policy)"
        ) from exc
    if not rate > 0:
        raise SessionError(f"{session.path}: the manifest's loop rate_hz {rate} is not > 0")
    return rate, mapping, safety, missing


def replay_session(
    path: str | Path, record_dir: Path | None = None, recorded_loop_config: bool = True
) -> dict[str, Any]:
    """Replay the session at `path` through the loop and compare the forces.

    With `recorded_loop_config` (the default) the loop runs at the recorded rate with the
    recorded teleop mapping and safety policy; without, at the recorded rate with the default
    mapping and policy (a what-if: how would the default mapping have rendered this motion).
    Raises SessionError if the session cannot be replayed (no scene recorded, no samples, a
    broken loop section).
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
    if recorded_loop_config:
        rate, mapping, safety, missing = recorded_loop(original)
    else:  # the recorded rate, but the default mapping and policy
        rate, mapping, safety, missing = recorded_loop(original)[0], Mapping(), SafetyPolicy(), []
    cfg = SessionConfig(
        device=f"replay:{original.path}",
        scene=scene,
        scene_params=m.scene.get("config", {}),
        duration_s=duration + 0.3,
        record_dir=out_dir,
        monitor=False,
        rate_hz=rate,
        mapping=mapping,
        safety=safety,
    )
    with SessionRun(cfg) as run:
        run.run_to_end(0.05)
    replayed = open_session(run.result["session"])
    return {
        "session": str(original.path),
        "replay": str(replayed.path),
        "scene": scene,
        "loop_config": "recorded" if recorded_loop_config else "default",
        "loop_defaults_used_for": missing,
        "rate_hz": rate,
        "mapping": mapping.model_dump(),
        **compare_forces(original, replayed),
    }
