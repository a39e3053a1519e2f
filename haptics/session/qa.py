"""Quality checks of a recorded session, with pass/fail against thresholds.

Reports per-stream loss (sequence gaps and recorded/published), file integrity (the SHA-256
the recorder stored at close; damaged, cut-off and missing files), samples present, loop
overruns, the device-to-host clock mapping (offset and drift fitted over the session), and how
long the commanded force sat at the safety limit (saturation). Thresholds are a pydantic model
so a dataset can keep its own in a file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from haptics.session.clock import clock_mapping, live_samples
from haptics.session.figures import magnitude
from haptics.session.reading import Session
from haptics.session.streams import seq_column
from haptics.wire.sequence import count_gaps

__all__ = ["QAThresholds", "clock_mapping", "qa_report"]

REQUIRED_STREAMS = ("state", "telemetry")  # a session without samples in these holds nothing


class QAThresholds(BaseModel):
    max_gap_fraction: float = Field(0.001, description="lost / published samples, per stream")
    max_missed_ticks: int = 20
    max_saturation_fraction: float = Field(0.05, description="time at the force limit")
    max_clock_residual_us: float = Field(500.0, description="p99 of device→host fit residual")


def qa_report(session: Session, thresholds: QAThresholds | None = None) -> dict[str, Any]:
    """The QA report of one session; `passed` is True only if every check passed.

    `problems` names every file that is missing, damaged, cut off or differs from its
    recorded hash, with what to do.
    """
    th = thresholds or QAThresholds()
    m = session.manifest
    checks: dict[str, bool] = {}
    streams: dict[str, Any] = {}
    for name in session.stream_names:
        t = session.table(name)
        seq = t.column(seq_column(t.column_names)).to_numpy() if t.num_rows else np.zeros(0)
        published = m.streams[name].published
        gaps = count_gaps(seq)
        lost = (published - t.num_rows) if published is not None else gaps
        frac = lost / published if published else (lost / max(1, t.num_rows))
        streams[name] = {
            "recorded": t.num_rows,
            "published": published,
            "seq_gaps": gaps,
            "lost": int(lost),
            "lost_fraction": round(float(frac), 6),
        }
        checks[f"{name}_loss"] = frac <= th.max_gap_fraction
    problems = session.problems()
    for name, why in session.verify().items():
        problems.setdefault(name, why)
    out: dict[str, Any] = {
        "path": str(session.path),
        "status": m.status,
        "streams": streams,
        "problems": problems,
    }
    checks["files_intact"] = not problems
    empty = [name for name in REQUIRED_STREAMS if streams.get(name, {}).get("recorded", 0) == 0]
    checks["samples"] = not empty
    for name in empty:
        file = session.path / (m.streams[name].file if name in m.streams else f"{name}.arrows")
        problems.setdefault(name, f"{file} holds no samples: the session recorded nothing to check")
    tel = session.arrays("telemetry") if "telemetry" in streams else {}
    missed_col = tel.get("missed_ticks", np.zeros(0, np.int64))
    missed = int(missed_col.sum()) if missed_col.size else 0
    out["loop_overruns"] = {
        "missed_ticks": missed,
        "overrun_ticks": int(np.count_nonzero(missed_col)),
    }
    checks["loop_overruns"] = missed <= th.max_missed_ticks
    state = session.arrays("state") if "state" in streams else {}
    sent = live_samples(state.get("status", np.zeros(0, dtype=np.uint32)))
    try:
        out["clock"] = clock_mapping(
            state.get("device_time_ns", np.zeros(0))[sent],
            state.get("host_time_ns", np.zeros(0))[sent],
        )
        checks["clock"] = out["clock"]["residual_p99_us"] <= th.max_clock_residual_us
    except (ValueError, np.linalg.LinAlgError) as exc:
        out["clock"] = {"error": f"no clock fit: {exc}"}
        checks["clock"] = False
    limit = float(m.loop.get("safety", {}).get("max_force_n", 0.0)) or None
    fx = tel.get("fx", np.zeros(0))
    if limit and fx.size:
        f = magnitude(tel["fx"], tel["fy"], tel["fz"])
        sat = float(np.count_nonzero(f >= limit * 0.999)) / f.size
    else:
        sat = 0.0
    rate = session.nominal_rate_hz("telemetry")
    out["force_saturation"] = {
        "limit_n": limit,
        "fraction": round(sat, 5),
        "seconds": round(sat * fx.size / rate, 3) if rate else None,
    }
    checks["force_saturation"] = sat <= th.max_saturation_fraction
    checks["complete"] = m.status != "recording"
    out["checks"] = checks
    out["thresholds"] = th.model_dump()
    out["passed"] = all(checks.values())
    return out
