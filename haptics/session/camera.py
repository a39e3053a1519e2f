"""The camera process: mirrors the scene, renders it at `fps`, publishes every frame.

pybullet holds the GIL and TinyRenderer costs ~10–20 ms of CPU a frame at 320×240 with the
scenes' coloured tissue (a printed figure: tests/integration/test_camera.py), so rendering
never happens in the loop's process: the camera is its own process, off the loop's CPU
and at a lower priority than the recorder and the driver (a late frame is skipped and
counted; the force path is never slowed). The loop does not wait for it either: the camera
subscribes to telemetry with a conflated socket (only the newest tick matters), so it costs
the loop one extra send per tick on its ZeroMQ I/O thread.

Each frame slot on an absolute grid of 1/fps: take the newest telemetry (tick and tool
position), place the tool, render with `ER_TINY_RENDERER`, publish. A slot that is already
over when the previous frame ends is skipped and counted, never caught up in a burst.
Nothing is rendered before the first telemetry arrives (every frame shows a real tick).

Scene contract (duck typing; `Scene` and the optional `Filmable` in haptics/loop/scene.py):
- required: `scene.world.client`, the pybullet client id of the world `build()` made. A
  scene without it cannot be filmed and the camera stops with a SceneError saying so.
- the tool is placed with the protocol's own `scene.step(tool, (0, 0, 0), 1/fps)`, so the
  picture shows it exactly where the loop put it (a scene's tip offset included).
- optional: `scene.build_visuals(truth)`, called once after `build()`: the scene adds what
  only the picture needs (coloured layers, a cut-away, the instrument; with `truth`, hidden
  ground truth such as an inclusion) and returns its framing, used for every `CameraPose`
  field the user left unset. `scene.update_visuals()`, called every frame after `step()`:
  the instrument follows the tool and the surface dents under it. Both run here, at frame
  rate, never in the loop's 1 kHz tick.
- optional: `scene.tool`, the tool's body id; when present it is tinted steel blue.

Picture: TinyRenderer's white background is replaced by a dark gradient; one light from the
front left, low enough that a dent in the surface shades. With `pressure` set (a session
recording a tactile stream; `haptics run --no-pressure-inset` turns it off), the newest
tactile frame at capture time is drawn as a small colour-mapped inset with its kPa scale in
the bottom-right corner (`haptics.session.pressure_inset`): the camera subscribes to that
stream with a conflated socket, so it costs the sensor one more send per frame and the
camera a few tens of microseconds; a tactile message of the wrong size, kind or version is
counted (`bad_pressure`) and the inset keeps the previous map.

Wire format of the "frames" topic, one single-part message per frame: the `FRAME` header
(kind 4, version 1, seq u8, host_time_ns i8, source_tick u8, width u2, height u2; little
endian, 30 bytes) followed by height × width × 3 bytes of RGB, row-major, top row first.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from typing import Any, Final

import numpy as np
import zmq
from pydantic import BaseModel, Field

from haptics.errors import MessageError, SceneError
from haptics.loop.clock import next_deadline
from haptics.loop.scene import load_scene
from haptics.process import child_setup, keep_off_loop_cpu
from haptics.session.pressure_inset import draw_pressure_inset
from haptics.wire.control import CAMERA_COMMANDS, ControlServer
from haptics.wire.messages import TELEMETRY, Layout
from haptics.wire.transport import drain_subscriptions, publisher, subscriber, wait_for_subscribers

FRAME = Layout(
    "frame",
    kind=4,
    version=1,
    fields=(
        ("kind", "u1"),
        ("version", "u1"),
        ("seq", "u8"),  # frame number from 1, one per published frame
        ("host_time_ns", "i8"),  # time.monotonic_ns() at capture (pose taken, render started)
        ("source_tick", "u8"),  # telemetry.tick of the pose shown
        ("width", "u2"),
        ("height", "u2"),
    ),
)

FRAME_HWM_S: Final = 10.0  # seconds of frames queued per socket before the oldest are dropped
# steel blue: no tissue colour comes near it (sim.visuals.INSTRUMENT is the same)
_TOOL_RGBA: Final = (0.20, 0.55, 0.95, 1.0)
# light from the front left, fairly low so that a dent casts shading, of a camera looking along +y
LIGHT_DIRECTION: Final = (-1.0, -0.7, 0.8)
_BACKDROP_RGB: Final = (70, 80, 96)
_TEL_TICK: Final = TELEMETRY.names.index("tick")
_TEL_TOOL: Final = TELEMETRY.names.index("tool_x")


class CameraPose(BaseModel):
    """Where the camera looks from (pybullet yaw/pitch about a target), its lens, and whether
    it shows hidden ground truth.

    A field left at None takes the scene's framing (`build_visuals()`), else `DEFAULT_POSE`'s.
    `truth` is recorded in the manifest with the pose: a video that shows an inclusion must
    not be mistaken for what the operator saw.
    """

    target_m: tuple[float, float, float] | None = None
    distance_m: float | None = Field(None, gt=0)
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    fov_deg: float | None = Field(None, gt=0, lt=180)
    near_m: float | None = Field(None, gt=0)
    far_m: float | None = Field(None, gt=0)
    truth: bool = False


DEFAULT_POSE: Final = {
    "target_m": (0.0, 0.0, -0.01),
    "distance_m": 0.16,
    "yaw_deg": 30.0,
    "pitch_deg": -35.0,
    "fov_deg": 50.0,
    "near_m": 0.01,
    "far_m": 1.0,
}


def resolve_pose(pose: CameraPose, framing: dict[str, Any]) -> CameraPose:
    """The pose to render with: the fields the user set, else the scene's `framing`, else
    `DEFAULT_POSE` (pure). Raises SceneError when the scene's framing is not a valid pose."""
    chosen = {k: v for k, v in pose.model_dump().items() if v is not None}
    merged = {**DEFAULT_POSE, **{k: v for k, v in framing.items() if k in DEFAULT_POSE}}
    try:
        return CameraPose(**{**merged, **chosen})
    except ValueError as exc:
        raise SceneError(
            f"the scene's camera framing {framing} is not a valid pose ({exc}); fix the "
            "scene's build_visuals() or set the camera pose explicitly"
        ) from exc


class PressureSource(BaseModel):
    """The tactile stream whose newest frame the camera draws as an inset."""

    endpoint: str
    spec: dict[str, Any]  # its layout (Layout.to_spec): needs a 2-D "pressure_kpa" field
    field: str = "pressure_kpa"


def has_pressure_map(spec: dict[str, Any]) -> bool:
    """Whether a declared stream's layout holds a 2-D "pressure_kpa" map (pure)."""
    try:
        layout = Layout.from_spec(spec)
    except (MessageError, KeyError, TypeError, ValueError):
        return False
    if "pressure_kpa" not in layout.names:
        return False
    return len(layout.dtype["pressure_kpa"].shape) == 2


class CameraConfig(BaseModel):
    endpoints: dict[str, str]  # needs "telemetry", "frames" and "ctl-camera"
    scene: str = "palpation"
    scene_params: dict[str, Any] = Field(default_factory=dict)
    width: int = Field(320, gt=0, le=4096)
    height: int = Field(240, gt=0, le=4096)
    fps: float = Field(30.0, gt=0, le=120)
    pose: CameraPose = Field(default_factory=CameraPose)
    subscribers: int = 1  # frames subscribers (the recorder) to wait for before publishing
    start_timeout_s: float = 20.0
    cpus: set[int] | None = None  # CPUs to stay on (off the loop's CPU)
    nice: int = 0  # raise it to make the camera yield first to other work on a busy machine
    pressure: PressureSource | None = None  # draw this tactile stream's newest map as an inset


def frame_hwm(fps: float) -> int:
    """Messages a frames socket queues before dropping: FRAME_HWM_S seconds of video."""
    return max(8, int(fps * FRAME_HWM_S))


def pack_frame(
    seq: int, host_time_ns: int, tick: int, width: int, height: int, rgb: bytes
) -> bytes:
    """One frames-topic message: header + RGB bytes."""
    return FRAME.pack(seq, host_time_ns, tick, width, height) + rgb


def split_frame(msg: bytes) -> tuple[int, int, int, int, int, memoryview]:
    """(seq, host_time_ns, source_tick, width, height, rgb) of one frames-topic message.

    Raises MessageError when the header or the pixel count does not match.
    """
    if len(msg) < FRAME.size:
        raise MessageError(f"frame message of {len(msg)} bytes is shorter than its header")
    h = FRAME.unpack(msg[: FRAME.size])
    seq, t, tick, width, height = (int(v) for v in h[2:7])
    rgb = memoryview(msg)[FRAME.size :]
    if len(rgb) != width * height * 3:
        raise MessageError(
            f"frame {seq}: {len(rgb)} pixel bytes for {width}×{height} RGB "
            f"(expected {width * height * 3})"
        )
    return seq, t, tick, width, height, rgb


def scene_client(scene: Any) -> int:
    """The pybullet client id of a built scene (`scene.world.client`).

    Raises SceneError naming what the scene must provide.
    """
    client = getattr(getattr(scene, "world", None), "client", None)
    if not isinstance(client, int):
        raise SceneError(
            f"scene '{getattr(scene, 'name', scene)}' has no `world.client` (its pybullet client "
            "id) after build(); the camera needs it to render. Give the scene a `world` "
            "attribute like sim.world.World, or run without --camera."
        )
    return client


def backdrop_gradient(width: int, height: int) -> np.ndarray[Any, Any]:
    """A dark slate gradient, lighter at the top, height × width × 3 uint8 (pure)."""
    shade = np.linspace(1.0, 0.55, height)[:, None, None] * np.asarray(_BACKDROP_RGB)
    return np.broadcast_to(shade, (height, width, 3)).astype(np.uint8)


def backdrop(img: np.ndarray[Any, Any], back: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`img` (RGB uint8) with TinyRenderer's white background replaced by `back` (pure).

    Only pure white (255, 255, 255) is background: lit tissue never reaches it in all three
    channels (its colours have no channel above 0.98 and the grain texture tops at 253).
    """
    empty = (img == 255).all(axis=2)
    return np.where(empty[:, :, None], back, img)


class Renderer:
    """TinyRenderer on one pybullet client, with a fixed view; returns RGB bytes."""

    def __init__(self, client: int, width: int, height: int, pose: CameraPose) -> None:
        """`pose` fields left at None take `DEFAULT_POSE`'s values."""
        import pybullet

        pose = resolve_pose(pose, {})
        assert pose.target_m is not None and pose.distance_m is not None  # resolved
        self.p, self.client, self.width, self.height = pybullet, client, width, height
        self.view = pybullet.computeViewMatrixFromYawPitchRoll(
            pose.target_m, pose.distance_m, pose.yaw_deg, pose.pitch_deg, 0.0, 2
        )
        self.proj = pybullet.computeProjectionMatrixFOV(
            pose.fov_deg, width / height, pose.near_m, pose.far_m
        )
        self._backdrop = backdrop_gradient(width, height)

    def tint(self, body: int, rgba: tuple[float, float, float, float]) -> None:
        """Colour a body's visual shape (best effort: bodies without one stay as they are)."""
        with contextlib.suppress(self.p.error):
            self.p.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=self.client)

    def render(self) -> bytes:
        """One frame: height × width × 3 RGB bytes. Raises SceneError if pybullet fails."""
        return self.render_array().tobytes()

    def render_array(self) -> np.ndarray[Any, Any]:
        """One frame as a new height × width × 3 uint8 array (writable: an inset may be drawn
        into it). Raises SceneError if pybullet fails."""
        p = self.p
        try:
            w, h, rgba, _, _ = p.getCameraImage(
                self.width,
                self.height,
                self.view,
                self.proj,
                renderer=p.ER_TINY_RENDERER,
                flags=p.ER_NO_SEGMENTATION_MASK,
                lightDirection=LIGHT_DIRECTION,
                lightColor=(1.0, 1.0, 1.0),
                lightAmbientCoeff=0.45,
                lightDiffuseCoeff=0.7,
                lightSpecularCoeff=0.08,
                shadow=0,
                physicsClientId=self.client,
            )
        except p.error as exc:
            raise SceneError(f"camera: pybullet could not render ({exc})") from exc
        img = np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[:, :, :3]
        return backdrop(img, self._backdrop)


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_camera_process(cfg: CameraConfig) -> None:
    """Entry point of the camera process (multiprocessing target).

    Raises SceneError when the scene cannot be built or filmed, HapticsError when the
    recorder never subscribes to the frames topic.
    """
    stop = child_setup("haptics-camera")
    keep_off_loop_cpu(cfg.cpus)
    with contextlib.suppress(OSError):
        os.nice(cfg.nice)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctl = ControlServer(ctx, cfg.endpoints["ctl-camera"], CAMERA_COMMANDS)
    # subscribed first: the sensor waits for this subscription before it streams
    inset = PressureInset(ctx, cfg.pressure) if cfg.pressure is not None else None
    scene = load_scene(cfg.scene)(cfg.scene_params)
    scene.build()
    telemetry = subscriber(ctx, cfg.endpoints["telemetry"], conflate=True)
    frames = publisher(ctx, cfg.endpoints["frames"], hwm=frame_hwm(cfg.fps))
    stats: dict[str, Any] = {"published": 0, "skipped": 0, "bad_telemetry": 0, "streaming": False}
    if inset is not None:
        stats["pressure_inset"] = inset.counts
    try:
        client = scene_client(scene)
        framing: dict[str, Any] = {}
        build_visuals = getattr(scene, "build_visuals", None)
        if callable(build_visuals):
            framing = dict(build_visuals(cfg.pose.truth) or {})
        pose = resolve_pose(cfg.pose, framing)
        stats["pose"] = pose.model_dump()  # what the frames show, for the manifest
        renderer = Renderer(client, cfg.width, cfg.height, pose)
        tool_body = getattr(scene, "tool", None)
        if isinstance(tool_body, int):
            renderer.tint(tool_body, _TOOL_RGBA)

        def between() -> bool:  # answer control while the recorder subscribes
            req = ctl.poll(5)
            return stop.set or (req is not None and _answer(req, ctl, stats))

        if wait_for_subscribers(frames, cfg.subscribers, cfg.start_timeout_s, between) is None:
            return
        stats["streaming"] = True
        _film(cfg, scene, renderer, telemetry, frames, ctl, stop, stats, inset)
    finally:
        scene.close()
        telemetry.close(0)
        if inset is not None:
            inset.close()
        frames.close(linger=1000)
        ctl.close()
        ctx.term()


def _film(
    cfg: CameraConfig,
    scene: Any,
    renderer: Renderer,
    telemetry: zmq.Socket[bytes],
    frames: zmq.Socket[bytes],
    ctl: ControlServer,
    stop: Any,
    stats: dict[str, Any],
    inset: PressureInset | None = None,
) -> None:
    period = round(1e9 / cfg.fps)
    dt = period / 1e9
    unpack = TELEMETRY.unpack
    update = getattr(scene, "update_visuals", None)
    update = update if callable(update) else None
    render_ns: list[int] = []
    tick: int | None = None
    tool = (0.0, 0.0, 0.0)
    seq = 0
    cpu0, wall0 = _cpu_s(), time.monotonic()
    stats["render_ms"] = {}
    deadline = time.monotonic_ns() + period
    while not stop.set:
        # wait for the slot, answering control meanwhile
        while True:
            left = deadline - time.monotonic_ns()
            if left <= 0:
                break
            req = ctl.poll(max(0, left // 1_000_000 - 1)) if left > 2_000_000 else None
            if req is not None:
                _fill(stats, render_ns, cpu0, wall0)
                if _answer(req, ctl, stats):
                    return
            elif left <= 2_000_000:
                time.sleep(left / 1e9)
        raw = None
        while int(telemetry.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            raw = telemetry.recv(zmq.NOBLOCK)
        if raw is not None:
            try:
                t = unpack(raw)
                tick = int(t[_TEL_TICK])
                tool = (float(t[_TEL_TOOL]), float(t[_TEL_TOOL + 1]), float(t[_TEL_TOOL + 2]))
            except MessageError:
                stats["bad_telemetry"] += 1  # keep the previous pose; counted in stats
        if tick is not None:
            t0 = time.monotonic_ns()
            scene.step(tool, (0.0, 0.0, 0.0), dt)
            if update is not None:
                update()
            if inset is None:
                rgb = renderer.render()
            else:
                img = renderer.render_array()
                inset.draw(img)
                rgb = img.tobytes()
            seq += 1
            frames.send(pack_frame(seq, t0, tick, cfg.width, cfg.height, rgb))
            stats["published"] = seq
            render_ns.append(time.monotonic_ns() - t0)
            if len(render_ns) > 100_000:
                del render_ns[:50_000]
            if seq & 31 == 0:
                drain_subscriptions(frames)
        deadline, missed = next_deadline(deadline, period, time.monotonic_ns())
        if tick is not None:
            stats["skipped"] += missed
    _fill(stats, render_ns, cpu0, wall0)


class PressureInset:
    """The newest frame of a tactile stream, drawn into camera frames (conflated socket)."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], source: PressureSource) -> None:
        """Raises MessageError when the stream's layout has no 2-D `source.field`."""
        self.layout = Layout.from_spec(source.spec)
        if source.field not in self.layout.names or len(self.layout.dtype[source.field].shape) != 2:
            raise MessageError(
                f"stream layout '{self.layout.name}' has no 2-D '{source.field}' to draw; run "
                "without the pressure inset (--no-pressure-inset)"
            )
        self.field = source.field
        self.sock = subscriber(ctx, source.endpoint, conflate=True)
        self.newest: np.ndarray[Any, Any] | None = None
        self.counts = {"drawn": 0, "bad_pressure": 0}

    def take(self) -> None:
        """Keep the newest well-formed frame that came since the last call."""
        try:
            raw = self.sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return
        lay = self.layout
        if len(raw) != lay.size or raw[0] != lay.kind or raw[1] != lay.version:
            self.counts["bad_pressure"] += 1
            return
        self.newest = np.frombuffer(raw, lay.dtype)[0][self.field]

    def draw(self, img: np.ndarray[Any, Any]) -> None:
        """Draw the newest map into `img` (nothing before the first frame arrives)."""
        self.take()
        if self.newest is not None:
            draw_pressure_inset(img, self.newest)
            self.counts["drawn"] += 1

    def close(self) -> None:
        self.sock.close(0)


def _fill(stats: dict[str, Any], render_ns: list[int], cpu0: float, wall0: float) -> None:
    if render_ns:
        p50, p99 = np.percentile(np.asarray(render_ns, dtype=np.float64), [50, 99]) / 1e6
        stats["render_ms"] = {
            "p50": round(float(p50), 2),
            "p99": round(float(p99), 2),
            "max": round(max(render_ns) / 1e6, 2),
        }
    wall = time.monotonic() - wall0
    stats["cpu_share"] = round((_cpu_s() - cpu0) / wall, 4) if wall > 0 else 0.0


def _answer(req: dict[str, Any], ctl: ControlServer, stats: dict[str, Any]) -> bool:
    """Answer one control request; True means stop."""
    cmd = req["cmd"]
    if cmd == "ping":
        ctl.reply({"ok": True, "streaming": stats["streaming"]})
    elif cmd == "stats":
        ctl.reply({"ok": True, **stats})
    elif cmd == "stop":
        ctl.reply({"ok": True, **stats})
        return True
    else:
        ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})
    return False
