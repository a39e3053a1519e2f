"""`lerobot`: a LeRobotDataset v3 (codebase_version "v3.0") that LeRobot loads as it is.

Frames are taken at `--rate` frames per second (default 30) on the host clock, from the
first `state` sample's `host_time_ns` (t0): frame i starts at t0 + i/fps and its timestamp
is i/fps. Each 1 kHz sample belongs to the frame whose interval holds its host time (never
an earlier frame than the sample before it, so a frame's window is a contiguous run of the
stream, in the stream's order); the last frame is the one holding the last state sample.

Per frame (the data table, one row per frame):
- `observation.state` float32 [6] px, py, pz, vx, vy, vz, `observation.effort` float32 [3]
  fx, fy, fz measured: the state sample at the frame's start (the first of its window, or
  the last one before it when the window is empty);
- `action` float32 [3]: the force commanded at that sample (the latest command at or before
  it, as the hdf5 export's `/action`; zero before the first command);
- the 1 kHz streams, whole: each frame's window of samples, float64 as recorded:
  `observation.state_1khz` [W, 6], `observation.effort_1khz` [W, 3],
  `observation.applied_force_1khz` [W, 3], `observation.sample_1khz` int64 [W, 2] (seq, ns
  since t0), `observation.count_1khz` (samples in the window); `action_1khz` [W, 3],
  `action.sample_1khz` [W, 2], `action.count_1khz` from the `command` stream. In `data/` a
  window is fixed-size so batches stack: W is the dataset's largest window (34 at 30 fps
  on a steady 1 kHz), the first `count` rows are samples, the rest padding (NaN; -1 in
  sample columns). In `sessions/<id>/episode.parquet` windows are variable-length lists,
  unpadded. The windows of all frames, in order, give back every state and command sample
  exactly;
- `label.gold` string: the gold labels at that frame as JSON ({"taxonomy/key": value} of the
  intervals holding the frame's start and instants inside the frame);
- `timestamp` float32, `frame_index`, `episode_index`, `index`, `task_index` int64.

Tasks are gold labels: a frame's task is its gold interval labels ("needle-phases/phase:
insertion"; several joined by "; "), else the session's scene ("haptics needle session").

```
DIR/
  sessions/<id>/                       one episode, written and read back by itself
    episode.parquet, episode.json      its frames (with `task`, without dataset indices);
                                       length, tasks, features, partial stats, gold
    labels.parquet, manifest.json      the full label log (gold marked), the manifest
    observation.images.camera.mp4      the camera re-timed to fps (sessions with video.mp4)
    streams/<stream>.parquet           every other stream whole, flat (telemetry, tactile,
                                       frames)
  meta/info.json, stats.json, tasks.parquet, episodes/chunk-000/file-000.parquet
  meta/haptics_labels.parquet          every episode's label log, with episode_index
  data/chunk-CCC/file-FFF.parquet      one file per episode (file = episode % 1000)
  videos/observation.images.camera/chunk-CCC/file-FFF.mp4   likewise, when every episode
                                       has video
```
`finish` assembles `data/`, `videos/` and `meta/` from every `sessions/*/episode.json` (in
session-id order: the episode index), aside, checks them, then moves them into place.

Open with `LeRobotDataset("local/haptics", root=DIR)` (lerobot ≥ 0.4), or pyarrow:
`pq.read_table("DIR/data/chunk-000/file-000.parquet")`. The camera is decoded at exactly the
frame timestamps (LeRobot's 1e-4 s tolerance): frame i of the re-timed video has pts i/fps
and shows the latest camera frame captured at or before the frame's start.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from haptics.dataset.export.base import Format, SessionData, expect_equal, sample_rows
from haptics.dataset.export.tables import LABEL_SCHEMA, flat_table
from haptics.errors import ExportError
from haptics.session.video import VIDEO_FILE, fps_fraction, probe_video

CODEBASE_VERSION = "v3.0"
DEFAULT_FPS = 30.0
CHUNKS_SIZE = 1000  # files per chunk folder, as LeRobot's DEFAULT_CHUNK_SIZE
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
VIDEO_KEY = "observation.images.camera"
EPISODE_FILE = "episode.parquet"
EPISODE_META = "episode.json"
LABELS_FILE = "labels.parquet"
VIDEO_OUT = f"{VIDEO_KEY}.mp4"
PACKED_STREAMS = ("state", "command")  # in the frame table; the others travel as sidecars
VIDEO_STAT_FRAMES = 60  # frames sampled per episode for the camera's stats

POS_VEL = ("px", "py", "pz", "vx", "vy", "vz")
FORCE = ("fx", "fy", "fz")
APPLIED = ("afx", "afy", "afz")
SAMPLE_NAMES = ["seq", "t_ns"]

# feature → (stream, columns) of the per-frame vectors (float32) ...
FRAME_VECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "observation.state": ("state", POS_VEL),
    "observation.effort": ("state", FORCE),
    "action": ("command", FORCE),
}
# ... and of the 1 kHz windows (float64, as recorded)
WINDOWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "observation.state_1khz": ("state", POS_VEL),
    "observation.effort_1khz": ("state", FORCE),
    "observation.applied_force_1khz": ("state", APPLIED),
    "action_1khz": ("command", FORCE),
}
SAMPLES = {"observation.sample_1khz": "state", "action.sample_1khz": "command"}
COUNTS = {"state": "observation.count_1khz", "command": "action.count_1khz"}
DATASET_INDICES = ("episode_index", "index", "task_index")


def window_stream(feat: str) -> str | None:
    """The stream a 1 kHz window column packs, None for any other column."""
    return WINDOWS[feat][0] if feat in WINDOWS else SAMPLES.get(feat)


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


def _columns(table: pa.Table | None, cols: tuple[str, ...]) -> np.ndarray:
    if table is None or not table.num_rows:
        return np.zeros((0, len(cols)), dtype=np.float64)
    return np.column_stack(
        [table.column(c).to_numpy().astype(np.float64) for c in cols]
    ).reshape(table.num_rows, len(cols))


def _times(table: pa.Table | None) -> np.ndarray:
    if table is None or not table.num_rows:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(table.column("host_time_ns").to_numpy(), dtype=np.int64)


def _seqs(table: pa.Table | None) -> np.ndarray:
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
    st, ct = _times(state), _times(command)
    t0 = int(st[0])
    s_ids = frame_ids(st, t0, fps)
    n = int(s_ids[-1]) + 1
    c_ids = np.minimum(frame_ids(ct, t0, fps), n - 1)
    offsets = {"state": window_offsets(s_ids, n), "command": window_offsets(c_ids, n)}
    tables = {"state": state, "command": command}
    pick = frame_samples(s_ids, n)
    cols: dict[str, pa.Array] = {
        "observation.state": vector_column(_columns(state, POS_VEL)[pick]),
        "observation.effort": vector_column(_columns(state, FORCE)[pick]),
        "action": vector_column(action_at(ct, _columns(command, FORCE), st[pick])),
    }
    for feat, (stream, names) in WINDOWS.items():
        if stream == "state" and not set(names) <= set(state.column_names):
            continue
        cols[feat] = list_column(_columns(tables[stream], names), offsets[stream])
    for feat, stream in SAMPLES.items():
        t = tables[stream]
        samples = np.column_stack([_seqs(t), _times(t) - t0]).astype(np.int64)
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


# -- features and stats ----------------------------------------------------------------------


def _dtype(t: pa.DataType) -> str:
    """LeRobot's dtype name of a column's values (float32, float64, int64, string, bool)."""
    while pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_boolean(t):
        return "string" if pa.types.is_string(t) else "bool"
    kind = ("float" if pa.types.is_floating(t)
            else "uint" if pa.types.is_unsigned_integer(t) else "int")
    return f"{kind}{t.bit_width}"


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_fixed_size_list(t))


def _shape(t: pa.DataType) -> list[int | None]:
    """LeRobot's shape of a column: [1] for a scalar, a list's length (None: varies) per
    level of nesting."""
    if not _is_list(t):
        return [1]
    size = t.list_size if pa.types.is_fixed_size_list(t) else None
    return [size, *(_shape(t.value_type) if _is_list(t.value_type) else [])]


def _names(feat: str) -> list[str] | None:
    for table in (FRAME_VECTORS, WINDOWS):
        if feat in table:
            return list(table[feat][1])
    return SAMPLE_NAMES if feat in SAMPLES else None


def features_of(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """LeRobot feature entries (dtype, shape, names) of a frame table's columns."""
    return {
        f.name: {"dtype": _dtype(f.type), "shape": _shape(f.type), "names": _names(f.name)}
        for f in schema
        if f.name != "task"
    }


def _numeric(col: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """A column as a 2-D float64 array (samples × dims); None for strings."""
    t = col.type
    if pa.types.is_string(t):
        return None
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    while pa.types.is_list(arr.type):
        arr = arr.flatten()
    if pa.types.is_fixed_size_list(arr.type):
        k = arr.type.list_size
        flat = np.asarray(arr.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        return flat.reshape(-1, k)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64).reshape(-1, 1)


def partial_stats(values: np.ndarray) -> dict[str, list[float]]:
    """Mergeable sums of a samples × dims array: count, min, max, sum, sum of squares (over
    the samples whose every value is finite: a bad sample recorded as NaN counts nowhere)."""
    values = values[np.isfinite(values).all(axis=1)]
    if not len(values):
        k = values.shape[1]
        return {"count": [0.0], "min": [math.inf] * k, "max": [-math.inf] * k,
                "sum": [0.0] * k, "sumsq": [0.0] * k}
    return {
        "count": [float(len(values))],
        "min": values.min(axis=0).tolist(),
        "max": values.max(axis=0).tolist(),
        "sum": values.sum(axis=0).tolist(),
        "sumsq": (values * values).sum(axis=0).tolist(),
    }


def merge_stats(parts: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Partial sums of several episodes together."""
    out = {k: list(v) for k, v in parts[0].items()}
    for p in parts[1:]:
        out["count"] = [out["count"][0] + p["count"][0]]
        for key, fn in (("min", min), ("max", max)):
            out[key] = [fn(a, b) for a, b in zip(out[key], p[key], strict=True)]
        for key in ("sum", "sumsq"):
            out[key] = [a + b for a, b in zip(out[key], p[key], strict=True)]
    return out


def final_stats(p: dict[str, list[float]]) -> dict[str, list[float]]:
    """min, max, mean, std, count (LeRobot's stats.json entry) from partial sums."""
    n = p["count"][0]
    if not n:  # no finite sample: zeros, never inf (JSON has none)
        zero = [0.0] * len(p["sum"])
        return {"min": zero, "max": zero, "mean": zero, "std": zero, "count": [0]}
    mean = [s / n for s in p["sum"]]
    std = [math.sqrt(max(q / n - m * m, 0.0)) for q, m in zip(p["sumsq"], mean, strict=True)]
    return {"min": p["min"], "max": p["max"], "mean": mean, "std": std, "count": [int(n)]}


def table_stats(table: pa.Table, names: tuple[str, ...] | None = None
                ) -> dict[str, dict[str, list[float]]]:
    """Partial sums of every numeric column of a frame table (or of `names`) (pure)."""
    out = {}
    for name in names or table.column_names:
        values = _numeric(table.column(name))
        if values is not None:
            out[name] = partial_stats(values)
    return out


def _image_stats(stats: dict[str, list[float]]) -> dict[str, Any]:
    """Camera stats shaped as LeRobot's: per channel [3][1][1], values in 0..1."""
    return {k: ([[[v]] for v in vals] if k != "count" else vals) for k, vals in stats.items()}


# -- video ----------------------------------------------------------------------------------


def session_dir(data: SessionData) -> Path | None:
    """The session's folder where the export was told it (`data.path`), else None."""
    return Path(data.path) if data.path else None


def video_source(data: SessionData) -> tuple[Path, float] | None:
    """(video.mp4, camera fps) of a session with a camera, else None."""
    folder = session_dir(data)
    frames = data.streams.get("frames")
    video = json.loads(data.manifest_json).get("video") or {}
    if folder is None or frames is None or not frames.num_rows or not video.get("fps"):
        return None
    path = folder / str(video.get("file") or VIDEO_FILE)
    return (path, float(video["fps"])) if path.is_file() else None


Camera = tuple[int, np.ndarray]  # (capture host time, RGB)


def camera_frames(path: Path, cam_fps: float, host_of_pts: dict[int, int]
                  ) -> Generator[Camera, None, None]:
    """(capture host time, RGB) of each decodable frame, in file order; stops at a cut-off
    tail (a killed recorder) as `probe_video` does; yields nothing for an unreadable file."""
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError):
        return
    with container:
        try:
            for frame in container.decode(video=0):
                if frame.pts is None or not frame.time_base:
                    continue
                pts = round(float(frame.pts * frame.time_base) * cam_fps)
                if pts in host_of_pts:
                    yield host_of_pts[pts], frame.to_ndarray(format="rgb24")
        except (OSError, av.error.FFmpegError):
            return


def retime_video(src: Path, cam_fps: float, index: pa.Table, t0: int, fps: float, n: int,
                 dst: Path) -> dict[str, Any] | None:
    """Write `dst`: n frames at `fps` (pts i), frame i the latest camera frame captured at
    or before t0 + i/fps (the first one before it). Returns {width, height, stats}; None
    when no frame decodes."""
    host = dict(zip(index.column("pts").to_pylist(), index.column("host_time_ns").to_pylist(),
                    strict=True))
    frames = camera_frames(src, cam_fps, host)
    current = next(frames, None)
    if current is None:
        return None
    nxt = next(frames, None)
    h, w = current[1].shape[:2]
    try:
        parts = _encode(dst, frames, current, nxt, t0, fps, n)
    except (OSError, av.error.FFmpegError) as exc:
        raise ExportError(f"cannot write the re-timed video {dst}: {exc}") from exc
    finally:
        frames.close()  # closes the source video
    return {"width": w, "height": h, "stats": merge_stats(parts)}


def _encode(dst: Path, frames: Generator[Camera, None, None], current: Camera,
            nxt: Camera | None, t0: int, fps: float, n: int) -> list[dict[str, list[float]]]:
    """Encode the n frames of `retime_video`; returns partial pixel stats of a sample."""
    h, w = current[1].shape[:2]
    rate = fps_fraction(fps)
    every = max(1, n // VIDEO_STAT_FRAMES)
    parts: list[dict[str, list[float]]] = []
    with av.open(str(dst), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate,
                                options={"preset": "ultrafast", "crf": "23", "g": "2"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        tb = Fraction(1) / rate  # frame pts unit (the muxer picks its own for the stream)
        stream.time_base = tb
        for i in range(n):
            t_i = frame_start_ns(i, t0, fps)
            while nxt is not None and nxt[0] <= t_i:
                current, nxt = nxt, next(frames, None)
            if i % every == 0:
                parts.append(partial_stats(current[1].reshape(-1, 3).astype(np.float64) / 255))
            vf = av.VideoFrame.from_ndarray(current[1], format="rgb24")
            vf.pts, vf.time_base = i, tb
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return parts


def video_feature(width: int, height: int, fps: float) -> dict[str, Any]:
    """The camera's feature entry, with LeRobot's `info` block."""
    return {
        "dtype": "video",
        "shape": [height, width, 3],
        "names": ["height", "width", "channels"],
        "info": {"video.height": height, "video.width": width, "video.codec": "h264",
                 "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                 "video.fps": fps, "video.channels": 3, "has_audio": False},
    }


# -- one session ------------------------------------------------------------------------------


def write(data: SessionData, out: Path) -> None:
    """One episode into `out`: its frames, label log, manifest, other streams, video."""
    ep = build_episode(data)
    pq.write_table(ep.table, out / EPISODE_FILE, compression="zstd")
    pq.write_table(data.labels, out / LABELS_FILE)
    (out / "manifest.json").write_text(data.manifest_json, encoding="utf-8")
    (out / "streams").mkdir()
    for name, table in data.streams.items():
        if name not in PACKED_STREAMS:
            pq.write_table(flat_table(table), out / "streams" / f"{name}.parquet",
                           compression="zstd")
    features = features_of(ep.table.schema)
    stats: dict[str, Any] = dict(ep.stats)
    src = video_source(data)
    video = None
    if src is not None:
        video = retime_video(src[0], src[1], data.streams["frames"], ep.t0_ns, ep.fps,
                             ep.table.num_rows, out / VIDEO_OUT)
    if video is not None:
        features[VIDEO_KEY] = video_feature(video["width"], video["height"], ep.fps)
        stats[VIDEO_KEY] = video["stats"]
    meta = {
        "session_id": data.session_id,
        "provenance": data.provenance,
        "fps": ep.fps,
        "length": ep.table.num_rows,
        "t0_ns": ep.t0_ns,
        "tasks": ep.tasks,
        "gold": session_gold(gold_labels(data.labels)),
        "features": features,
        "stats": stats,
        "video": VIDEO_OUT if video is not None else None,
        "widths": ep.widths,
        "samples": ep.samples,
    }
    (out / EPISODE_META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def expect_values(what: str, got: object, want: object) -> None:
    """`expect_equal`, exact for numbers and lists of numbers, with NaN equal to NaN (a bad
    sample is recorded as it came)."""
    if isinstance(want, (list, float)):
        try:
            same = bool(np.array_equal(np.asarray(got, dtype=np.float64),
                                       np.asarray(want, dtype=np.float64), equal_nan=True))
        except (ValueError, TypeError):
            same = False
        if same:
            return
        raise ExportError(
            f"read-back mismatch in {what}: exported {got!r}, session has {want!r}; "
            "the export was not moved into place, re-run it (and report this if it repeats)"
        )
    expect_equal(what, got, want)


def _window_values(table: pa.Table, feat: str) -> np.ndarray:
    values = _numeric(table.column(feat))
    return np.zeros((0, 0)) if values is None else values


def check(data: SessionData, out: Path) -> None:
    """Read the episode back with pyarrow (and PyAV for the video): frame count, columns,
    sampled frames of every column, every 1 kHz sample count and sampled samples against
    the session's streams, label rows, the video's frame count and timestamps."""
    want = build_episode(data)
    pf = pq.ParquetFile(out / EPISODE_FILE)
    n = want.table.num_rows
    expect_equal("frames", pf.metadata.num_rows, n)
    expect_equal("columns", pf.schema_arrow.names, want.table.column_names)
    got = pf.read()
    for i in sample_rows(n):
        for col in want.table.column_names:
            expect_values(f"{col}[{i}]", got.column(col)[i].as_py(),
                          want.table.column(col)[i].as_py())
    for feat, (stream, names) in WINDOWS.items():
        if feat not in want.table.column_names:
            continue
        source = _columns(data.streams.get(stream), names)
        back = _window_values(got, feat)
        expect_equal(f"{feat} samples", len(back), len(source))
        for j in sample_rows(len(source)):
            expect_values(f"{feat} sample {j}", back[j].tolist(), source[j].tolist())
    for name, table in data.streams.items():
        if name not in PACKED_STREAMS:
            expect_equal(f"streams/{name} rows",
                         pq.ParquetFile(out / "streams" / f"{name}.parquet").metadata.num_rows,
                         table.num_rows)
    expect_equal("label rows", pq.ParquetFile(out / LABELS_FILE).metadata.num_rows,
                 data.labels.num_rows)
    meta = json.loads((out / EPISODE_META).read_text(encoding="utf-8"))
    expect_equal("episode.json length", meta["length"], n)
    if meta["video"] is not None:
        check_video(out / meta["video"], n, want.fps)


def check_video(path: Path, n: int, fps: float) -> None:
    """The re-timed video has n frames, frame i at i/fps (within LeRobot's 1e-4 s)."""
    probe = probe_video(path)
    expect_equal(f"{path.name} frames", probe["frames"], n)
    for i in sample_rows(n):
        expect_equal(f"{path.name} frame {i} at i/fps", abs(probe["times_s"][i] - i / fps) < 1e-4,
                     True)


# -- the dataset --------------------------------------------------------------------------------


def _file_index(episode: int) -> dict[str, int]:
    return {"chunk_index": episode // CHUNKS_SIZE, "file_index": episode % CHUNKS_SIZE}


def _read_episodes(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = sorted((out / "sessions").glob(f"*/{EPISODE_META}"))
    return [(p.parent, json.loads(p.read_text(encoding="utf-8"))) for p in found]


def _agree(eps: list[tuple[Path, dict[str, Any]]]) -> None:
    """Every episode at one fps with one set of features, else ExportError."""
    first_dir, first = eps[0]
    base = {k: v for k, v in first["features"].items() if k != VIDEO_KEY}
    for d, m in eps[1:]:
        if m["fps"] != first["fps"]:
            raise ExportError(
                f"{d.name} was exported at {m['fps']} fps, {first_dir.name} at {first['fps']}: "
                "one LeRobot dataset has one fps; export every session again with one --rate "
                "(or into a new folder)"
            )
        if {k: v for k, v in m["features"].items() if k != VIDEO_KEY} != base:
            raise ExportError(f"{d.name} has other features than {first_dir.name}; export "
                              "every session again with this haptics")


def tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet: task_index with the task text as the pandas index (LeRobot reads
    it with pandas.read_parquet and looks tasks up in the index)."""
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    t = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()),
                  "task": pa.array(tasks, pa.string())})
    return t.replace_schema_metadata({"pandas": json.dumps(pandas_meta)})


def pad_windows(col: pa.ChunkedArray | pa.Array, width: int) -> pa.Array:
    """A variable-length window column as fixed [width, k] windows (pure): each frame's
    samples first, then padding (NaN for floats, -1 for integers)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    offsets = np.asarray(arr.offsets.to_numpy(), dtype=np.int64)
    inner = arr.flatten()
    k = inner.type.list_size
    values = np.asarray(inner.flatten().to_numpy(zero_copy_only=False)).reshape(-1, k)
    counts = np.diff(offsets)
    fill = np.nan if np.issubdtype(values.dtype, np.floating) else -1
    dense = np.full((len(counts), width, k), fill, dtype=values.dtype)
    rows = np.repeat(np.arange(len(counts)), counts)
    dense[rows, np.arange(len(values)) - (offsets[:-1] - offsets[0])[rows]] = values
    per_sample = pa.FixedSizeListArray.from_arrays(pa.array(dense.reshape(-1)), k)
    return pa.FixedSizeListArray.from_arrays(per_sample, width)


def window_counts(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Samples in each frame's window of a variable-length window column (int64)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pa.array(np.diff(np.asarray(arr.offsets.to_numpy(), dtype=np.int64)))


def dataset_table(episode: pa.Table, episode_index: int, start: int,
                  task_index: dict[str, int], widths: dict[str, int]) -> pa.Table:
    """An episode's frame table as the dataset holds it (pure): 1 kHz windows padded to the
    dataset's widths with a count per frame, the dataset's indices in place of `task`."""
    n = episode.num_rows
    tasks = episode.column("task").to_pylist()
    t = episode.drop_columns(["task"])
    for stream, name in COUNTS.items():
        feat = next(f for f, s in SAMPLES.items() if s == stream)
        t = t.append_column(name, window_counts(t.column(feat)))
    for i, name in enumerate(t.column_names):
        packs = window_stream(name)
        if packs is not None:
            t = t.set_column(i, name, pad_windows(t.column(name), max(1, widths[packs])))
    t = t.append_column("episode_index", pa.array(np.full(n, episode_index, dtype=np.int64)))
    t = t.append_column("index", pa.array(np.arange(start, start + n, dtype=np.int64)))
    return t.append_column("task_index", pa.array([task_index[x] for x in tasks], pa.int64()))


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _stats_json(parts: dict[str, list[dict[str, list[float]]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for feat, p in parts.items():
        s = final_stats(merge_stats(p))
        out[feat] = _image_stats(s) if feat == VIDEO_KEY else s
    return out


def _labels_with_episode(path: Path, episode_index: int, session_id: str) -> pa.Table:
    t = pq.read_table(path).cast(LABEL_SCHEMA)
    n = t.num_rows
    t = t.append_column("episode_index", pa.array(np.full(n, episode_index, dtype=np.int64)))
    return t.append_column("session_id", pa.array([session_id] * n, pa.string()))


def info_fps(fps: float) -> int | float:
    """info.json's fps: an int as LeRobot writes it (a fractional --rate stays a float)."""
    return int(fps) if float(fps).is_integer() else fps


def assemble(out: Path, work: Path) -> dict[str, Any]:
    """Write data/, videos/ and meta/ of every episode in out/sessions into `work`; returns
    info.json's content."""
    eps = _read_episodes(out)
    _agree(eps)
    fps = eps[0][1]["fps"]
    with_video = all(m["video"] for _, m in eps)
    tasks = list(dict.fromkeys(t for _, m in eps for t in m["tasks"]))
    task_index = {t: i for i, t in enumerate(tasks)}
    widths = {s: max(m["widths"][s] for _, m in eps) for s in COUNTS}
    schema = None
    rows: list[dict[str, Any]] = []
    stats: dict[str, list[dict[str, list[float]]]] = {}
    labels = []
    start = 0
    for e, (d, m) in enumerate(eps):
        table = dataset_table(pq.read_table(d / EPISODE_FILE), e, start, task_index, widths)
        schema = table.schema
        loc = _file_index(e)
        (work / DATA_PATH.format(**loc)).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, work / DATA_PATH.format(**loc), compression="zstd")
        ep_stats = {k: v for k, v in m["stats"].items() if k != VIDEO_KEY or with_video}
        ep_stats.update(table_stats(table, (*COUNTS.values(), *DATASET_INDICES)))
        row: dict[str, Any] = {
            "episode_index": e, "tasks": m["tasks"], "length": m["length"],
            "data/chunk_index": loc["chunk_index"], "data/file_index": loc["file_index"],
            "dataset_from_index": start, "dataset_to_index": start + m["length"],
        }
        if with_video:
            _place(d / m["video"], work / VIDEO_PATH.format(video_key=VIDEO_KEY, **loc))
            row.update({f"videos/{VIDEO_KEY}/chunk_index": loc["chunk_index"],
                        f"videos/{VIDEO_KEY}/file_index": loc["file_index"],
                        f"videos/{VIDEO_KEY}/from_timestamp": 0.0,
                        f"videos/{VIDEO_KEY}/to_timestamp": m["length"] / fps})
        row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
                    "haptics/session_id": d.name, "haptics/provenance": m["provenance"],
                    "haptics/gold": json.dumps(m["gold"], sort_keys=True)})
        for feat, p in ep_stats.items():
            s = final_stats(p)
            row.update({f"stats/{feat}/{k}": (_image_stats(s)[k] if feat == VIDEO_KEY else v)
                        for k, v in s.items()})
            stats.setdefault(feat, []).append(p)
        rows.append(row)
        labels.append(_labels_with_episode(d / LABELS_FILE, e, d.name))
        start += m["length"]
    (work / EPISODES_PATH).parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), work / EPISODES_PATH)
    pq.write_table(tasks_table(tasks), work / "meta" / "tasks.parquet")
    pq.write_table(pa.concat_tables(labels), work / "meta" / "haptics_labels.parquet")
    features = features_of(schema)
    if with_video:
        features[VIDEO_KEY] = next(m["features"][VIDEO_KEY] for _, m in eps)
    features = {k: ft if ft["dtype"] == "video" else {**ft, "fps": info_fps(fps)}
                for k, ft in features.items()}  # as LeRobot's v2.1 → v3.0 conversion writes
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": "haptics",
        "total_episodes": len(eps),
        "total_frames": start,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 500,
        "fps": info_fps(fps),
        "splits": {"train": f"0:{len(eps)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if with_video else None,
        "features": features,
    }
    (work / "meta" / "stats.json").write_text(json.dumps(_stats_json(stats), indent=1))
    (work / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return info


def check_dataset(work: Path, samples: list[dict[str, int]]) -> None:
    """Read the assembled files back with pyarrow: totals of info.json against the episodes
    table and the data files, each data file's rows, indices and 1 kHz sample counts
    (`samples`: per episode, stream → samples), tasks, videos present."""
    info = json.loads((work / "meta" / "info.json").read_text())
    eps = pq.read_table(work / EPISODES_PATH).to_pylist()
    expect_equal("total_episodes", info["total_episodes"], len(eps))
    expect_equal("total_frames", info["total_frames"], sum(e["length"] for e in eps))
    expect_equal("total_tasks", pq.read_table(work / "meta" / "tasks.parquet").num_rows,
                 info["total_tasks"])
    for e in eps:
        loc = {"chunk_index": e["data/chunk_index"], "file_index": e["data/file_index"]}
        t = pq.read_table(work / info["data_path"].format(**loc),
                          columns=["index", "episode_index", *COUNTS.values()])
        expect_equal(f"episode {e['episode_index']} frames", t.num_rows, e["length"])
        for stream, name in COUNTS.items():
            expect_equal(f"episode {e['episode_index']} {stream} samples",
                         int(np.sum(t.column(name).to_numpy())),
                         samples[e["episode_index"]][stream])
        for i in sample_rows(t.num_rows):
            expect_equal(f"episode {e['episode_index']} index[{i}]", t.column("index")[i].as_py(),
                         e["dataset_from_index"] + i)
            expect_equal(f"episode {e['episode_index']} episode_index",
                         t.column("episode_index")[i].as_py(), e["episode_index"])
        if info["video_path"]:
            v = work / info["video_path"].format(video_key=VIDEO_KEY, **loc)
            expect_equal(f"{v.name} present", v.is_file() and v.stat().st_size > 0, True)


def finish(out: Path) -> None:
    """Assemble the dataset over every episode in out/sessions: written aside, checked,
    then moved into place (videos, data, then meta: info.json appears last)."""
    if not _read_episodes(out):
        return
    tag = uuid.uuid4().hex[:8]
    work, old = out / f".lerobot-{tag}", out / f".lerobot-old-{tag}"
    try:
        work.mkdir()
        assemble(out, work)
        check_dataset(work, [m["samples"] for _, m in _read_episodes(out)])
        old.mkdir()
        for name in ("videos", "data", "meta"):
            if (out / name).exists():
                os.replace(out / name, old / name)
            if (work / name).exists():
                os.replace(work / name, out / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


FORMAT = Format(
    name="lerobot",
    version=1,
    write=write,
    check=check,
    layout="LeRobotDataset v3.0: meta/info.json, stats.json, tasks.parquet (gold labels), "
    "episodes/; data/chunk-000/file-NNN.parquet (frames at --rate, 1 kHz windows as list "
    "columns); videos/observation.images.camera/; sessions/<id>/ per-episode sources",
    open_with="lerobot: LeRobotDataset('local/haptics', root='DIR'); pyarrow: "
    "pq.read_table('DIR/data/chunk-000/file-000.parquet')",
    finish=finish,
)
