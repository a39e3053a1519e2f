"""Reading a session bundle back, including one whose recorder was killed mid-write.

`open_session(path)` gives the manifest and each stream as an Arrow table or numpy arrays.
Streams are Arrow IPC stream files: we read record batch by record batch and stop at the
first incomplete one, so a cut-off file yields everything that was flushed before the cut.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pydantic

from haptics.errors import SessionError
from haptics.session.manifest import MANIFEST_NAME, Manifest, read_manifest
from haptics.wire.messages import EVENT_NAMES, LAYOUTS, STATUS_WATCHDOG


def read_stream(path: Path) -> tuple[pa.Table, bool]:
    """All complete record batches of an Arrow IPC stream file; (table, truncated).

    Raises SessionError if the file is missing or is not an Arrow stream at all.
    """
    if not path.exists():
        raise SessionError(f"{path} is missing; the session may have been moved or cut short")
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SessionError(
            f"{path.name} is not a readable Arrow stream ({exc}); "
            "run `haptics sessions repair` on the session"
        ) from exc
    schema = reader.schema
    with contextlib.suppress(pa.ArrowInvalid, OSError):  # a cut-off file: slow path below
        return reader.read_all(), False  # the fast path: every batch in one call
    # cut off mid-batch (a killed writer): re-read batch by batch, keep every complete one
    batches: list[pa.RecordBatch] = []
    reader = pa.ipc.open_stream(pa.memory_map(str(path)))
    truncated = False
    while True:
        try:
            batches.append(reader.read_next_batch())
        except StopIteration:
            break
        except (pa.ArrowInvalid, OSError):
            truncated = True
            break
    return pa.Table.from_batches(batches, schema=schema), truncated


@dataclass
class Session:
    """A session bundle opened for reading."""

    path: Path
    manifest: Manifest
    truncated: dict[str, bool] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # stream → why it reads as empty
    _tables: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def stream_names(self) -> list[str]:
        return list(self.manifest.streams)

    def table(self, name: str) -> pa.Table:
        """One stream as an Arrow table. Raises SessionError for an unknown stream."""
        if name not in self.manifest.streams:
            raise SessionError(
                f"no stream '{name}' in {self.path}; streams: {', '.join(self.stream_names)}"
            )
        if name not in self._tables:
            info = self.manifest.streams[name]
            try:
                table, cut = read_stream(self.path / info.file)
            except SessionError as exc:
                layout = LAYOUTS.get(info.layout)
                if layout is None:
                    raise
                # a file lost or unreadable from its first byte: an empty stream, said so
                from haptics.session.recorder import arrow_schema

                table, cut = arrow_schema(layout).empty_table(), True
                self.missing[name] = str(exc)
            self._tables[name], self.truncated[name] = table, cut
        return self._tables[name]

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        """One stream as numpy arrays, one per column."""
        t = self.table(name)
        return {c: t.column(c).to_numpy() for c in t.column_names}

    def aligned(self, name: str, on: str = "telemetry") -> dict[str, np.ndarray]:
        """Stream `name` resampled onto the host times of stream `on` (latest sample at or
        before each time; rows before the first sample repeat the first)."""
        target = self.arrays(on)
        times = target["wake_ns" if on == "telemetry" else "host_time_ns"]
        src = self.arrays(name)
        key = "wake_ns" if name == "telemetry" else "host_time_ns"
        if src[key].size == 0:
            return {c: v[:0] for c, v in src.items()}
        idx = np.clip(
            np.searchsorted(src[key], times, side="right") - 1, 0, max(0, src[key].size - 1)
        )
        return {c: v[idx] for c, v in src.items()}

    @property
    def complete(self) -> bool:
        return self.manifest.status != "recording"


def open_session(path: str | Path) -> Session:
    """Open a session directory. Raises SessionError with what to do if it is not one."""
    p = Path(path)
    if not (p / MANIFEST_NAME).exists():
        raise SessionError(
            f"{p} is not a session (no {MANIFEST_NAME}); "
            "`haptics sessions list` shows the sessions under a folder"
        )
    try:
        manifest = read_manifest(p)
    except (ValueError, pydantic.ValidationError) as exc:
        raise SessionError(f"{p / MANIFEST_NAME} is unreadable: {exc}") from exc
    return Session(p, manifest)


def _percentiles_us(values_ns: np.ndarray) -> dict[str, float]:
    if values_ns.size == 0:
        return {"p50": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0}
    p50, p99, p999 = np.percentile(values_ns, [50, 99, 99.9]) / 1e3
    return {
        "p50": round(float(p50), 2),
        "p99": round(float(p99), 2),
        "p999": round(float(p999), 2),
        "max": round(float(values_ns.max()) / 1e3, 2),
    }


def loop_figures(wake_ns: np.ndarray, period_ns: int) -> dict[str, Any]:
    """Rate and period error of a loop from its tick wake times (pure)."""
    if wake_ns.size < 2:
        return {"rate_hz": 0.0, "period_error_us": _percentiles_us(np.zeros(0))}
    d = np.diff(wake_ns.astype(np.int64))
    span = float(wake_ns[-1] - wake_ns[0])
    return {
        "rate_hz": round((wake_ns.size - 1) * 1e9 / span, 3),
        "period_error_us": _percentiles_us(np.abs(d - period_ns).astype(np.float64)),
    }


def seq_gaps(seq: np.ndarray) -> int:
    """Samples missing inside the received range of sequence numbers."""
    if seq.size == 0:
        return 0
    u = np.unique(seq)
    return int(u[-1] - u[0] + 1 - u.size)


def summarize(session: Session) -> dict[str, Any]:
    """The summary `haptics sessions show --json` prints."""
    m = session.manifest
    streams: dict[str, int] = {}
    gaps_by_stream: dict[str, int] = {}
    loss: dict[str, Any] = {}
    for name in session.stream_names:
        t = session.table(name)
        streams[name] = t.num_rows
        seq_col = "tick" if name == "telemetry" else "seq"
        seq = t.column(seq_col).to_numpy() if t.num_rows else np.zeros(0, np.uint64)
        gaps_by_stream[name] = seq_gaps(seq)
        published = m.streams[name].published
        if published is not None:
            loss[name] = {
                "published": published,
                "recorded": t.num_rows,
                "fraction": round(t.num_rows / published, 6) if published else 1.0,
            }
    out: dict[str, Any] = {
        "path": str(session.path),
        "session_id": m.session_id,
        "status": m.status,
        "complete": session.complete,
        "truncated_streams": [k for k, v in session.truncated.items() if v],
        "missing_streams": dict(session.missing),
        "scene": m.scene.get("scene"),
        "device": m.device.get("driver"),
        "provenance": m.provenance,
        "streams": streams,
        "seq_gaps": int(sum(gaps_by_stream.values())),
        "seq_gaps_by_stream": gaps_by_stream,
        "loss": loss,
    }
    tel = session.arrays("telemetry") if "telemetry" in streams else {}
    state = session.arrays("state") if "state" in streams else {}
    host = state.get("host_time_ns", tel.get("wake_ns", np.zeros(0)))
    out["duration_s"] = round(float(host[-1] - host[0]) / 1e9, 3) if host.size > 1 else 0.0
    period_ns = round(1e9 / float(m.loop.get("rate_hz", 1000.0)))
    if tel and tel["wake_ns"].size:
        figures = loop_figures(tel["wake_ns"], period_ns)
        figures["ticks"] = int(tel["wake_ns"].size)
        figures["missed_ticks"] = int(tel["missed_ticks"].sum())
        figures["compute_us"] = _percentiles_us(tel["compute_ns"].astype(np.float64))
        out["loop"] = figures
        f = np.sqrt(tel["fx"] ** 2 + tel["fy"] ** 2 + tel["fz"] ** 2)
        out["max_force_n"] = round(float(f.max()), 4)
        out["contact_fraction"] = round(float(tel["contact"].mean()), 4)
        out["inclusion_fraction"] = round(float(tel["inclusion"].mean()), 4)
        ev = tel["events"]
        events = {name: int(np.count_nonzero(ev & bit)) for bit, name in EVENT_NAMES.items()}
    else:
        out["loop"] = {"rate_hz": 0.0, "period_error_us": _percentiles_us(np.zeros(0))}
        out["max_force_n"], out["contact_fraction"] = 0.0, 0.0
        events = {name: 0 for name in EVENT_NAMES.values()}
    if tel and "safety" in tel and tel["safety"].size:
        from haptics.loop.safety import SAFETY_INPUT_LOST

        lost = (tel["safety"] & SAFETY_INPUT_LOST) != 0
        events["input_lost"] = int(np.count_nonzero(lost[1:] & ~lost[:-1]) + int(lost[0]))
    if state and state["status"].size:
        wd = (state["status"] & STATUS_WATCHDOG) != 0
        events["device_watchdog"] = int(np.count_nonzero(wd[1:] & ~wd[:-1]) + int(wd[0]))
    out["events"] = events
    return out


def list_sessions(root: Path) -> list[Path]:
    """Session directories directly under `root`, oldest first."""
    if not root.exists():
        return []
    return sorted((p for p in root.iterdir() if (p / MANIFEST_NAME).exists()), key=lambda p: p.name)
