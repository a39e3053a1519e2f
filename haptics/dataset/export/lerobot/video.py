"""The camera re-timed to the frame rate: frame i at i/fps shows the newest camera frame at or
before it.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import pyarrow as pa

from haptics.dataset.export.base import SessionData, expect_equal, sample_rows
from haptics.dataset.export.lerobot.frames import frame_start_ns
from haptics.dataset.export.lerobot.layout import VIDEO_STAT_FRAMES
from haptics.dataset.export.lerobot.stats import merge_stats, partial_stats
from haptics.errors import ExportError
from haptics.session.video import VIDEO_FILE, fps_fraction, probe_video

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



def check_video(path: Path, n: int, fps: float) -> None:
    """The re-timed video has n frames, frame i at i/fps (within LeRobot's 1e-4 s)."""
    probe = probe_video(path)
    expect_equal(f"{path.name} frames", probe["frames"], n)
    for i in sample_rows(n):
        expect_equal(f"{path.name} frame {i} at i/fps", abs(probe["times_s"][i] - i / fps) < 1e-4,
                     True)
