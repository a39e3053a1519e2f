"""Quality checks of a recorded session, with pass/fail against thresholds.

Reports per-stream loss (sequence gaps and recorded/published), loop overruns, the
device-to-host clock mapping (offset and drift fitted over the session), and how long the
commanded force sat at the safety limit (saturation). Thresholds are a pydantic model so a
dataset can keep its own in a file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from haptics.session.reading import Session, seq_gaps


class QAThresholds(BaseModel):
    max_gap_fraction: float = Field(0.001, description="lost / published samples, per stream")
    max_missed_ticks: int = 20
    max_saturation_fraction: float = Field(0.05, description="time at the force limit")
    max_clock_residual_us: float = Field(500.0, description="p99 of device→host fit residual")


def clock_mapping(device_ns: np.ndarray, host_ns: np.ndarray) -> dict[str, float]:
    """Least-squares host = offset + (1 + drift) · device; residual p99 in µs (pure)."""
    if device_ns.size < 2:
        return {"offset_ns": 0.0, "drift_ppm": 0.0, "residual_p99_us": 0.0}
    d = device_ns.astype(np.float64) - float(device_ns[0])
    h = host_ns.astype(np.float64) - float(host_ns[0])
    slope, intercept = np.polyfit(d, h, 1)
    resid = h - (slope * d + intercept)
    return {
        "offset_ns": float(host_ns[0]) - float(device_ns[0]) + float(intercept),
        "drift_ppm": round((float(slope) - 1.0) * 1e6, 3),
        "residual_p99_us": round(float(np.percentile(np.abs(resid), 99)) / 1e3, 3),
    }


def qa_report(session: Session, thresholds: QAThresholds | None = None) -> dict[str, Any]:
    """The QA report of one session; `passed` is True only if every check passed."""
    th = thresholds or QAThresholds()
    m = session.manifest
    checks: dict[str, bool] = {}
    streams: dict[str, Any] = {}
    for name in session.stream_names:
        t = session.table(name)
        seq = t.column("tick" if name == "telemetry" else "seq").to_numpy()
        published = m.streams[name].published
        lost = (published - t.num_rows) if published is not None else seq_gaps(seq)
        frac = lost / published if published else (lost / max(1, t.num_rows))
        streams[name] = {
            "recorded": t.num_rows,
            "published": published,
            "seq_gaps": seq_gaps(seq),
            "lost": int(lost),
            "lost_fraction": round(float(frac), 6),
        }
        checks[f"{name}_loss"] = frac <= th.max_gap_fraction
    out: dict[str, Any] = {"path": str(session.path), "status": m.status, "streams": streams}
    tel = session.arrays("telemetry")
    missed = int(tel["missed_ticks"].sum()) if tel["missed_ticks"].size else 0
    out["loop_overruns"] = {
        "missed_ticks": missed,
        "overrun_ticks": int(np.count_nonzero(tel["missed_ticks"])),
    }
    checks["loop_overruns"] = missed <= th.max_missed_ticks
    state = session.arrays("state")
    out["clock"] = clock_mapping(state["device_time_ns"], state["host_time_ns"])
    checks["clock"] = out["clock"]["residual_p99_us"] <= th.max_clock_residual_us
    limit = float(m.loop.get("safety", {}).get("max_force_n", 0.0)) or None
    if limit and tel["fx"].size:
        f = np.sqrt(tel["fx"] ** 2 + tel["fy"] ** 2 + tel["fz"] ** 2)
        sat = float(np.count_nonzero(f >= limit * 0.999)) / f.size
    else:
        sat = 0.0
    out["force_saturation"] = {
        "limit_n": limit,
        "fraction": round(sat, 5),
        "seconds": round(sat * tel["fx"].size / 1000.0, 3),
    }
    checks["force_saturation"] = sat <= th.max_saturation_fraction
    checks["complete"] = m.status != "recording"
    out["checks"] = checks
    out["thresholds"] = th.model_dump()
    out["passed"] = all(checks.values())
    return out
