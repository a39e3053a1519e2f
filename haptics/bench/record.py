"""`haptics bench record`: a long recording with camera, and what it lost.

Runs a real session (simulated device, palpation, loop, recorder, camera at 30 Hz) for the
given minutes and reads it back: per stream, what the publisher says it sent against what
is on disk (`samples_lost` sums state, command and telemetry; `--tactile` adds the
simulated tactile array and reports its frames the same way), the frames the camera
published against those recorded, the recorder's CPU share (its own process CPU time over
wall time, as it reports at stop), and the loop figures during the recording. Without a
camera (`--no-camera`) nothing about video frames is reported.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from haptics.bench.loop import sensor_stream_figures
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import open_session, summarize

SAMPLE_STREAMS = ("state", "command", "telemetry")


def run_record_bench(
    minutes: float, camera: bool = True, keep_dir: Path | None = None, tactile: bool = False
) -> dict[str, Any]:
    """Record for `minutes` and report losses and the recorder's CPU share; with `tactile`,
    the simulated tactile array runs beside the stylus and its frames are counted too."""
    root = keep_dir or Path(tempfile.mkdtemp(prefix="haptics-record-"))
    cfg = SessionConfig(
        duration_s=minutes * 60.0, record_dir=root, monitor=False, camera=camera,
        sensors=["tactile-sim"] if tactile else [],
    )  # fmt: skip
    with SessionRun(cfg) as run:
        run.run_to_end(0.25)
    result = run.result
    session = open_session(result["session"])
    summary = summarize(session)
    streams: dict[str, Any] = {}
    lost = 0
    for name, loss in summary["loss"].items():
        missing = int(loss["published"]) - int(loss["recorded"])
        streams[name] = {**loss, "lost": missing, "seq_gaps": summary["seq_gaps_by_stream"][name]}
        if name in SAMPLE_STREAMS:
            lost += missing + summary["seq_gaps_by_stream"][name]
    rec = result.get("recorder", {})
    frames = streams.get("frames", {})
    video = (
        {
            "frames_recorded": frames.get("recorded", 0),
            "frames_expected_at_30hz": round(summary["duration_s"] * 30.0),
        }
        if camera
        else {}
    )  # no camera: no video frames to count, none to report
    return {
        "minutes": minutes,
        "session": result["session"],
        "camera": camera,
        "samples_lost": lost,
        "streams": streams,
        **video,
        "recorder_cpu_share": rec.get("cpu_share"),
        "loop": summary["loop"],
        "warnings": result.get("warnings", []),
        "sensor_streams": sensor_stream_figures(session),
    }
