"""The map from video time to host time (`haptics.web.video`), on the frame index the
recorder writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haptics.session.video import FRAMES_FILE
from haptics.web.video import frame_times, session_video
from tests.haptics.web.workbench_builders import LOST_FRAME, make_dataset


def test_frame_times_follow_pts_and_drop_a_damaged_index_s_repeats() -> None:
    pts = np.array([0, 1, 3, 3, 2, 4], dtype=np.int64)  # a repeat and one out of order
    host = np.array([10, 20, 40, 41, 30, 50], dtype=np.int64)
    video_s, host_ns = frame_times(pts, host, "1/30")
    assert np.allclose(video_s, [0, 1 / 30, 2 / 30, 3 / 30, 4 / 30])
    assert host_ns.tolist() == [10, 20, 30, 40, 50]
    video_s, _ = frame_times(np.array([0, 1]), np.array([0, 1]), "100/2997")
    assert np.allclose(video_s, [0, 100 / 2997])


def test_a_filmed_session_maps_every_recorded_frame(tmp_path: Path) -> None:
    bench = make_dataset(tmp_path / "ds", camera=True)
    vid = session_video(bench.dir / "sessions" / "s1")
    assert vid is not None and vid.path.name == "video.mp4" and vid.info.codec == "h264"
    assert vid.frames == len(bench.frames)
    assert np.allclose(vid.video_s, [p / 30 for p, _ in bench.frames])
    assert vid.host_ns.tolist() == [t for _, t in bench.frames]
    # the lost frame leaves a gap in the file's time: the frames after it keep their slots
    assert round(vid.video_s[LOST_FRAME] * 30) == LOST_FRAME + 1


def test_no_camera_no_video_and_a_lost_index_maps_nothing(tmp_path: Path) -> None:
    bench = make_dataset(tmp_path / "plain")
    assert session_video(bench.dir / "sessions" / "s1") is None
    filmed = make_dataset(tmp_path / "filmed", camera=True)
    session = filmed.dir / "sessions" / "s1"
    (session / FRAMES_FILE).unlink()
    vid = session_video(session)
    assert vid is not None and vid.frames == 0  # the player shows, unsynchronised
