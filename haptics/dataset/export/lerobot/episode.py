"""One session as one episode: written into sessions/<id>/ and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from haptics.dataset.export.base import SessionData, expect_equal, sample_rows
from haptics.dataset.export.lerobot.frames import (
    build_episode,
    columns_of,
    gold_labels,
    session_gold,
)
from haptics.dataset.export.lerobot.layout import (
    EPISODE_FILE,
    EPISODE_META,
    LABELS_FILE,
    PACKED_STREAMS,
    VIDEO_KEY,
    VIDEO_OUT,
    WINDOWS,
)
from haptics.dataset.export.lerobot.stats import features_of, numeric_values
from haptics.dataset.export.lerobot.video import (
    check_video,
    retime_video,
    video_feature,
    video_source,
)
from haptics.dataset.export.tables import flat_table
from haptics.errors import ExportError

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
    values = numeric_values(table.column(feat))
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
        source = columns_of(data.streams.get(stream), names)
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
