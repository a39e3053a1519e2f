"""The camera process: frames rendered in their own process, recorded as video, loop untouched;
frames worth watching (coloured layers, the instrument, a surface that dents, ground truth on
request) at a CPU cost that fits 30 Hz."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pytest

from haptics.errors import MessageError, SceneError
from haptics.loop.scene import load_scene
from haptics.runtime.orchestrator import camera_endpoints
from haptics.session.camera import (
    CameraPose,
    Renderer,
    pack_frame,
    resolve_pose,
    scene_client,
    split_frame,
)
from haptics.session.reading import open_session
from haptics.session.video import probe_video, read_video_info
from haptics.wire.transport import ipc_endpoints, tcp_endpoints

from .conftest import LOOP_RATE_HZ, haptics

pytestmark = pytest.mark.integration

DURATION_S = 5.0
FPS = 30.0


def test_frame_messages_round_trip_and_refuse_bad_bytes() -> None:
    rgb = bytes(range(256)) * 12  # 3072 bytes: 32 × 32 RGB
    msg = pack_frame(7, 123_456_789, 4242, 32, 32, rgb)
    seq, t, tick, w, h, pixels = split_frame(msg)
    assert (seq, t, tick, w, h) == (7, 123_456_789, 4242, 32, 32)
    assert bytes(pixels) == rgb
    with pytest.raises(MessageError, match="pixel bytes"):
        split_frame(msg[:-3])
    with pytest.raises(MessageError, match="shorter than its header"):
        split_frame(msg[:10])
    with pytest.raises(MessageError):
        split_frame(b"\x01" + msg[1:])  # another message kind


def test_renderer_shows_the_tool_where_the_scene_put_it() -> None:
    scene: Any = load_scene("palpation")({})
    scene.build()
    try:
        r = Renderer(scene_client(scene), 160, 120, CameraPose())
        r.tint(scene.tool, (1.0, 0.0, 0.0, 1.0))

        def red_pixels() -> np.ndarray:
            img = np.frombuffer(r.render(), np.uint8).reshape(120, 160, 3).astype(int)
            return np.argwhere((img[:, :, 0] > 150) & (img[:, :, 1] < 80) & (img[:, :, 2] < 80))

        # the bare scene (no build_visuals): its own bodies, the tool tinted
        scene.step((-0.02, 0.0, 0.005), (0.0, 0.0, 0.0), 1 / FPS)
        left = red_pixels()
        scene.step((0.02, 0.0, 0.005), (0.0, 0.0, 0.0), 1 / FPS)
        right = red_pixels()
        assert len(left) > 3 and len(right) > 3, "the tool is not visible in the frame"
        assert abs(left[:, 1].mean() - right[:, 1].mean()) > 5  # it moved across the picture
    finally:
        scene.close()

    class Bare:
        name = "bare"

    with pytest.raises(SceneError, match=r"world\.client"):
        scene_client(Bare())


def test_session_with_camera_records_video_without_touching_the_loop(tmp_path: Path) -> None:
    done = haptics(
        "run", "--duration", str(DURATION_S), "--camera", "--record", str(tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    session = next(p for p in tmp_path.iterdir() if (p / "manifest.json").exists())
    shown = haptics("sessions", "show", str(session), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)

    # frames: ~30 per second over the whole session, none lost between camera and disk
    frames = pa.ipc.open_stream(str(session / "frames.arrows")).read_all()
    n = frames.num_rows
    assert summary["streams"]["frames"] == n
    t = frames.column("host_time_ns").to_numpy()
    expected = (t[-1] - t[0]) / 1e9 * FPS + 1
    # slots the camera skips on a busy CPU are counted, not lost (lost = published - recorded,
    # checked below); on a shared 2-core box ~10 % may be skipped
    # The frame rate is a performance figure (`haptics bench record` reports it): with the
    # layered, denting visuals a frame costs ~20-25 ms of CPU on the core the camera shares
    # with the device and the recorder, so on 2 cores the camera renders well under 30 Hz.
    # What this test holds: frames throughout the session, every rendered one recorded.
    print(f"camera: {n} frames over {(t[-1] - t[0]) / 1e9:.1f} s ({n / max(expected, 1):.0%} of "
          f"{FPS} Hz)")
    assert n >= 2 * DURATION_S, f"{n} frames recorded of {expected:.0f} at {FPS} Hz"
    assert summary["loss"]["frames"]["published"] == n
    assert summary["seq_gaps_by_stream"]["frames"] == 0
    assert (np.diff(frames.column("pts").to_numpy()) > 0).all()
    # every frame shows a real loop tick, in order
    ticks = frames.column("source_tick").to_numpy()
    assert (np.diff(ticks.astype(np.int64)) >= 0).all()
    tel_ticks = open_session(session).arrays("telemetry")["tick"]
    assert np.isin(ticks, tel_ticks).mean() > 0.95

    # the MP4 decodes with PyAV alone to that many frames of the right size and times
    video = probe_video(session / "video.mp4")
    assert not video["truncated"]
    assert video["frames"] == n
    assert (video["width"], video["height"]) == (320, 240)
    pts_s = frames.column("pts").to_numpy() / FPS
    assert np.allclose(video["times_s"], pts_s, atol=1e-3)
    info = read_video_info(session)
    assert info is not None and info.frames == n and info.closed
    assert info.codec == "h264" and info.fps == FPS and info.sha256
    assert open_session(session).table("frames").num_rows == n
    # and they are pictures: coloured tissue and the steel-blue probe, not a grey box
    with av.open(str(session / "video.mp4")) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    img = decoded[len(decoded) // 2].astype(int)
    assert img.std() > 25 and _tool(img).sum() > 20

    # the loop did not notice: its rate, every state sample recorded (the rate bound only
    # catches a loop the camera stalls; `haptics bench record` measures the cost properly)
    lo, hi = LOOP_RATE_HZ
    assert lo < summary["loop"]["rate_hz"] < hi, json.dumps(summary["loop"])
    assert summary["loss"]["state"]["published"] == summary["streams"]["state"]
    assert summary["seq_gaps_by_stream"]["state"] == 0
    assert summary["loss"]["telemetry"]["fraction"] == 1.0
    assert "video" in done.stdout and "recorder:" in done.stdout


def test_camera_endpoints_sit_beside_the_session_endpoints(tmp_path: Path) -> None:
    ipc = camera_endpoints(ipc_endpoints(tmp_path))
    assert ipc == {
        "frames": f"ipc://{tmp_path}/frames",
        "ctl-camera": f"ipc://{tmp_path}/ctl-camera",
    }
    base = tcp_endpoints("127.0.0.1", 5750)
    tcp = camera_endpoints(base)
    assert tcp == {"frames": "tcp://127.0.0.1:5756", "ctl-camera": "tcp://127.0.0.1:5757"}
    assert not set(tcp.values()) & set(base.values())


# --- what the picture shows ---------------------------------------------------------------

W, H = 320, 240
SCENES = ("needle", "cutting", "palpation")
# a tool position per scene where it presses on the tissue without breaking through
PRESSING = {
    "needle": (0.0, 0.0, -0.004),  # the skin deflects (it punctures at ~7 mm)
    "cutting": (-0.02, 0.0, -0.003),  # the blade presses (it breaks in at ~6.7 mm)
    "palpation": (0.0, -0.004, -0.006),
}


class Filmed:
    """A scene built with its visuals and a renderer framed as the camera process frames it."""

    def __init__(self, scene: Any, renderer: Renderer) -> None:
        self.scene, self.renderer = scene, renderer

    def frame(self, tool: tuple[float, float, float]) -> np.ndarray:
        """What the camera shows with the tool at `tool`: H × W × 3 ints."""
        self.scene.step(tool, (0.0, 0.0, 0.0), 1 / FPS)
        self.scene.update_visuals()
        return np.frombuffer(self.renderer.render(), np.uint8).reshape(H, W, 3).astype(int)

    def pixel_of(self, point: tuple[float, float, float]) -> tuple[float, float]:
        """(column, row) where a world point (m) lands in the picture."""
        view = np.asarray(self.renderer.view).reshape(4, 4).T
        proj = np.asarray(self.renderer.proj).reshape(4, 4).T
        clip = proj @ view @ np.array([*point, 1.0])
        x, y = clip[0] / clip[3], clip[1] / clip[3]
        return (x + 1) / 2 * W, (1 - y) / 2 * H


@contextmanager
def filmed(name: str, truth: bool = False) -> Iterator[Filmed]:
    scene: Any = load_scene(name)({})
    scene.build()
    try:
        framing = scene.build_visuals(truth)
        pose = resolve_pose(CameraPose(truth=truth), framing)
        renderer = Renderer(scene_client(scene), W, H, pose)
        renderer.tint(scene.tool, (0.20, 0.55, 0.95, 1.0))  # as the camera process does
        yield Filmed(scene, renderer)
    finally:
        scene.close()


def _tool(img: np.ndarray) -> np.ndarray:
    """Steel-blue instrument pixels."""
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    return (b > 90) & (b > r + 45) & (b > g + 25)


def _handle(img: np.ndarray) -> np.ndarray:
    """The instruments' dark navy handles and hubs."""
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    return (b < 110) & (b > r + 15) & (b > g + 5) & (r < 60)


def _warm(img: np.ndarray) -> np.ndarray:
    """Tissue-coloured pixels (red above blue by a margin), eroded by 2 px so that an
    instrument's anti-aliased edge never counts."""
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    warm = np.pad((r > b + 25) & (r >= g), 2)
    out = np.ones((H, W), bool)
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            out &= warm[2 + dr : 2 + dr + H, 2 + dc : 2 + dc + W]
    return out


def _layer(img: np.ndarray, name: str) -> np.ndarray:
    """Pixels of a tissue layer's colour (lit or shaded)."""
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    if name == "fat":  # yellow
        return (r > 120) & (g > 0.75 * r) & (b < 0.6 * g)
    if name == "muscle":  # dark red
        return (r > 70) & (g < 0.35 * r) & (b < 0.45 * r)
    if name == "skin":  # peach
        return (r > 150) & (g > 0.6 * r) & (g < 0.85 * r) & (b > 0.5 * r) & (b < 0.8 * r)
    if name == "inclusion":  # green
        return (g > 110) & (g > r + 50) & (g > b + 50)
    raise ValueError(name)


@pytest.mark.parametrize("name", SCENES)
def test_every_scene_films_as_a_picture_not_a_grey_box(name: str) -> None:
    with filmed(name) as f:
        img = f.frame(PRESSING[name])
    colours = len(np.unique(img // 32 * 32 @ np.array([1, 256, 65536])))
    print(f"{name}: pixel std {img.std():.0f}, {colours} colour bins, {_tool(img).sum()} tool px")
    assert img.std() > 25, "the frame is nearly flat"
    assert colours >= 12, f"only {colours} colour bins: a flat box"
    assert _tool(img).sum() > 40, "the instrument is not visible"
    tissue = ~_tool(img) & ~_handle(img) & (np.abs(np.diff(img, axis=2)).sum(axis=2) > 40)
    assert tissue.sum() > 0.2 * W * H, "the tissue does not fill the frame"


def test_needle_frame_shows_skin_fat_and_muscle_in_the_cut_away() -> None:
    with filmed("needle") as f:
        img = f.frame(PRESSING["needle"])
        col, row = f.pixel_of((0.0, 0.0, -0.004))
    for layer in ("skin", "fat", "muscle"):
        assert _layer(img, layer).sum() > 300, f"no {layer} in the needle frame"
    # top to bottom in the cut face beside the needle: skin, then fat, then muscle
    c = int(col) + 40
    rows = {n: np.flatnonzero(_layer(img[:, c : c + 1], n)[:, 0]) for n in ("fat", "muscle")}
    assert rows["fat"].size and rows["muscle"].size
    assert rows["fat"].mean() < rows["muscle"].mean()
    # the shaft is in the picture where the tip is, and above it
    shaft = np.argwhere(_tool(img))
    assert abs(np.median(shaft[:, 1]) - col) < 6
    assert shaft[:, 0].max() == pytest.approx(row, abs=8)


@pytest.mark.parametrize("name", ["palpation", "needle", "cutting"])
def test_the_surface_dents_only_where_the_tool_presses(name: str) -> None:
    x, y, z = PRESSING[name]
    with filmed(name) as f:
        above = f.frame((x, y, 0.001))
        pressed = f.frame((x, y, z))
        tip = f.pixel_of((x, y, 0.0))
    # tissue is warm-coloured in both frames (the instrument, its handle and the backdrop are
    # cool), so what changed there is the tissue's own shape, not the instrument moving
    tissue = _warm(above) & _warm(pressed)
    changed = (np.abs(pressed - above).sum(axis=2) > 30) & tissue
    rows, cols = np.nonzero(changed)
    dist = np.hypot(cols - tip[0], rows - tip[1])
    # how much of the tissue changed within 50 px of the tool, and beyond (the dent's
    # shallow tail and the texture shimmering on it may change a few pixels far away)
    rr, cc = np.mgrid[0:H, 0:W]
    disk = np.hypot(cc - tip[0], rr - tip[1]) < 50
    inside = changed[disk & tissue].mean()
    outside = changed[~disk & tissue].mean()
    print(
        f"{name}: {changed.sum()} px changed, median {np.median(dist):.0f} px from the tool; "
        f"{inside:.1%} of the tissue changed within 50 px, {outside:.2%} beyond"
    )
    assert changed.sum() > 40, "pressing changed nothing but the instrument"
    assert np.median(dist) < 50, "the change is not around the tool"
    assert inside > 5 * outside, "the change is not localised at the tool"


def test_ground_truth_view_shows_the_inclusion_only_when_asked() -> None:
    tool = (0.03, 0.004, 0.02)  # off to the side, above the tissue
    with filmed("palpation", truth=True) as f:
        truth = f.frame(tool)
    with filmed("palpation") as f:
        plain = f.frame(tool)
    assert _layer(truth, "inclusion").sum() > 60
    assert _layer(plain, "inclusion").sum() == 0


def test_scene_framing_fills_what_the_user_left_unset() -> None:
    framing = {"target_m": (0.01, 0.0, -0.02), "distance_m": 0.08, "yaw_deg": 0.0}
    pose = resolve_pose(CameraPose(distance_m=0.2), framing)
    assert pose.distance_m == 0.2  # the user's
    assert pose.target_m == (0.01, 0.0, -0.02) and pose.yaw_deg == 0.0  # the scene's
    assert pose.pitch_deg == -35.0 and pose.fov_deg == 50.0  # the defaults
    with pytest.raises(SceneError, match="not a valid pose"):
        resolve_pose(CameraPose(), {"distance_m": -1.0})


@pytest.mark.parametrize("name", SCENES)
def test_frame_cost_fits_the_camera_budget(name: str) -> None:
    """Prints the per-frame cost (CPU and wall; not asserted: the host is shared)."""
    with filmed(name) as f:
        waypoints = f.scene.operator_script()
        at = np.array([w[0] for w in waypoints])
        xyz = np.array([w[1] for w in waypoints])
        cpu, wall = [], []
        for s in np.linspace(0.0, 1.0, 90):
            tool = tuple(float(np.interp(s, at, xyz[:, i])) for i in range(3))
            c0, w0 = time.process_time(), time.perf_counter()
            f.frame(tool)  # type: ignore[arg-type]
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    p50, p99 = np.percentile(cpu, [50, 99]) * 1e3
    print(
        f"\n{name}: step + visuals + render at {W}x{H}: CPU p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(wall p50 {np.median(wall) * 1e3:.1f} ms); budget at {FPS:.0f} Hz {1e3 / FPS:.1f} ms, "
        f"so {1e3 / p50:.0f} frames/s on one free core"
    )
    assert len(cpu) == 90
