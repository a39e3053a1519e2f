"""Starting and stopping a session's processes in the safe order.

Start: recorder (if recording) → device → loop → camera (optional); each answers a ping
before the next starts, and publishers wait for their subscribers, so the recorder sees the
first sample (the recorder subscribes to the camera's frames from the start; the camera's
publisher waits for it; the loop never waits for the camera). Then the device is armed.
Stop: disarm the device (force zero at the device first), stop the loop (its last command
is zero force), stop the device, stop the camera, then the recorder, which drains every
queue before it closes. Anything that does not exit in time is terminated, then killed.

While running, `check()` also asks the recorder how it is doing (once a second): a recording
stopped by a full disk becomes a warning that says what is on disk, and the force path runs
on until the session ends.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import shutil
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

import zmq
from pydantic import BaseModel, Field

from haptics.devices.process import DeviceProcessConfig, run_device_process
from haptics.devices.registry import load_driver, split_device_spec
from haptics.errors import HapticsError, RunError
from haptics.loop.process import LoopConfig, run_loop_process
from haptics.loop.safety import SafetyPolicy
from haptics.loop.scene import load_scene
from haptics.loop.teleop import Mapping
from haptics.process import cpu_plan, keep_off_loop_cpu
from haptics.session.camera import CameraConfig, CameraPose, run_camera_process
from haptics.session.manifest import Manifest
from haptics.session.recorder import RecorderConfig, VideoSettings, run_recorder_process
from haptics.wire import control
from haptics.wire.transport import ipc_endpoints, subscriber, tcp_endpoints


class SessionConfig(BaseModel):
    device: str = "simulated"
    scene: str = "palpation"
    scene_params: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = Field(10.0, description="None: run until stopped")
    record_dir: Path | None = Path("sessions")
    rate_hz: float = 1000.0
    transport: Literal["ipc", "tcp"] = "ipc"
    tcp_host: str = "127.0.0.1"
    tcp_base_port: int = 5750
    operator: str | None = None
    safety: SafetyPolicy = Field(default_factory=SafetyPolicy)
    mapping: Mapping = Field(default_factory=Mapping)
    monitor: bool = True
    realtime: bool = True  # best-effort: loop pinned to its own CPU with SCHED_FIFO
    loop_scheduler: Literal["deadline", "naive"] = "deadline"
    phase_lock: bool = True
    tick_on: Literal["grid", "arrival"] = "grid"
    camera: bool = False  # render the scene in its own process and record it as video
    camera_width: int = Field(320, gt=0, le=4096)
    camera_height: int = Field(240, gt=0, le=4096)
    camera_fps: float = Field(30.0, gt=0, le=120)
    camera_pose: CameraPose = Field(default_factory=CameraPose)


def camera_endpoints(endpoints: dict[str, str]) -> dict[str, str]:
    """The "frames" topic and the camera's control socket, beside a session's endpoints
    (ipc: in the same folder; tcp: on the next two ports after the highest one)."""
    state = endpoints["state"]
    if state.startswith("ipc://"):
        folder = state[len("ipc://") :].rsplit("/", 1)[0]
        return {name: f"ipc://{folder}/{name}" for name in ("frames", "ctl-camera")}
    host = state[len("tcp://") :].rsplit(":", 1)[0]
    top = max(int(e.rsplit(":", 1)[1]) for e in endpoints.values())
    return {"frames": f"tcp://{host}:{top + 1}", "ctl-camera": f"tcp://{host}:{top + 2}"}


def recording_stopped_message(report: dict[str, Any]) -> str | None:
    """What to tell the user when the recorder's report says it stopped writing, else None."""
    error = report.get("error")
    if not error:
        return None
    where = report.get("error_path") or "the session folder"
    readable = float(report.get("readable_s") or 0.0)
    if report.get("disk_full"):
        return (
            f"recording stopped: disk full at {where}; the session up to {readable:.1f} s is "
            "readable; free space and run again"
        )
    return (
        f"recording stopped: cannot write {where} ({error}); the session up to "
        f"{readable:.1f} s is readable; fix the folder (--record DIR) and run again"
    )


def new_session_dir(root: Path, scene: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{scene}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{scene}-{n}"
    return path


class SessionRun:
    """One running session. Use as a context manager: `with SessionRun(cfg) as run: ...`."""

    def __init__(self, cfg: SessionConfig) -> None:
        self.cfg = cfg
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.run_dir = Path(tempfile.mkdtemp(prefix="haptics-"))
        self.endpoints = (
            ipc_endpoints(self.run_dir)
            if cfg.transport == "ipc"
            else tcp_endpoints(cfg.tcp_host, cfg.tcp_base_port)
        )
        self.session_dir = new_session_dir(cfg.record_dir, cfg.scene) if cfg.record_dir else None
        self.filming = cfg.camera and self.session_dir is not None
        if self.filming:
            self.endpoints = {**self.endpoints, **camera_endpoints(self.endpoints)}
        self.procs: dict[str, BaseProcess] = {}
        self.monitor: zmq.Socket[bytes] | None = None
        self.warnings: list[str] = []
        self.started_ns = 0
        self.result: dict[str, Any] = {}
        self.recorder_error: str | None = None
        self._warned: set[str] = set()  # processes whose death was already reported
        self._next_recorder_check = 0.0
        self._next_device_check = 0.0
        self._device_silent = False
        if cfg.camera and not self.filming:
            self.warnings.append("--camera records into the session: without recording it is off")

    # -- start -------------------------------------------------------------------------
    def __enter__(self) -> SessionRun:
        try:
            self.start()
        except BaseException:
            self.stop("failed to start")
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop("interrupted" if exc[0] is KeyboardInterrupt else "finished")

    def start(self) -> None:
        """Start every process and arm the device. Raises HapticsError naming what failed."""
        cfg = self.cfg
        name, argument = split_device_spec(cfg.device)
        schema = load_driver(name).schema(argument)
        safety = cfg.safety.model_copy(
            update={"max_force_n": min(cfg.safety.max_force_n, schema.max_force_n)}
        )
        spawn = mp.get_context("spawn")
        loop_cpu, other_cpus = cpu_plan() if cfg.realtime else (None, None)
        recording = self.session_dir is not None
        if recording:
            assert self.session_dir is not None
            manifest = Manifest(
                operator=cfg.operator or Manifest().operator,
                loop={
                    "rate_hz": cfg.rate_hz,
                    "safety": safety.model_dump(),
                    "mapping": cfg.mapping.model_dump(),
                },
                clock={
                    "host_clock": "CLOCK_MONOTONIC (time.monotonic_ns)",
                    "monotonic_ns_at_start": time.monotonic_ns(),
                    "utc_at_start": dt.datetime.now(dt.UTC).isoformat(),
                },
                device={"spec": cfg.device, "schema": schema.model_dump()},
            )
            rc = RecorderConfig(
                endpoints=self.endpoints,
                session_dir=self.session_dir,
                manifest=manifest,
                cpus=other_cpus,
                video=(
                    VideoSettings(
                        width=cfg.camera_width,
                        height=cfg.camera_height,
                        fps=cfg.camera_fps,
                        camera=cfg.camera_pose.model_dump(),
                    )
                    if self.filming
                    else None
                ),
            )
            self._spawn(spawn, "recorder", run_recorder_process, rc)
        script = load_scene(cfg.scene)(cfg.scene_params).operator_script()
        dc = DeviceProcessConfig(
            device=cfg.device,
            endpoints=self.endpoints,
            subscribers=1 + recording,
            watchdog_ms=cfg.safety.driver_watchdog_ms,
            session_duration_s=cfg.duration_s,
            operator_script=script,
            cpus=other_cpus,
            realtime_priority=70 if cfg.realtime else None,
        )
        self._spawn(spawn, "device", run_device_process, dc)
        if cfg.monitor:
            self.monitor = subscriber(self.ctx, self.endpoints["telemetry"], deep=True)
        lc = LoopConfig(
            endpoints=self.endpoints,
            scene=cfg.scene,
            scene_params=cfg.scene_params,
            rate_hz=cfg.rate_hz,
            safety=safety,
            mapping=cfg.mapping,
            command_subscribers=1 + recording,
            telemetry_subscribers=recording + cfg.monitor,
            cpu=loop_cpu,
            io_cpus=other_cpus,
            scheduler=cfg.loop_scheduler,
            phase_lock=cfg.phase_lock,
            tick_on=cfg.tick_on,
            realtime_priority=80 if cfg.realtime else None,
        )
        self._spawn(spawn, "loop", run_loop_process, lc)
        if self.filming:
            cc = CameraConfig(
                endpoints=self.endpoints,
                scene=cfg.scene,
                scene_params=cfg.scene_params,
                width=cfg.camera_width,
                height=cfg.camera_height,
                fps=cfg.camera_fps,
                pose=cfg.camera_pose,
                cpus=other_cpus,
            )
            self._spawn(spawn, "camera", run_camera_process, cc)
        keep_off_loop_cpu(other_cpus)  # this process (the CLI) too, once its children exist
        self._wait_until(lambda: bool(self._ask("loop", "ping").get("ready")), "loop", 30.0)
        self._wait_until(lambda: bool(self._ask("device", "ping").get("streaming")), "device", 30.0)
        if self.filming:
            self._wait_until(
                lambda: bool(self._ask("camera", "ping").get("streaming")), "camera", 30.0
            )
        device = self._ask("device", "info")
        scene = self._ask("loop", "info")
        if recording:
            self._ask(
                "recorder",
                "annotate",
                device=device.get("info", {}),
                scene=scene.get("scene", {}),
                provenance=device.get("info", {}).get("provenance", "unknown"),
            )
        armed = self._ask("device", "arm")
        if not armed.get("ok"):
            raise HapticsError(f"device refused to arm: {armed.get('error')}")
        self.started_ns = time.monotonic_ns()

    def _spawn(self, spawn: Any, name: str, target: Any, cfg: BaseModel) -> None:
        proc = spawn.Process(target=target, args=(cfg,), name=f"haptics-{name}", daemon=False)
        proc.start()
        self.procs[name] = proc
        self._wait_until(lambda: bool(self._ask(name, "ping", timeout_s=0.5).get("ok")), name, 30.0)

    def _ask(self, name: str, cmd: str, timeout_s: float = 2.0, **args: Any) -> dict[str, Any]:
        proc = self.procs.get(name)
        if proc is None:
            return {"ok": False, "error": f"no {name} process"}
        if not proc.is_alive():
            return {"ok": False, "error": f"{name} process has exited (code {proc.exitcode})"}
        try:
            return control.request(self.ctx, self.endpoints[f"ctl-{name}"], cmd, timeout_s, **args)
        except HapticsError as exc:
            return {"ok": False, "error": str(exc)}

    def _wait_until(self, ready: Any, name: str, timeout_s: float) -> None:
        give_up = time.monotonic() + timeout_s
        while not ready():
            proc = self.procs.get(name)
            if proc is not None and not proc.is_alive():
                raise HapticsError(
                    f"the {name} process exited during start-up (code {proc.exitcode}); "
                    "its error is printed above"
                )
            if time.monotonic() > give_up:
                raise HapticsError(
                    f"the {name} process did not become ready within {timeout_s:.0f} s"
                )
            time.sleep(0.05)

    # -- while running -----------------------------------------------------------------
    def elapsed_s(self) -> float:
        return (time.monotonic_ns() - self.started_ns) / 1e9 if self.started_ns else 0.0

    def watch(
        self, poll_s: float = 0.1, on_poll: Callable[[SessionRun], None] | None = None
    ) -> str:
        """Wait until the configured duration is over (forever without one), checking the
        processes every `poll_s` seconds and calling `on_poll(self)` before each check.

        Returns "finished", or why the session must stop now (see `check`). Ctrl-C raises
        KeyboardInterrupt to the caller, which then calls `stop`.
        """
        duration = self.cfg.duration_s
        while True:
            time.sleep(poll_s)
            if on_poll is not None:
                on_poll(self)
            problem = self.check()
            if problem:
                return problem
            if duration and self.elapsed_s() >= duration:
                return "finished"

    def run_to_end(self, poll_s: float = 0.1) -> dict[str, Any]:
        """`watch` until the duration is over, then `stop`; the stop's result.

        Raises RunError when a process died before the end.
        """
        reason = self.watch(poll_s)
        result = self.stop(reason)
        if reason != "finished":
            raise RunError(f"the session stopped early: {reason}")
        return result

    def check(self) -> str | None:
        """Why the session must stop now (device or loop died), or None. Warns once if the
        recorder died or stopped writing (disk full), or the camera died: force keeps
        flowing, and what was flushed stays readable."""
        for name in ("device", "loop"):
            proc = self.procs.get(name)
            if proc is not None and not proc.is_alive():
                return f"the {name} process died (exit code {proc.exitcode})"
        cam = self.procs.get("camera")
        if cam is not None and not cam.is_alive() and "camera" not in self._warned:
            self._warned.add("camera")
            self.warnings.append(
                f"the camera died (exit code {cam.exitcode}); the video holds the frames up to "
                "then and the force path is unaffected"
            )
        if time.monotonic() >= self._next_device_check:
            self._next_device_check = time.monotonic() + 0.5
            self._note_device(self._ask("device", "stats", timeout_s=0.5))
        if self.recorder_error is None and time.monotonic() >= self._next_recorder_check:
            self._next_recorder_check = time.monotonic() + 1.0
            rec_proc = self.procs.get("recorder")
            if rec_proc is not None and rec_proc.is_alive():
                self._note_recorder(self._ask("recorder", "stats", timeout_s=0.5))
        rec = self.procs.get("recorder")
        if (
            rec is not None
            and not rec.is_alive()
            and rec.exitcode != 0
            and "recorder" not in self._warned
        ):
            self._warned.add("recorder")
            self.warnings.append(
                f"the recorder died (exit code {rec.exitcode}); the session on disk "
                "holds what was flushed before; `haptics sessions show` reads it"
            )
        return None

    def _note_device(self, report: dict[str, Any]) -> None:
        """Warn when the device goes silent (and when it is back): force is already zero by
        then (the loop's input watchdog), and the driver keeps trying to reconnect."""
        if not report.get("ok"):
            return
        silent = bool(report.get("silent"))
        if silent and not self._device_silent:
            self.warnings.append(
                f"the device sent nothing for {report.get('silent_ms', 0):.0f} ms (unplugged, "
                "reset, or the emulator stopped?): force is zero; the session goes on and "
                "resumes when samples return"
            )
        elif not silent and self._device_silent:
            self.warnings.append("the device is sending again")
        self._device_silent = silent

    def _note_recorder(self, report: dict[str, Any]) -> None:
        """Turn a recorder report that says it stopped writing into a warning (once)."""
        message = recording_stopped_message(report) if report.get("ok") else None
        if message and self.recorder_error is None:
            self.recorder_error = message
            self.warnings.append(message)

    # -- stop --------------------------------------------------------------------------
    def stop(self, reason: str) -> dict[str, Any]:
        """Zero force, stop every process in order, never leave one behind."""
        if self.result:
            return self.result
        self.check()  # a process that died just before the end is still reported
        device_stats = self._ask("device", "disarm")
        loop_stats = self._ask("loop", "stop", timeout_s=3.0)
        device_stats = self._ask("device", "stop", timeout_s=3.0)
        published: dict[str, int] = {}
        if device_stats.get("ok"):
            published["state"] = int(device_stats.get("published", 0))
        if loop_stats.get("ok"):
            published["command"] = published["telemetry"] = int(loop_stats.get("ticks", 0))
        camera_stats: dict[str, Any] = {}
        if "camera" in self.procs:
            camera_stats = self._ask("camera", "stop", timeout_s=3.0)
            if camera_stats.get("ok"):
                published["frames"] = int(camera_stats.get("published", 0))
        recorder = {}
        if "recorder" in self.procs:
            recorder = self._ask(
                "recorder", "stop", timeout_s=30.0, published=published, reason=reason
            )
            self._note_recorder(recorder)
        for name in ("loop", "device", "camera", "recorder"):
            proc = self.procs.get(name)
            if proc is None:
                continue
            proc.join(5.0)
            if proc.is_alive():
                self.warnings.append(f"{name} did not exit; terminated")
                proc.terminate()
                proc.join(3.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        if self.monitor is not None:
            self.monitor.close(0)
        self.ctx.term()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.result = {
            "reason": reason,
            "session": str(self.session_dir) if self.session_dir else None,
            "published": published,
            "recorder": recorder,
            "loop": loop_stats,
            "device": device_stats,
            "camera": camera_stats,
            "recorder_error": self.recorder_error,
            "warnings": self.warnings,
        }
        return self.result
