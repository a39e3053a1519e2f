"""Camera frames on disk: H.264 in fragmented MP4, written by FFmpeg through PyAV.

We write no codec: `VideoWriter` hands RGB frames to libx264 (preset ultrafast, tune
zerolatency, yuv420p) and FFmpeg's MP4 muxer in *fragmented* mode
(`frag_keyframe+empty_moov+default_base_moof`). A fragment (moof + mdat) reaches the disk at
every keyframe, and there is a keyframe at least every `keyframe_s` (1 s by default), so a
recorder killed mid-session leaves a file that plays up to its last complete fragment: at
most about one second of video is lost, never the file.

Every frame also gets one row in `frames.arrows` (layout `FRAME_INDEX`): its camera seq, the
host time it was captured, the loop tick whose tool pose it shows, and its `pts` in the MP4
(time base 1/fps). The row is what joins a picture to the 1 kHz streams.

Reading needs only PyAV (`av.open(path).decode(video=0)`); `probe_video` does that and stops
quietly at a cut-off tail.
"""

from __future__ import annotations

import contextlib
import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import av.error
import numpy as np
from av.video.frame import PictureType
from pydantic import BaseModel, Field

from haptics.errors import RecorderError
from haptics.session.manifest import MANIFEST_NAME
from haptics.wire.messages import Layout

VIDEO_FILE: Final = "video.mp4"
FRAMES_FILE: Final = "frames.arrows"
MOVFLAGS: Final = "frag_keyframe+empty_moov+default_base_moof"

# One row per encoded frame in frames.arrows (the kind/version header is not recorded).
FRAME_INDEX = Layout(
    "frames",
    kind=5,
    version=1,
    fields=(
        ("kind", "u1"),
        ("version", "u1"),
        ("seq", "u8"),  # the camera's frame number, from 1; gaps = frames lost on the way
        ("host_time_ns", "i8"),  # time.monotonic_ns() when the camera captured the frame
        ("source_tick", "u8"),  # the loop tick whose tool pose the frame shows (telemetry.tick)
        ("pts", "i8"),  # presentation time in the MP4, in units of 1/fps
    ),
)


class VideoInfo(BaseModel):
    """What the recorder stores about the video under the manifest's `video` key."""

    file: str = VIDEO_FILE
    index_file: str = FRAMES_FILE
    container: str = "mp4 (fragmented: " + MOVFLAGS + ")"
    codec: str = "h264"
    encoder: str = "libx264"
    preset: str = "ultrafast"
    pix_fmt: str = "yuv420p"
    width: int
    height: int
    fps: float
    time_base: str = Field(description="pts unit in frames.arrows, e.g. '1/30'")
    keyframe_interval_frames: int
    frames: int = Field(0, description="frames handed to the encoder")
    closed: bool = Field(False, description="True once the encoder was flushed and the file closed")
    sha256: str | None = None
    error: str | None = None
    camera: dict[str, Any] = Field(
        default_factory=dict, description="pose and lens of the camera that rendered the frames"
    )


def pts_for(host_time_ns: int, first_ns: int, fps: float, last_pts: int | None) -> int:
    """The pts (in 1/fps) of a frame captured at `host_time_ns` (pure).

    The camera captures on an absolute grid, so the nearest slot since the first frame is
    its pts; a skipped slot leaves a gap (the file stays in real time). Always above
    `last_pts`, so jitter can never produce a duplicate or backwards timestamp.
    """
    slot = round((host_time_ns - first_ns) * fps / 1e9)
    return slot if last_pts is None or slot > last_pts else last_pts + 1


def fps_fraction(fps: float) -> Fraction:
    """`fps` as an exact fraction (30 → 30, 29.97 → 2997/100)."""
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """RGB frames → H.264 in a fragmented MP4, readable up to the last fragment at any time.

    Raises RecorderError when the file cannot be created or written (the cause, an
    OSError such as ENOSPC, is chained); what reached the disk before stays playable.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        keyframe_s: float = 1.0,
        preset: str = "ultrafast",
        threads: int = 1,
    ) -> None:
        if width % 2 or height % 2:
            raise RecorderError(
                f"video size {width}×{height}: yuv420p needs even width and height; "
                "choose e.g. 320×240"
            )
        self.path, self.width, self.height = path, width, height
        self.fps = fps_fraction(fps)
        self.time_base = 1 / self.fps  # pts unit; the muxer picks its own for the stream
        self.gop = max(1, round(float(self.fps) * keyframe_s))
        self.preset = preset
        self.frames = 0
        self.closed = False
        self.aborted = False
        self.error: str | None = None
        self.camera: dict[str, Any] = {}
        self._last_pts: int | None = None
        self._key_pts: int | None = None  # pts of the last keyframe
        try:
            self.container = av.open(
                str(path),
                mode="w",
                format="mp4",
                options={"movflags": MOVFLAGS, "flush_packets": "1"},
            )
            stream = self.container.add_stream(
                "libx264", rate=self.fps, options={"preset": preset, "tune": "zerolatency"}
            )
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = self.time_base
            stream.codec_context.gop_size = self.gop
            stream.codec_context.thread_count = threads
        except (OSError, av.error.FFmpegError) as exc:
            raise RecorderError(
                f"cannot start the video {path}: {exc}; is PyAV installed with libx264 "
                "(pip install 'av>=12')?"
            ) from exc
        self.stream = stream

    def add(self, rgb: bytes | np.ndarray, pts: int) -> None:
        """Encode one frame (height × width × 3 RGB bytes) at `pts` (units of 1/fps).

        Raises ValueError for a wrong size or a pts not above the previous one, and
        RecorderError (OSError chained) when the file cannot be written.
        """
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"pts {pts} is not above the previous {self._last_pts}")
        arr = np.frombuffer(rgb, np.uint8) if isinstance(rgb, bytes) else rgb
        if arr.size != self.width * self.height * 3:
            raise ValueError(
                f"frame has {arr.size} bytes, expected {self.width}×{self.height}×3 RGB"
            )
        frame = av.VideoFrame.from_ndarray(arr.reshape(self.height, self.width, 3), format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        if self._key_pts is None or pts - self._key_pts >= self.gop:
            # keyframes by time, not frame count: skipped slots must not stretch a fragment
            frame.pict_type = PictureType.I
            self._key_pts = pts
        try:
            for packet in self.stream.encode(frame):
                if packet.is_keyframe and packet.pts is not None and packet.time_base:
                    self._key_pts = max(
                        self._key_pts, round(packet.pts * packet.time_base * self.fps)
                    )
                self.container.mux(packet)
        except (OSError, av.error.FFmpegError) as exc:
            raise RecorderError(f"cannot write {self.path}: {exc}") from exc
        self._last_pts = pts
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file. Raises RecorderError (OSError chained)
        when the disk refuses; the fragments already written stay playable."""
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        except (OSError, av.error.FFmpegError) as exc:
            self._close_quietly()
            raise RecorderError(f"cannot finish {self.path}: {exc}") from exc
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError) as exc:
            raise RecorderError(f"cannot finish {self.path}: {exc}") from exc

    def abort(self) -> None:
        """Stop without flushing the encoder (e.g. the disk is full); never raises.
        The file holds every fragment that was complete before."""
        if self.closed:
            return
        self.closed = self.aborted = True
        self._close_quietly()

    def _close_quietly(self) -> None:
        with contextlib.suppress(OSError, av.error.FFmpegError):
            self.container.close()

    def info(self) -> VideoInfo:
        return VideoInfo(
            file=self.path.name,
            width=self.width,
            height=self.height,
            fps=float(self.fps),
            time_base=str(self.time_base),
            keyframe_interval_frames=self.gop,
            preset=self.preset,
            frames=self.frames,
            closed=self.closed and not self.aborted and self.error is None,
            error=self.error,
            camera=self.camera,
        )


def probe_video(path: Path) -> dict[str, Any]:
    """Decode a video with PyAV alone: frame count, size, times (s) and key frames.

    A file cut mid-fragment (killed writer, full disk) decodes up to the cut; `truncated`
    says the tail could not be decoded. Raises RecorderError if it is not a video at all.
    """
    times: list[float] = []
    keys: list[int] = []
    size: tuple[int, int] | None = None
    truncated = False
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise RecorderError(f"{path} is not a readable video ({exc})") from exc
    with container:
        try:
            for frame in container.decode(video=0):
                if frame.key_frame:
                    keys.append(len(times))
                tb = frame.time_base
                times.append(float(frame.pts * tb) if frame.pts is not None and tb else 0.0)
                size = (frame.width, frame.height)
        except (OSError, av.error.FFmpegError):
            truncated = True
    return {
        "frames": len(times),
        "width": size[0] if size else 0,
        "height": size[1] if size else 0,
        "times_s": times,
        "key_frames": keys,
        "truncated": truncated,
    }


def read_video_info(session_dir: Path) -> VideoInfo | None:
    """The manifest's `video` entry of a session, or None when it has no video.

    Raises FileNotFoundError when there is no manifest, pydantic.ValidationError when the
    entry is malformed.
    """
    raw = json.loads((session_dir / MANIFEST_NAME).read_text()).get("video")
    return None if raw is None else VideoInfo.model_validate(raw)
