"""Builders of the workbench tests: a real dataset (a session written by the recorder
code, the built-in taxonomies, a SQLite label store) with logins."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from starlette.testclient import TestClient

from haptics.dataset.catalog import init_dataset
from haptics.dataset.store import Item
from haptics.session.manifest import read_manifest, write_manifest
from haptics.session.recorder import StreamWriter
from haptics.session.video import FRAME_INDEX, FRAMES_FILE, VIDEO_FILE, VideoWriter, pts_for
from haptics.web.users import Users
from tests.haptics.session.session_builders import write_session

PASSWORD = "correct horse battery"
PEOPLE = [("alice", "annotator"), ("bob", "annotator"), ("carol", "reviewer"), ("root", "admin")]


@dataclass
class Bench:
    dir: Path
    session_id: str
    start_ns: int
    end_ns: int
    frames: list[tuple[int, int]] = field(default_factory=list)  # (pts, host ns) per frame


FPS = 30.0
CAMERA_DELAY_NS = 400_000_000  # the camera's first frame comes this long after the first tick
LOST_FRAME = 50  # the camera frame that never reaches the recorder (a gap in the video)


def grey_of(slot: int) -> int:
    """The grey level of the left half of the picture captured in camera slot `slot`
    (neighbouring slots differ by 4 levels)."""
    return 24 + (4 * slot) % 224


def film(session: Path, start_ns: int, end_ns: int, fps: float = FPS) -> list[tuple[int, int]]:
    """Add a camera to a written session as the recorder does (`VideoWriter`, a
    `StreamWriter` of FRAME_INDEX, `pts_for`, the manifest's `video` entry): frames from
    CAMERA_DELAY_NS after the start to the end, a few ms of capture jitter, frame LOST_FRAME
    lost. The left half of each picture is grey `grey_of(slot)`, the right half shows a bar
    that sweeps across. Returns (pts, host ns) of every frame in the file."""
    w, h = 160, 120
    video = VideoWriter(session / VIDEO_FILE, w, h, fps)
    index = StreamWriter(session / FRAMES_FILE, FRAME_INDEX)
    first: int | None = None
    last: int | None = None
    out: list[tuple[int, int]] = []
    slot = 0
    while (t := start_ns + CAMERA_DELAY_NS + round(slot * 1e9 / fps)) <= end_ns:
        t += (slot * 7919) % 5 * 1_000_000 - 2_000_000  # -2 … +2 ms
        if slot != LOST_FRAME:
            first = t if first is None else first
            pts = pts_for(t, first, fps, last)
            img = np.full((h, w, 3), 230, dtype=np.uint8)
            img[:, : w // 2] = grey_of(slot)
            x = w // 2 + slot % (w // 2 - 8)
            img[20:100, x : x + 8] = (229, 57, 53)
            video.add(img, pts)
            index.add(FRAME_INDEX.pack(slot + 1, t, 1 + (t - start_ns) // 1_000_000, pts))
            out.append((pts, t))
            last = pts
        slot += 1
    video.close()
    index.close()
    m = read_manifest(session)
    m.streams["frames"] = index.info()
    m.video = video.info().model_dump()
    write_manifest(session, m)
    return out


def make_dataset(root: Path, n: int = 3000, camera: bool = False) -> Bench:
    """A dataset with one 1 kHz session of `n` ticks (filmed by `film` if `camera`), the
    users of PEOPLE, and alice and bob assigned to its needle phases and tissue events."""
    ds = init_dataset(root)
    try:
        session = write_session(root / "sessions" / "s1", n=n)
        frames: list[tuple[int, int]] = []
        if camera:  # write_session ticks at 1 s + i ms, i = 1 … n
            frames = film(session, 10**9 + 1_000_000, 10**9 + n * 1_000_000)
        (rec,), problems = ds.index()
        assert not problems
        users = Users(root, ds.store)
        for name, role in PEOPLE:
            users.add(name, PASSWORD, role)
        ds.store.assign(
            [
                Item(rec.session_id, "needle-phases", "phase"),
                Item(rec.session_id, "tissue-events", "event"),
            ],
            ["alice", "bob"],
            "root",
        )
        return Bench(root, rec.session_id, rec.start_ns, rec.end_ns, frames)
    finally:
        ds.close()


def login(client: TestClient, user: str) -> str:
    """Log `client` in as `user`; the CSRF token to send on writes."""
    r = client.post("/api/login", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])
