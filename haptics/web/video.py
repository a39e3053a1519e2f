"""A session's camera video for the browser: the MP4 file to serve and the map from video
time to the session's host time.

The recorder writes `video.mp4` (H.264 in fragmented MP4, which Chromium plays and seeks)
and one row per encoded frame in `frames.arrows`: the frame's `pts` (units of the
manifest's `time_base`) and the host time it was captured. A browser playing the file shows
frame k from `pts_k · time_base` seconds on; that picture was taken at `host_time_ns_k`.
So the cursor follows the picture on screen, and a click at host time t seeks to the last
frame captured at or before t.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from haptics.errors import HapticsError, SessionError
from haptics.session.reading import open_session
from haptics.session.video import FRAMES_FILE, VideoInfo, read_video_info


@dataclass(frozen=True)
class SessionVideo:
    """A session's video file (inside its folder) and its per-frame times."""

    path: Path
    info: VideoInfo
    video_s: np.ndarray  # float64: when each frame shows in the file, seconds
    host_ns: np.ndarray  # int64: when the camera captured it, host monotonic ns

    @property
    def frames(self) -> int:
        return int(self.video_s.size)


def frame_times(
    pts: np.ndarray, host_ns: np.ndarray, time_base: str
) -> tuple[np.ndarray, np.ndarray]:
    """(video seconds, host ns) of the frames, in presentation order (pure). Rows with a
    pts not above the one before (a damaged index) are dropped, so both arrays increase."""
    tb = Fraction(time_base)
    order = np.argsort(pts, kind="stable")
    p, h = pts[order].astype(np.int64), host_ns[order].astype(np.int64)
    keep = np.ones(p.size, dtype=bool)
    keep[1:] = np.diff(p) > 0
    p, h = p[keep], h[keep]
    return p * (tb.numerator / tb.denominator), h


def session_video(session_dir: Path) -> SessionVideo | None:
    """The video of the session in `session_dir`, or None when it was recorded without a
    camera (or its file is gone). Raises SessionError when the manifest names a file outside
    the session folder or its frame index cannot be read."""
    folder = session_dir.resolve()
    try:
        info = read_video_info(folder)
    except (OSError, ValueError, ValidationError) as exc:
        raise SessionError(f"cannot read the video entry of {folder}'s manifest: {exc}") from exc
    if info is None:
        return None
    path = (folder / info.file).resolve()
    index = (folder / info.index_file).resolve()
    for p in (path, index):
        if not p.is_relative_to(folder):
            raise SessionError(
                f"the manifest of {folder} names {p}, outside the session folder; "
                "repair the manifest's `video` entry"
            )
    if not path.is_file():
        return None
    try:
        session = open_session(folder)
        name = next(
            (n for n, s in session.manifest.streams.items() if s.file == info.index_file),
            "frames" if info.index_file == FRAMES_FILE else None,
        )
        if name is None:
            raise SessionError(f"{folder}'s manifest lists no stream for {info.index_file}")
        pts = session.column_array(name, "pts")
        host = session.column_array(name, "host_time_ns")
    except HapticsError as exc:
        raise SessionError(f"cannot read the frame index of {folder}: {exc}") from exc
    video_s, host_ns = frame_times(pts, host, info.time_base)
    return SessionVideo(path, info, video_s, host_ns)
