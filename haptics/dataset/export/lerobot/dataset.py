"""The dataset over every episode: data/, videos/ and meta/ assembled aside, checked, moved into
place.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from haptics.dataset.export.base import expect_equal, sample_rows
from haptics.dataset.export.lerobot.layout import (
    CHUNKS_SIZE,
    CODEBASE_VERSION,
    COUNTS,
    DATA_PATH,
    DATASET_INDICES,
    EPISODE_FILE,
    EPISODE_META,
    EPISODES_PATH,
    LABELS_FILE,
    SAMPLES,
    VIDEO_KEY,
    VIDEO_PATH,
    window_stream,
)
from haptics.dataset.export.lerobot.stats import (
    features_of,
    final_stats,
    image_stats,
    merge_stats,
    table_stats,
)
from haptics.dataset.export.tables import LABEL_SCHEMA
from haptics.errors import ExportError

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
        out[feat] = image_stats(s) if feat == VIDEO_KEY else s
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
            row.update({f"stats/{feat}/{k}": (image_stats(s)[k] if feat == VIDEO_KEY else v)
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
