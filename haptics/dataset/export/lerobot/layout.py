"""Names and paths of the LeRobot v3 layout, and which columns each feature packs."""

from __future__ import annotations

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
