"""Frames at the export rate: which 1 kHz samples each frame holds, its gold labels, and the
episode table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from haptics.dataset.export.base import SessionData
from haptics.dataset.export.lerobot.layout import DEFAULT_FPS, FORCE, POS_VEL, SAMPLES, WINDOWS
from haptics.dataset.export.lerobot.stats import table_stats
from haptics.errors import ExportError
from haptics.session.video import fps_fraction

# -- frames ------------------------------------------------------------------------------


def frame_rate(data: SessionData) -> float:
    """The export's frames per second: `--rate`, else 30."""
    return float(data.rate_hz) if data.rate_hz else DEFAULT_FPS


def frame_scale(fps: float) -> tuple[int, int]:
    """(a, b) with frame = ⌊Δt_ns · a / b⌋ exactly: fps as a fraction over 1 s (pure)."""
    r = fps_fraction(fps) / 10**9
    return r.numerator, r.denominator


def frame_ids(times_ns: np.ndarray, t0: int, fps: float) -> np.ndarray:
    """The frame of each sample (pure): ⌊(t − t0)·fps / 1 s⌋ in integers (a sample on a
    frame's start is that frame's), never below 0 nor below the previous sample's, so each
    frame's samples are a contiguous run in stream order."""
    if not len(times_ns):
        return np.zeros(0, dtype=np.int64)
    dt = np.clip(times_ns.astype(np.int64) - t0, 0, None)
    a, b = frame_scale(fps)
    if int(dt.max()) < (1 << 62) // a:
        f = dt * a // b
    else:  # beyond int64 (days at an odd rate): float, exact to well under a sample
        f = np.floor(dt.astype(np.float64) * (a / b)).astype(np.int64)
    return np.maximum.accumulate(f)


def frame_start_ns(i: int, t0: int, fps: float) -> int:
    """Host time of frame i's start: t0 + ⌈i / fps⌉ in ns (pure)."""
    a, b = frame_scale(fps)
    return t0 + -(-i * b // a)


def window_offsets(ids: np.ndarray, n_frames: int) -> np.ndarray:
    """Offsets (n_frames + 1) of each frame's run of samples in a stream (pure)."""
    return np.searchsorted(ids, np.arange(n_frames + 1), side="left").astype(np.int32)


def frame_samples(ids: np.ndarray, n_frames: int) -> np.ndarray:
    """Per frame, the sample at its start: the first of its window, else the last before
    it (pure; frame 0 always holds sample 0)."""
    frames = np.arange(n_frames)
    pick = np.searchsorted(ids, frames, side="left")
    holds = ids[np.minimum(pick, len(ids) - 1)] == frames
    return np.where((pick < len(ids)) & holds, pick, pick - 1)


def columns_of(table: pa.Table | None, cols: tuple[str, ...]) -> np.ndarray:
    if table is None or not table.num_rows:
        return np.zeros((0, len(cols)), dtype=np.float64)
    return np.column_stack(
        [table.column(c).to_numpy().astype(np.float64) for c in cols]
    ).reshape(table.num_rows, len(cols))


def times_of(table: pa.Table | None) -> np.ndarray:
    if table is None or not table.num_rows:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(table.column("host_time_ns").to_numpy(), dtype=np.int64)


def seqs_of(table: pa.Table | None) -> np.ndarray:
    if table is None or not table.num_rows:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(table.column("seq").to_numpy(), dtype=np.int64)


def action_at(cmd_t: np.ndarray, cmd: np.ndarray, at_ns: np.ndarray) -> np.ndarray:
    """The command in force at each time (latest at or before it; zero before any)."""
    out = np.zeros((len(at_ns), 3), dtype=np.float64)
    if len(cmd_t):
        i = np.searchsorted(cmd_t, at_ns, side="right") - 1
        have = i >= 0
        out[have] = cmd[i[have]]
    return out


def list_column(values: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """A variable-length list column of k-vectors: row i holds values[offsets[i]:offsets[i+1]]."""
    k = values.shape[1]
    inner = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), k)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), inner)


def vector_column(values: np.ndarray) -> pa.Array:
    """A fixed-size float32 list column (LeRobot's 1-D feature)."""
    v = values.astype(np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), v.shape[1])


# -- labels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    """One gold label: `name` is taxonomy/key, `text` its value as text."""

    name: str
    text: str
    target: str
    t0_ns: int | None
    t1_ns: int | None


def value_text(value_json: str | None) -> str:
    """A label value as text: a JSON string as itself, anything else as JSON."""
    if value_json is None:
        return ""
    v = json.loads(value_json)
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def gold_labels(labels: pa.Table) -> list[Gold]:
    """The gold rows of a label log, in log order."""
    return [
        Gold(f"{r['taxonomy']}/{r['key']}", value_text(r["value"]), r["target"] or "",
             r["t0_ns"], r["t1_ns"])
        for r in labels.to_pylist() if r.get("gold")
    ]


def _add(at: dict[str, str], name: str, text: str) -> None:
    at[name] = text if name not in at or at[name] == text else f"{at[name]}, {text}"


def frame_gold(gold: list[Gold], t0: int, fps: float, n_frames: int
               ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Per frame: (interval labels holding its start, instant labels inside it) (pure;
    exact fractions, so a label starting on a frame's start holds that frame)."""
    intervals: list[dict[str, str]] = [{} for _ in range(n_frames)]
    instants: list[dict[str, str]] = [{} for _ in range(n_frames)]
    rate = fps_fraction(fps) / 10**9
    for g in gold:
        if g.t0_ns is None:
            continue
        x0 = (g.t0_ns - t0) * rate
        if g.t1_ns is not None and g.target != "instant":
            a = max(0, math.ceil(x0))
            b = min(n_frames, math.ceil((g.t1_ns - t0) * rate))
            for i in range(a, b):
                _add(intervals[i], g.name, g.text)
        elif 0 <= math.floor(x0) < n_frames:
            _add(instants[math.floor(x0)], g.name, g.text)
    return intervals, instants


def task_text(intervals: dict[str, str], default: str) -> str:
    """A frame's task: its gold interval labels, else the session's default task."""
    return "; ".join(f"{k}: {v}" for k, v in sorted(intervals.items())) or default


def default_task(manifest_json: str) -> str:
    """The task of frames no gold interval covers: the session's scene."""
    scene = (json.loads(manifest_json).get("scene") or {}).get("scene")
    return f"haptics {scene} session" if scene else "haptics session"


def session_gold(gold: list[Gold]) -> dict[str, str]:
    """Session-level gold labels (no time): taxonomy/key → value."""
    out: dict[str, str] = {}
    for g in gold:
        if g.t0_ns is None:
            _add(out, g.name, g.text)
    return out


# -- the episode table ---------------------------------------------------------------------


@dataclass
class Episode:
    """One session as frames: the table (with `task`, without dataset indices) and what
    `episode.json` says about it."""

    table: pa.Table
    fps: float
    t0_ns: int
    tasks: list[str]
    stats: dict[str, dict[str, list[float]]]  # feature → partial sums (see partial_stats)
    widths: dict[str, int]  # stream → most samples in one frame's window
    samples: dict[str, int]  # stream → samples in all windows


def build_episode(data: SessionData) -> Episode:
    """The frame table of a session (pure). Raises ExportError for a session without state
    samples (an episode needs at least one frame)."""
    state = data.streams.get("state")
    if state is None or not state.num_rows:
        raise ExportError(f"session {data.session_id} has no state samples: nothing to frame")
    command = data.streams.get("command")
    fps = frame_rate(data)
    st, ct = times_of(state), times_of(command)
    t0 = int(st[0])
    s_ids = frame_ids(st, t0, fps)
    n = int(s_ids[-1]) + 1
    c_ids = np.minimum(frame_ids(ct, t0, fps), n - 1)
    offsets = {"state": window_offsets(s_ids, n), "command": window_offsets(c_ids, n)}
    tables = {"state": state, "command": command}
    pick = frame_samples(s_ids, n)
    cols: dict[str, pa.Array] = {
        "observation.state": vector_column(columns_of(state, POS_VEL)[pick]),
        "observation.effort": vector_column(columns_of(state, FORCE)[pick]),
        "action": vector_column(action_at(ct, columns_of(command, FORCE), st[pick])),
    }
    for feat, (stream, names) in WINDOWS.items():
        if stream == "state" and not set(names) <= set(state.column_names):
            continue
        cols[feat] = list_column(columns_of(tables[stream], names), offsets[stream])
    for feat, stream in SAMPLES.items():
        t = tables[stream]
        samples = np.column_stack([seqs_of(t), times_of(t) - t0]).astype(np.int64)
        cols[feat] = list_column(samples, offsets[stream])
    intervals, instants = frame_gold(gold_labels(data.labels), t0, fps, n)
    cols["label.gold"] = pa.array(
        [json.dumps({**a, **b}, sort_keys=True) for a, b in zip(intervals, instants, strict=True)],
        pa.string(),
    )
    cols["timestamp"] = pa.array((np.arange(n) / fps).astype(np.float32))
    cols["frame_index"] = pa.array(np.arange(n, dtype=np.int64))
    default = default_task(data.manifest_json)
    tasks = [task_text(a, default) for a in intervals]
    cols["task"] = pa.array(tasks, pa.string())
    table = pa.table(cols)
    return Episode(table, fps, t0, list(dict.fromkeys(tasks)), table_stats(table),
                   widths={k: int(np.diff(o).max(initial=0)) for k, o in offsets.items()},
                   samples={k: int(o[-1]) for k, o in offsets.items()})
