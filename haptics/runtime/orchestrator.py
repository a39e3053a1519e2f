"""Starting and stopping a session's processes in the safe order.

Pre-flight (`preflight`, before any process starts): the driver and scene names, the scene
parameters and the recording folder are checked; a bad one is a HapticsError saying what to
do, and nothing is started or written.

Start: device → recorder (if recording) → loop → camera (optional); each answers a ping
before the next starts, and publishers wait for their subscribers, so the recorder sees the
first sample (the device opens first and streams only once the loop and the recorder
subscribed, so a device that cannot open leaves no session folder behind; the recorder
subscribes to the camera's frames from the start; the camera's publisher waits for it; the
loop never waits for the camera). Then the device is armed. A child that fails with a
HapticsError exits with code 2 after writing its message beside the session's sockets, and
that message is what the caller sees, not a traceback. A session whose start failed after
the recorder started is finalised by the recorder and then marked "failed" in its manifest.
Stop: disarm the device (force zero at the device first), stop the loop (its last command
is zero force), stop the device, stop the camera, then the recorder, which drains every
queue before it closes. Anything that does not exit in time is terminated, then killed. A
disarm that fails, and a recorder that died or did not finalise the session, are reported in
the result (`problems`), so the CLI can exit non-zero.

While running, `check()` also asks the recorder how it is doing (once a second): a recording
stopped by a full disk becomes a warning that says what is on disk, and the force path runs
on until the session ends.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Literal

import zmq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from haptics.devices.process import DeviceProcessConfig, run_device_process
from haptics.devices.registry import load_driver, split_device_spec
from haptics.devices.sensor_process import SensorProcessConfig, run_sensor_process
from haptics.errors import ConfigError, HapticsError, RunError, SessionError
from haptics.loop.process import LoopConfig, run_loop_process
from haptics.loop.safety import SafetyPolicy
from haptics.loop.scene import load_scene
from haptics.loop.teleop import Mapping
from haptics.process import cpu_plan, keep_off_loop_cpu
from haptics.session.camera import (
    CameraConfig,
    CameraPose,
    PressureSource,
    has_pressure_map,
    run_camera_process,
)
from haptics.session.manifest import Manifest, read_manifest, write_manifest
from haptics.session.recorder import (
    DeclaredStream,
    RecorderConfig,
    VideoSettings,
    run_recorder_process,
)
from haptics.wire import control
from haptics.wire.transport import ipc_endpoints, subscriber, tcp_endpoints

# Bounds on what a session may be asked for (finite, positive, and sane).
MAX_DURATION_S = 7 * 24 * 3600.0  # a week: longer is a typo, not a session
MIN_RATE_HZ = 50.0  # slower, and the 1 kHz devices' samples pile up unanswered
MAX_RATE_HZ = 10_000.0  # faster than any device here streams, and than a tick can compute


class SessionConfig(BaseModel):
    """What a session runs. Every number is finite and in range (pydantic
    ValidationError otherwise: a CLI turns it into a ConfigError naming the option)."""

    model_config = ConfigDict(allow_inf_nan=False)

    device: str = "simulated"
    scene: str = "palpation"
    scene_params: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = Field(
        10.0, gt=0, le=MAX_DURATION_S, description="None: run until stopped"
    )
    record_dir: Path | None = Path("sessions")
    rate_hz: float = Field(1000.0, ge=MIN_RATE_HZ, le=MAX_RATE_HZ)
    transport: Literal["ipc", "tcp"] = "ipc"
    tcp_host: str = "127.0.0.1"
    tcp_base_port: int = Field(5750, ge=1024, le=65_000)
    operator: str | None = None
    safety: SafetyPolicy = Field(default_factory=SafetyPolicy)
    mapping: Mapping = Field(default_factory=Mapping)
    monitor: bool = True
    realtime: bool = True  # best-effort: loop pinned to its own CPU with SCHED_FIFO
    loop_scheduler: Literal["deadline", "naive"] = "deadline"
    phase_lock: bool = True
    tick_on: Literal["grid", "arrival"] = "grid"
    camera: bool = False  # render the scene in its own process and record it as video
    sensors: list[str] = Field(
        default_factory=list,
        description="sense-only devices (driver[:argument], e.g. tactile-sim), each in its own "
        "process, their declared streams recorded beside the stylus'",
    )
    camera_width: int = Field(320, gt=0, le=4096)
    camera_height: int = Field(240, gt=0, le=4096)
    camera_fps: float = Field(30.0, gt=0, le=120)
    camera_pose: CameraPose = Field(default_factory=CameraPose)
    camera_pressure_inset: bool = Field(
        True,
        description="with the camera and a tactile stream: draw the newest pressure map as an "
        "inset in each video frame",
    )

    @model_validator(mode="after")
    def _ticks_beat_the_watchdog(self) -> SessionConfig:
        period_ms = 1e3 / self.rate_hz
        if period_ms >= self.safety.driver_watchdog_ms:
            raise ValueError(
                f"a {self.rate_hz:g} Hz loop commands every {period_ms:.1f} ms, but the driver "
                f"watchdog zeroes force after {self.safety.driver_watchdog_ms:g} ms without a "
                "command; raise the rate or the watchdog"
            )
        return self


def sensor_counts(report: dict[str, Any], stream: str) -> dict[str, Any]:
    """What a sense-only device's process counted for one of its streams, from its "stop"
    reply, in the manifest's `SourceCounts` shape: refused (wrong size/kind/version),
    not_finite, errors, and the driver's own integer counters (CRC errors, skipped frames)."""
    own = report.get("streams", {}).get(stream, {})
    driver = {
        str(k): int(v)
        for k, v in (report.get("device") or {}).items()
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }
    return {
        "refused": max(0, int(own.get("bad", 0))),
        "not_finite": max(0, int(own.get("not_finite", 0))),
        "errors": max(0, int(report.get("errors", 0))),
        "driver": driver,
    }


# -- pre-flight: names, parameters and paths, before any process starts -------------------------
def _non_finite(value: Any, where: str) -> str | None:
    """The path of the first non-finite float inside `value` (dicts, lists, tuples), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def check_scene(scene: str, params: dict[str, Any]) -> None:
    """Check that `scene` is installed and accepts `params` (every number finite).

    Raises SceneError (unknown scene, listing the installed ones) or ConfigError (naming the
    bad parameter and why).
    """
    factory = load_scene(scene)
    bad = _non_finite(params, "")
    if bad:
        raise ConfigError(
            f"scene {scene}: parameter {bad} is not a finite number; give a finite value"
        )
    try:
        factory(params).operator_script()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '(parameters)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(
            f"scene {scene}: invalid parameters: {problems}; fix them (`haptics scenes list`, "
            "sim/scenes/examples/ for valid files)"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"scene {scene}: invalid parameters: {exc}; fix them") from exc


def check_record_dir(root: Path) -> None:
    """Check that sessions can be written under `root`: creates `root` if missing, and
    creates and removes a probe folder and file in it.

    Raises ConfigError saying why not (a file, read-only, a pseudo-filesystem such as /proc)
    and what to do.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(
            f"--record {root} is a file, not a folder; give a folder for the sessions"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=".haptics-probe-", dir=root))
        try:
            with open(probe / "probe", "wb") as f:
                f.write(b"haptics")
                f.flush()
                os.fsync(f.fileno())
        finally:
            shutil.rmtree(probe, ignore_errors=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot record under {root}: {exc.strerror or exc}; give a folder you may write "
            "(--record DIR), or --no-record"
        ) from exc


def preflight(cfg: SessionConfig) -> None:
    """Check everything that can be checked before a process starts: the driver (installed),
    the scene (installed, parameters valid and finite) and the recording folder (writable).

    Raises DeviceNotFound, SceneError or ConfigError, each saying what to do.
    """
    name, argument = split_device_spec(cfg.device)
    load_driver(name).schema(argument)
    check_scene(cfg.scene, cfg.scene_params)
    if cfg.record_dir is not None:
        check_record_dir(cfg.record_dir)


# -- children: a HapticsError is a message, not a traceback --------------------------------------
CHILD_ERROR_EXIT = 2  # a child that stopped on a HapticsError exits with this code


def child_error_path(run_dir: Path, name: str) -> Path:
    """Where the child `name` writes the message of the HapticsError it stopped on."""
    return run_dir / f"error-{name}.txt"


def run_child(target: Callable[[Any], None], cfg: BaseModel, error_path: Path) -> None:
    """A session child's entry point: run `target(cfg)`; on a HapticsError, or an error of
    the machine around it (a ZeroMQ address in use, an OSError), write its message to
    `error_path` and exit with CHILD_ERROR_EXIT (no traceback: the parent shows the
    message). Any other exception is a bug: its message is written too and it propagates
    with its traceback."""
    try:
        target(cfg)
    except HapticsError as exc:
        _write_child_error(error_path, str(exc))
        sys.exit(CHILD_ERROR_EXIT)
    except (zmq.ZMQError, OSError) as exc:
        _write_child_error(
            error_path,
            f"{exc} ({type(exc).__name__}); is another session using the same sockets or ports?",
        )
        sys.exit(CHILD_ERROR_EXIT)
    except Exception as exc:
        _write_child_error(error_path, f"{type(exc).__name__}: {exc} (a bug: please report it)")
        raise


def _write_child_error(path: Path, message: str) -> None:
    try:
        path.write_text(message, encoding="utf-8")
    except OSError:
        print(f"error: {message}", file=sys.stderr)  # the run folder is gone: say it here


def mark_failed(session_dir: Path, reason: str) -> bool:
    """Mark a session whose start failed as "failed" in its manifest (the recorder finalised
    it, so its files and hashes are consistent). True when marked; False when there is no
    readable manifest to mark."""
    try:
        m = read_manifest(session_dir)
        m.status = "failed"
        m.stop_reason = reason
        m.notes.append(f"the session failed to start: {reason}")
        write_manifest(session_dir, m)
    except (SessionError, OSError):
        return False
    return True


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
        # sense-only devices: process name → (spec, its stream → endpoint, session stream
        # name → its stream), planned at start
        self.sensors: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {}
        self.monitor: zmq.Socket[bytes] | None = None
        self.warnings: list[str] = []
        self.started_ns = 0
        self.result: dict[str, Any] = {}
        self.recorder_error: str | None = None
        self._warned: set[str] = set()  # processes whose death was already reported
        self._next_recorder_check = 0.0
        self._next_device_check = 0.0
        self._device_silent = False
        self.start_error: str | None = None  # why start() failed, once it did
        self.armed = False  # the device accepted "arm"
        self.caller_cpus: set[int] | None = None  # this process's CPUs before the session
        self.disarmed = True  # and, at stop, confirmed "disarm"
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
        """Check (`preflight`), start every process and arm the device.

        Raises HapticsError naming what failed; `start_error` keeps its message, and `stop`
        then marks a session folder the recorder had already created as failed.
        """
        try:
            self._start()
        except HapticsError as exc:
            self.start_error = str(exc)
            raise

    def _start(self) -> None:
        cfg = self.cfg
        preflight(cfg)
        name, argument = split_device_spec(cfg.device)
        schema = load_driver(name).schema(argument)
        safety = cfg.safety.model_copy(
            update={"max_force_n": min(cfg.safety.max_force_n, schema.max_force_n)}
        )
        spawn = mp.get_context("spawn")
        loop_cpu, other_cpus = cpu_plan() if cfg.realtime else (None, None)
        recording = self.session_dir is not None
        declared = self._plan_sensors()
        inset = self._pressure_inset(declared)
        planned_scene = load_scene(cfg.scene)(cfg.scene_params)
        script = planned_scene.operator_script()
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
        # the device first: one that cannot open stops the start before a session folder exists
        self._spawn(spawn, "device", run_device_process, dc)
        for proc_name, (spec, streams, names) in self.sensors.items():  # sense-only devices next
            sc = SensorProcessConfig(
                device=spec,
                control=self.endpoints[f"ctl-{proc_name}"],
                streams=streams,
                inputs={"telemetry": self.endpoints["telemetry"]},
                scene=planned_scene.describe(),
                subscribers=int(recording),
                # the camera's inset subscribes to one stream too (it starts last: wait longer)
                stream_subscribers={
                    own: int(recording) + 1
                    for session_stream, own in names.items()
                    if inset is not None and session_stream == inset[0]
                },
                start_timeout_s=60.0 if inset is not None else 20.0,
                cpus=other_cpus,
                nice=-10 if cfg.realtime else 0,  # ahead of the recorder and camera
            )
            self._spawn(spawn, proc_name, run_sensor_process, sc)
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
                streams=declared,
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
            self._spawn(spawn, "recorder", run_recorder_process, rc, wait=False)
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
            passivity_max_damping_ns_per_m=schema.max_damping_ns_per_m,  # sized for the device
        )
        self._spawn(spawn, "loop", run_loop_process, lc, wait=False)
        if self.filming:
            cc = CameraConfig(
                endpoints=self.endpoints,
                scene=cfg.scene,
                scene_params=cfg.scene_params,
                width=cfg.camera_width,
                height=cfg.camera_height,
                fps=cfg.camera_fps,
                pose=cfg.camera_pose,
                pressure=inset[1] if inset is not None else None,
                cpus=other_cpus,
            )
            self._spawn(spawn, "camera", run_camera_process, cc, wait=False)
        # recorder, loop and camera import and build side by side (seconds each, one by one)
        for proc_name in ("recorder", "loop", "camera"):
            if proc_name in self.procs:
                self._wait_answering(proc_name)
        if other_cpus:  # this process (the CLI) too, once its children exist; stop() undoes it
            self.caller_cpus = os.sched_getaffinity(0)
            keep_off_loop_cpu(other_cpus)
        self._wait_until(lambda: bool(self._ask("loop", "ping").get("ready")), "loop", 30.0)
        self._wait_until(lambda: bool(self._ask("device", "ping").get("streaming")), "device", 30.0)
        if self.filming:
            # the camera builds its visuals (and imports its renderer) beside the loop: slow
            # on a loaded 2-core machine
            self._wait_until(
                lambda: bool(self._ask("camera", "ping").get("streaming")), "camera", 60.0
            )
        device = self._ask("device", "info")
        scene = self._ask("loop", "info")
        sensors_info: dict[str, Any] = {}
        for proc_name, (spec, _, _) in self.sensors.items():
            # a sensor imports its model while the loop starts: give it more time
            self._wait_until(
                lambda n=proc_name: bool(self._ask(n, "ping").get("streaming")), proc_name, 90.0
            )
            sensors_info[spec] = self._ask(proc_name, "info").get("info", {})
        if recording:
            self._ask(
                "recorder",
                "annotate",
                device={**device.get("info", {}), "sensors": sensors_info},
                scene=scene.get("scene", {}),
                provenance=device.get("info", {}).get("provenance", "unknown"),
            )
        armed = self._ask("device", "arm")
        if not armed.get("ok"):
            raise HapticsError(
                f"the device refused to arm: {armed.get('error')}; check the device (a latched "
                "fault, an e-stop) and run again"
            )
        self.armed = True
        self.started_ns = time.monotonic_ns()

    def _pressure_inset(
        self, declared: dict[str, DeclaredStream]
    ) -> tuple[str, PressureSource] | None:
        """The session stream (and where it is published) whose pressure maps the camera
        draws as an inset: the first declared stream holding a 2-D pressure_kpa, when filming
        with the inset on; else None."""
        if not (self.filming and self.cfg.camera_pressure_inset):
            return None
        for stream, decl in declared.items():
            if has_pressure_map(decl.spec):
                return stream, PressureSource(endpoint=decl.endpoint, spec=decl.spec)
        return None

    def _plan_sensors(self) -> dict[str, DeclaredStream]:
        """Name the sense-only devices' processes and streams, and where each stream is
        published; the streams to record, by session stream name.

        Raises ConfigError for a sensor that takes force, or sensors over tcp transport.
        """
        declared: dict[str, DeclaredStream] = {}
        if self.cfg.sensors and self.cfg.transport != "ipc":
            raise ConfigError("sense-only devices (--sensor) run on one host: use ipc transport")
        for i, spec in enumerate(self.cfg.sensors):
            name, argument = split_device_spec(spec)
            schema = load_driver(name).schema(argument)
            if schema.takes_force:
                raise ConfigError(
                    f"'{spec}' takes force commands; only one haptic device per session "
                    "(--device): give sense-only devices such as tactile-sim with --sensor"
                )
            proc_name = f"sensor{i + 1}"
            self.endpoints[f"ctl-{proc_name}"] = f"ipc://{self.run_dir / f'ctl-{proc_name}'}"
            streams: dict[str, str] = {}
            names: dict[str, str] = {}
            for decl in schema.streams:
                stream = decl.name if decl.name not in declared else f"{decl.name}{i + 1}"
                endpoint = f"ipc://{self.run_dir / f'{proc_name}-{decl.name}'}"
                streams[decl.name] = endpoint
                names[stream] = decl.name
                declared[stream] = DeclaredStream(
                    endpoint=endpoint, spec=decl.layout, rate_hz=decl.rate_hz, source=spec
                )
            self.sensors[proc_name] = (spec, streams, names)
        return declared

    def _spawn(self, spawn: Any, name: str, target: Any, cfg: BaseModel, wait: bool = True) -> None:
        """Start child `name`; with `wait`, until it answers (`_wait_answering`)."""
        error_path = child_error_path(self.run_dir, name)
        proc = spawn.Process(
            target=run_child, args=(target, cfg, error_path), name=f"haptics-{name}", daemon=False
        )
        proc.start()
        self.procs[name] = proc
        if wait:
            self._wait_answering(name)

    def _wait_answering(self, name: str) -> None:
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
                raise HapticsError(self._death(name, proc, "could not start"))
            if time.monotonic() > give_up:
                raise HapticsError(
                    f"the {name} process did not become ready within {timeout_s:.0f} s"
                )
            time.sleep(0.05)

    def _death(self, name: str, proc: BaseProcess, what: str) -> str:
        """'the NAME process WHAT: <its own message>' when it stopped on a HapticsError (its
        error file), else 'the NAME process WHAT (exit code N)[: <message>]'."""
        proc.join(1.0)  # the error file is written before the child exits
        try:
            message = child_error_path(self.run_dir, name).read_text(encoding="utf-8").strip()
        except OSError:
            message = ""
        if message and proc.exitcode == CHILD_ERROR_EXIT:
            return f"the {name} process {what}: {message}"
        return f"the {name} process {what} (exit code {proc.exitcode})" + (
            f": {message}" if message else ""
        )

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
                return self._death(name, proc, "died")
        for proc_name, (spec, _, _) in self.sensors.items():
            proc = self.procs.get(proc_name)
            if proc is not None and not proc.is_alive() and proc_name not in self._warned:
                self._warned.add(proc_name)
                self.warnings.append(
                    f"the sensor {spec} died (exit code {proc.exitcode}); its streams hold the "
                    "frames up to then and the force path is unaffected"
                )
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
        """Zero force, stop every process in order, never leave one behind.

        The result's `problems` lists what went wrong at the stop itself (a disarm the device
        did not confirm, a recorder that died or did not finalise the session); `session` is
        None when no session folder was written, and `failed` says the start failed (the
        folder, if any, is marked "failed").
        """
        if self.result:
            return self.result
        if self.start_error is not None:
            reason = f"failed to start: {self.start_error}"
        self.check()  # a process that died just before the end is still reported
        problems: list[str] = []
        disarm = self._ask("device", "disarm")
        self.disarmed = not self.armed or bool(disarm.get("ok"))
        if not self.disarmed:
            driver = self.procs.get("device")
            after = (
                f"the driver zeroes force {self.cfg.safety.driver_watchdog_ms:g} ms after the "
                "last command"
                if driver is not None and driver.is_alive()
                else "the driver process is gone: only a real device's own watchdog zeroes force"
            )
            problems.append(
                f"the device did not confirm the disarm at stop ({disarm.get('error')}); "
                f"{after}: check the device is at zero force"
            )
        loop_stats = self._ask("loop", "stop", timeout_s=3.0)
        device_stats = self._ask("device", "stop", timeout_s=3.0)
        published: dict[str, int] = {}
        if device_stats.get("ok"):
            published["state"] = int(device_stats.get("published", 0))
        if loop_stats.get("ok"):
            published["command"] = published["telemetry"] = int(loop_stats.get("ticks", 0))
        sensor_stats: dict[str, Any] = {}
        source_counts: dict[str, dict[str, Any]] = {}  # into the manifest, per stream
        for proc_name, (spec, _, names) in self.sensors.items():
            report = self._ask(proc_name, "stop", timeout_s=3.0)
            sensor_stats[spec] = report
            for stream, own in names.items():
                if report.get("ok"):
                    published[stream] = int(
                        report.get("streams", {}).get(own, {}).get("published", 0)
                    )
                    source_counts[stream] = sensor_counts(report, own)
        camera_stats: dict[str, Any] = {}
        if "camera" in self.procs:
            camera_stats = self._ask("camera", "stop", timeout_s=3.0)
            if camera_stats.get("ok"):
                published["frames"] = int(camera_stats.get("published", 0))
        recorder = {}
        if "recorder" in self.procs:
            recorder = self._ask(
                "recorder",
                "stop",
                timeout_s=30.0,
                published=published,
                source_counts=source_counts,
                reason=reason,
            )
            self._note_recorder(recorder)
            if not recorder.get("ok"):
                unfinished = (
                    f"the recorder did not finalise the session ({recorder.get('error')}); what "
                    "was flushed is on disk: `haptics sessions repair` completes it"
                )
                problems.append(unfinished)
                self.recorder_error = self.recorder_error or unfinished
        for name in ("loop", "device", *self.sensors, "camera", "recorder"):
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
        self.ctx.destroy(linger=0)  # closes what a caller left open too: never hangs
        if self.caller_cpus:  # a library caller (a test, a notebook) gets its CPUs back
            keep_off_loop_cpu(self.caller_cpus)
            self.caller_cpus = None
        shutil.rmtree(self.run_dir, ignore_errors=True)
        session = self.session_dir
        if session is not None and not session.is_dir():
            session = None  # the recorder never created it: there is no session
        if session is not None and self.start_error is not None:
            mark_failed(session, reason)
        self.result = {
            "reason": reason,
            "session": str(session) if session else None,
            "failed": self.start_error is not None,
            "disarmed": self.disarmed,
            "problems": problems,
            "published": published,
            "recorder": recorder,
            "loop": loop_stats,
            "device": device_stats,
            "camera": camera_stats,
            "sensors": sensor_stats,
            "recorder_error": self.recorder_error,
            "warnings": self.warnings,
        }
        return self.result
