"""`haptics bench loop`: the real pipeline's timing and latency, beside a naive baseline.

Runs the whole pipeline twice in one invocation — simulated device process → loop with the
palpation scene → commands back to the device, recorder attached — once with a naive
`time.sleep(0.001)` loop (the baseline) and once with ours, and reads both recorded
sessions back. Every figure comes from the recorded streams:

- rate_hz and period_error_us: from the loop's tick wake times (telemetry);
- late_ticks: ticks that started more than 1 ms after their deadline, plus skipped ticks;
- latency_us: device sample published → the command answering it applied in the driver,
  matched by sequence number (the device echoes it in the state stream);
- tick_compute_us: tick wake → command sent.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.figures import loop_figures, percentiles
from haptics.session.reading import Session, open_session, summarize

LATE_NS = 1_000_000


def _pct(values: np.ndarray, qs: tuple[float, ...]) -> dict[str, float]:
    return percentiles(values, qs, with_max=False, empty=float("nan"))


def latency_figures(state: dict[str, np.ndarray]) -> dict[str, Any]:
    """Sample-to-command latency from the state stream's echo of the last applied command.

    Each command appears in many samples; it is counted once. Samples no command answered
    directly (superseded by a newer one first) are counted, not hidden.
    """
    seq = state["cmd_seq"]
    _, first = np.unique(seq[seq > 0], return_index=True)
    idx = np.flatnonzero(seq > 0)[first]
    lat = state["cmd_latency_ns"][idx]
    lat = lat[lat >= 0].astype(np.float64) / 1e3
    answered = np.unique(state["cmd_state_seq"][idx]).size
    out: dict[str, Any] = _pct(lat, (50.0, 99.0, 99.9))
    out["max"] = round(float(lat.max()), 2) if lat.size else float("nan")
    out["answered_fraction"] = round(answered / max(1, state["seq"].size), 4)
    return out


def session_figures(session: Session, rate_hz: float) -> dict[str, Any]:
    """The benchmark's figures for one recorded session (pure apart from reading files)."""
    tel = session.arrays("telemetry")
    state = session.arrays("state")
    period = round(1e9 / rate_hz)
    fig = loop_figures(tel["wake_ns"], period)
    lateness = tel["wake_ns"].astype(np.int64) - tel["deadline_ns"].astype(np.int64)
    missed = int(tel["missed_ticks"].sum())
    return {
        "rate_hz": fig["rate_hz"],
        "period_error_us": fig["period_error_us"],
        "late_ticks": int(np.count_nonzero(lateness > LATE_NS)) + missed,
        "skipped_ticks": missed,
        "ticks": int(tel["wake_ns"].size),
        "latency_us": latency_figures(state),
        "tick_compute_us": _pct(tel["compute_ns"].astype(np.float64) / 1e3, (50.0, 99.0)),
        "input_age_us": _pct(tel["input_lag_ns"].astype(np.float64) / 1e3, (50.0, 99.0)),
        "state_samples": int(state["seq"].size),
        "duration_s": round(float(tel["wake_ns"][-1] - tel["wake_ns"][0]) / 1e9, 3),
    }


CORE_STREAMS = ("state", "command", "telemetry", "frames")


def sensor_stream_figures(session: Session) -> dict[str, Any]:
    """Per stream a sense-only device published (e.g. "tactile"): frames published, recorded,
    lost (published − recorded + sequence gaps) and bad ones, from the manifest, and the rate
    it kept (recorded frames per second over their own host-time span) against its nominal."""
    summary = summarize(session)
    out: dict[str, Any] = {}
    for name, info in session.manifest.streams.items():
        if name in CORE_STREAMS or name not in summary["loss"]:
            continue
        loss = summary["loss"][name]
        gaps = int(summary["seq_gaps_by_stream"].get(name, 0))
        out[name] = {
            "source": info.source,
            "published": int(loss["published"]),
            "recorded": int(loss["recorded"]),
            "lost": int(loss["published"]) - int(loss["recorded"]) + gaps,
            "bad": int(info.bad_messages),
            "rate_hz": _kept_rate_hz(session, name),
            "nominal_rate_hz": info.nominal_rate_hz,
        }
    return out


def _kept_rate_hz(session: Session, stream: str) -> float:
    """Frames recorded per second between a stream's first and last frame (0 for fewer than 2)."""
    host = session.column_array(stream, "host_time_ns")
    if host.size < 2:
        return 0.0
    return round((host.size - 1) / (float(host[-1] - host[0]) / 1e9), 1)


def _one(cfg: SessionConfig) -> dict[str, Any]:
    with SessionRun(cfg) as run:
        run.run_to_end()
    session = open_session(run.result["session"])
    figures = session_figures(session, cfg.rate_hz)
    figures["notes"] = run.result["loop"].get("notes", [])
    if cfg.sensors:
        figures["sensors"] = cfg.sensors
        figures["sensor_streams"] = sensor_stream_figures(session)
    return figures


def run_loop_bench(
    duration_s: float,
    keep_dir: Path | None = None,
    tick_on: str = "grid",
    device_clocked: bool = False,
    tactile: bool = False,
) -> dict[str, Any]:
    """Run the baseline then the real loop for `duration_s` each; return both figure sets.

    device_clocked: also run the loop with each tick started by the device's sample
    (`tick_on="arrival"`, the grid as fallback for a late sample) and report it as
    `device_clocked`, in the same invocation.
    tactile: also run the real loop with the simulated tactile array beside the stylus (its
    own process, 16×16 frames at 200 Hz, recorded) and report it as `with_tactile`.
    """
    root = keep_dir or Path(tempfile.mkdtemp(prefix="haptics-bench-"))
    common: dict[str, Any] = {"duration_s": duration_s, "record_dir": root, "monitor": False}
    baseline = _one(
        SessionConfig(**common, loop_scheduler="naive", phase_lock=False, realtime=False)
    )
    ours = _one(SessionConfig(**common, tick_on=tick_on))
    extra: dict[str, Any] = {}
    if device_clocked:
        extra["device_clocked"] = {
            **_one(SessionConfig(**common, tick_on="arrival")),
            "scheduler": "device-clocked: a tick starts when the device's sample arrives, "
            "the phase-locked grid as fallback",
        }
    if tactile:
        extra["with_tactile"] = {
            **_one(SessionConfig(**common, tick_on=tick_on, sensors=["tactile-sim"])),
            "scheduler": "as the loop, with a simulated tactile array running and recorded",
        }
    return {
        **extra,
        **ours,
        "scheduler": "absolute deadlines, sleep then spin, phase-locked to the device, "
        "SCHED_FIFO on its own CPU (best effort)",
        "baseline": {**baseline, "scheduler": "naive time.sleep(0.001) loop"},
        "sessions_dir": str(root),
    }
