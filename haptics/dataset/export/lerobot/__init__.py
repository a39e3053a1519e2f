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

Modules: `layout` (names, paths, which columns a feature packs), `frames` (the frames, their
1 kHz windows and gold labels), `stats`, `video`, `episode` (one session written and read
back), `dataset` (every episode assembled into data/, videos/, meta/).
"""

from haptics.dataset.export.base import Format
from haptics.dataset.export.lerobot.dataset import finish
from haptics.dataset.export.lerobot.episode import check, write
from haptics.dataset.export.lerobot.layout import (
    COUNTS,
    EPISODE_FILE,
    EPISODES_PATH,
    VIDEO_KEY,
    window_stream,
)

__all__ = [
    "COUNTS",
    "EPISODES_PATH",
    "EPISODE_FILE",
    "FORMAT",
    "VIDEO_KEY",
    "check",
    "finish",
    "window_stream",
    "write",
]  # fmt: skip

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
