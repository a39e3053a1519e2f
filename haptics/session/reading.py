"""Reading a session bundle back, including one whose recorder was killed mid-write.

`open_session(path)` gives the manifest and each stream as an Arrow table or numpy arrays.
Streams are Arrow IPC stream files: we read record batch by record batch and stop at the
first incomplete one, so a cut-off file yields everything that was flushed before the cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.errors import SessionError
from haptics.session.figures import (
    loop_figures,
    magnitude,
    percentiles_us,
    period_or_median_ns,
)
from haptics.session.manifest import MANIFEST_NAME, Manifest, read_manifest
from haptics.session.streams import (
    arrow_schema,
    file_sha256,
    layout_for,
    read_stream,
    read_stream_checked,
    seq_column,
    stream_path,
)
from haptics.wire.messages import EVENT_NAMES, STATUS_WATCHDOG, filled_columns
from haptics.wire.sequence import count_gaps

__all__ = [
    "Session",
    "list_sessions",
    "loop_figures",
    "open_session",
    "read_stream",
    "seq_gaps",
    "summarize",
]

seq_gaps = count_gaps  # the name this module has always exported


@dataclass
class Session:
    """A session bundle opened for reading.

    A stream that cannot be read at all (missing, unreadable, outside the session folder)
    reads as empty and is named in `missing`; one with damaged or cut-off parts reads as its
    intact batches and is named in `damaged` (and `truncated`). Each message names the file
    and what to do.
    """

    path: Path
    manifest: Manifest
    truncated: dict[str, bool] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # stream → why it reads as empty
    damaged: dict[str, str] = field(default_factory=dict)  # stream → what is damaged
    _tables: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def stream_names(self) -> list[str]:
        return list(self.manifest.streams)

    def table(self, name: str) -> pa.Table:
        """One stream as an Arrow table. Raises SessionError for an unknown stream, or for a
        stream of an unknown layout whose file cannot be read."""
        if name not in self.manifest.streams:
            raise SessionError(
                f"no stream '{name}' in {self.path}; streams: {', '.join(self.stream_names)}"
            )
        if name not in self._tables:
            table, self.truncated[name] = self._read(name)
            info = self.manifest.streams[name]
            for column, source in filled_columns(info.layout, info.layout_version).items():
                if column not in table.column_names and source in table.column_names:
                    table = table.append_column(column, table.column(source))
            self._tables[name] = table
        return self._tables[name]

    def _read(self, name: str) -> tuple[pa.Table, bool]:
        info = self.manifest.streams[name]
        layout = layout_for(info)
        schema = arrow_schema(layout) if layout is not None else None
        repair = f"`haptics sessions repair {self.path}`"
        try:
            path = stream_path(self.path, info.file)
            table, scan = read_stream_checked(path, schema)
        except SessionError as exc:
            if schema is None:
                raise
            self.missing[name] = str(exc)  # lost or unreadable from its first byte: empty
            return schema.empty_table(), True
        cut = scan is not None and not scan.intact
        if scan is not None and cut and (scan.damaged or scan.schema_damaged or self.complete):
            self.damaged[name] = (
                f"{path} is damaged: {scan.describe()}; {scan.rows} rows in intact "
                f"batches are read. {repair} keeps a copy and rewrites it from them"
            )
        return table, cut

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        """One stream as numpy arrays, one per column; an array column (a tactile frame)
        as one array of shape (rows, *its shape), see `column_array`."""
        t = self.table(name)
        return {c: self.column_array(name, c) for c in t.column_names}

    def column_array(self, name: str, column: str) -> np.ndarray:
        """One column of stream `name` as numpy: (rows,) for a scalar column, (rows, *shape)
        for a fixed-size array column (shape from the layout). Raises SessionError for an
        unknown stream or column."""
        t = self.table(name)
        if column not in t.column_names:
            raise SessionError(
                f"stream '{name}' of {self.path} has no column '{column}'; "
                f"columns: {', '.join(t.column_names)}"
            )
        col = t.column(column)
        if not pa.types.is_fixed_size_list(col.type):
            return np.asarray(col.to_numpy())
        field = t.schema.field(column)
        meta = field.metadata or {}
        raw = meta.get(b"shape", b"")
        shape = tuple(int(n) for n in raw.decode().split(",")) if raw else (col.type.list_size,)
        flat = col.combine_chunks().flatten().to_numpy(zero_copy_only=False) if len(col) else (
            np.zeros(0, dtype=col.type.value_type.to_pandas_dtype())
        )
        return np.asarray(flat).reshape((len(col), *shape))

    def streams_of(self, layout: str) -> list[str]:
        """The names of this session's streams of one layout ("tactile", "state", …)."""
        return [n for n, info in self.manifest.streams.items() if info.layout == layout]

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

    def nominal_rate_hz(self, name: str) -> float | None:
        """The rate a stream was declared at, from the manifest: the stream's own entry,
        else the loop's rate (telemetry, command), the device schema's (state) or the video's
        fps (frames); None when the manifest does not say."""
        m = self.manifest
        declared: Any = m.streams[name].nominal_rate_hz if name in m.streams else None
        if declared is None and name in ("telemetry", "command"):
            declared = m.loop.get("rate_hz")
        elif declared is None and name == "state":
            declared = (m.device.get("schema") or {}).get("rate_hz")
        elif declared is None and name == "frames" and m.video:
            declared = m.video.get("fps")
        try:
            rate = float(declared) if declared is not None else None
        except (TypeError, ValueError):
            return None
        return rate if rate is not None and np.isfinite(rate) and rate > 0 else None

    def verify(self) -> dict[str, str]:
        """Files whose SHA-256 differs from the one the manifest recorded at close, or that
        cannot be hashed: {stream: what is wrong}. Streams without a recorded hash (a
        session cut off before close) are not checked."""
        out: dict[str, str] = {}
        for name, info in self.manifest.streams.items():
            if not info.sha256:
                continue
            try:
                path = stream_path(self.path, info.file)
                actual = file_sha256(path)
            except SessionError as exc:
                out[name] = str(exc)
                continue
            except OSError as exc:
                out[name] = (
                    f"{self.path / info.file} cannot be read to check its hash "
                    f"({exc.strerror or exc}); check that it is a file you may read"
                )
                continue
            if actual != info.sha256:
                out[name] = (
                    f"{path} differs from the SHA-256 recorded when the session closed: it "
                    "was changed or damaged since. Restore it from a copy; "
                    f"`haptics sessions repair {self.path}` recovers what is readable"
                )
        return out

    def problems(self) -> dict[str, str]:
        """Every stream that is missing, damaged or cut off (reads them all): {stream: why}."""
        for name in self.stream_names:
            try:
                self.table(name)
            except SessionError as exc:
                self.missing[name] = str(exc)
        out = dict(self.missing)
        for name, why in self.damaged.items():
            out.setdefault(name, why)
        return out


def open_session(path: str | Path) -> Session:
    """Open a session directory.

    Raises SessionError, saying what to do, if it is not a session, its manifest is
    unreadable or broken, or it was written with a schema_version this haptics cannot read.
    """
    p = Path(path)
    if not p.is_dir():
        raise SessionError(
            f"{p} is not a session folder; `haptics sessions list` shows the sessions under "
            "a folder"
        )
    return Session(p, read_manifest(p))


def _events(tel: dict[str, np.ndarray], state: dict[str, np.ndarray]) -> dict[str, int]:
    if tel and tel["events"].size:
        ev = tel["events"]
        events = {name: int(np.count_nonzero(ev & bit)) for bit, name in EVENT_NAMES.items()}
    else:
        events = {name: 0 for name in EVENT_NAMES.values()}
    if tel and "safety" in tel and tel["safety"].size:
        from haptics.loop.safety import SAFETY_INPUT_LOST

        lost = (tel["safety"] & SAFETY_INPUT_LOST) != 0
        events["input_lost"] = int(np.count_nonzero(lost[1:] & ~lost[:-1]) + int(lost[0]))
    if state and state["status"].size:
        wd = (state["status"] & STATUS_WATCHDOG) != 0
        events["device_watchdog"] = int(np.count_nonzero(wd[1:] & ~wd[:-1]) + int(wd[0]))
    return events


def summarize(session: Session, verify: bool = False) -> dict[str, Any]:
    """The summary `haptics sessions show --json` prints. With `verify`, stream hashes are
    checked against the manifest and mismatches listed under "problems"."""
    m = session.manifest
    streams: dict[str, int] = {}
    gaps_by_stream: dict[str, int] = {}
    loss: dict[str, Any] = {}
    for name in session.stream_names:
        t = session.table(name)
        streams[name] = t.num_rows
        seq = t.column(seq_column(t.column_names)).to_numpy() if t.num_rows else np.zeros(0)
        gaps_by_stream[name] = count_gaps(seq)
        published = m.streams[name].published
        if published is not None:
            loss[name] = {
                "published": published,
                "recorded": t.num_rows,
                "fraction": round(t.num_rows / published, 6) if published else 1.0,
            }
    problems = session.problems()
    if verify:
        for name, why in session.verify().items():
            problems.setdefault(name, why)
    for name in ("state", "telemetry"):
        if streams.get(name) == 0 and name not in problems:
            file = session.path / m.streams[name].file
            problems[name] = f"{file} holds no samples: the session recorded nothing"
    out: dict[str, Any] = {
        "path": str(session.path),
        "session_id": m.session_id,
        "status": m.status,
        "complete": session.complete,
        "truncated_streams": [k for k, v in session.truncated.items() if v],
        "missing_streams": dict(session.missing),
        "damaged_streams": dict(session.damaged),
        "problems": problems,
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
    rate = session.nominal_rate_hz("telemetry") if "telemetry" in streams else None
    if tel and tel["wake_ns"].size:
        wake = tel["wake_ns"]
        figures = loop_figures(wake, period_or_median_ns(wake, rate))
        figures["nominal_rate_hz"] = rate
        figures["ticks"] = int(wake.size)
        figures["missed_ticks"] = int(tel["missed_ticks"].sum())
        figures["compute_us"] = percentiles_us(tel["compute_ns"])
        out["loop"] = figures
        f = magnitude(tel["fx"], tel["fy"], tel["fz"])
        out["max_force_n"] = round(float(f.max()), 4)
        out["contact_fraction"] = round(float(tel["contact"].mean()), 4)
        out["inclusion_fraction"] = round(float(tel["inclusion"].mean()), 4)
    else:
        out["loop"] = {
            "rate_hz": 0.0,
            "nominal_rate_hz": rate,
            "period_error_us": percentiles_us(np.zeros(0)),
        }
        out["max_force_n"], out["contact_fraction"] = 0.0, 0.0
    out["events"] = _events(tel, state)
    return out


@dataclass(frozen=True)
class Listed:
    """One entry of `list_sessions_checked`: a session folder and its manifest, or why the
    manifest cannot be read."""

    path: Path
    manifest: Manifest | None
    error: str | None


def list_sessions(root: Path) -> list[Path]:
    """Session directories directly under `root` (folders with a manifest file, readable
    or not), by name."""
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if p.is_dir() and (p / MANIFEST_NAME).exists()),
        key=lambda p: p.name,
    )


def list_sessions_checked(root: Path) -> list[Listed]:
    """Every session under `root` with its manifest, or the reason it cannot be read; one
    broken session never hides the others."""
    out: list[Listed] = []
    for p in list_sessions(root):
        try:
            out.append(Listed(p, read_manifest(p), None))
        except SessionError as exc:
            out.append(Listed(p, None, str(exc)))
    return out
