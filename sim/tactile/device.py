"""The simulated tactile array as a session device (`haptics run --sensor tactile-sim`).

It lives in `sim`, not in `drivers/tactile`, because it runs the tissue model (`sim.tactile`)
and drivers never import `sim` (the import-linter contract "drivers and the simulator are
independent"); `pyproject.toml` registers it as the `tactile-sim` driver all the same.

Where the probe is: it subscribes to the loop's telemetry and takes the tool position of the
newest tick (tool_x, tool_y, tool_z: the probe face's centre, tissue surface at z = 0), so a
frame shows what the stylus touched at most one tick earlier, whatever drives the stylus
(scripted operator, a hand, a replay). What it presses on: the scene's ground truth from its
`describe()` (palpation: `ground_truth.inclusion` with `modulus_ratio`, and the tissue's
stiffness from `config.tissue_stiffness_n_per_m`), the same model the scene's force comes
from. Frames are made every 1/rate_hz on the device's own clock (200 Hz by default), through
the configured noise model, off the loop's process.

Pacing: frame k is due at start + k · period (absolute deadlines, no drift); the process
sleeps to the next deadline, and when it wakes a period or more late (a busy CPU) it makes
one frame for the newest deadline passed and counts the others as `skipped`: it never bursts
to catch up, and it never computes a frame only to drop it. A frame's device_time_ns is its
deadline, its host_time_ns the moment it was ready.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, ClassVar

import numpy as np
import zmq

from haptics.devices.device import DeviceInfo, FeatureSchema, SensorDevice, StreamDecl
from haptics.errors import ConfigError, DeviceError
from haptics.wire.messages import TACTILE_FLAG_NOT_FINITE, TELEMETRY, Layout, tactile_layout
from haptics.wire.transport import subscriber
from sim.tactile.grid import ProbePose
from sim.tactile.model import Inclusion, slab_for_stiffness
from sim.tactile.sensor import TactileArray, TactileArrayConfig

DEFAULT_MODULUS_RATIO = 12.0  # a scene that records none: the middle of tumours' 8..18
_TOOL = slice(TELEMETRY.names.index("tool_x"), TELEMETRY.names.index("tool_z") + 1)


def tactile_stream(config: TactileArrayConfig) -> StreamDecl:
    """The "tactile" stream an array of this config publishes."""
    layout = tactile_layout(config.grid.rows, config.grid.cols)
    return StreamDecl(name="tactile", layout=layout.to_spec(), rate_hz=config.rate_hz)


def inclusion_of(scene: dict[str, Any]) -> Inclusion | None:
    """The inclusion a scene's description holds as ground truth, or None (no inclusion).

    Raises ConfigError for a ground-truth entry that is not an inclusion.
    """
    truth = scene.get("ground_truth", {}).get("inclusion")
    if not truth:
        return None
    ratio = truth.get("modulus_ratio", DEFAULT_MODULUS_RATIO)
    return Inclusion.from_ground_truth(truth, modulus_ratio=ratio)


def next_deadline(now_ns: int, next_ns: int, period_ns: int) -> tuple[int | None, int, int]:
    """Which frame to make now, on a grid of absolute deadlines: (the deadline of the frame
    due now or None if none is due yet, the next deadline after it, deadlines skipped).

    When `now_ns` is past several deadlines, only the newest is made and the older ones are
    skipped: a late process never bursts frames to catch up.
    """
    if now_ns < next_ns:
        return None, next_ns, 0
    behind = (now_ns - next_ns) // period_ns
    due = next_ns + behind * period_ns
    return due, due + period_ns, behind


class SimulatedTactileArray(SensorDevice):
    """A 16×16 (by default) taxel array on the probe, following the loop's tool."""

    name: ClassVar[str] = "tactile-sim"

    def __init__(self, argument: str = "") -> None:
        super().__init__(argument)
        self.config = TactileArrayConfig()
        self.layout: Layout = tactile_layout(self.config.grid.rows, self.config.grid.cols)
        self.endpoints: dict[str, str] = {}
        self.scene: dict[str, Any] = {}
        self.array: TactileArray | None = None
        self.inclusion: Inclusion | None = None
        self.ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self.telemetry: zmq.Socket[bytes] | None = None
        self.tool: tuple[float, float, float] = (0.0, 0.0, 1.0)  # above the tissue until told
        self.seq = 0
        self.next_ns = 0
        self.period_ns = 1
        self._rec = np.zeros((), self.layout.dtype)
        self.rng = np.random.default_rng(0)
        self.counters = {"frames": 0, "skipped": 0, "telemetry": 0}

    @classmethod
    def schema(cls, argument: str = "") -> FeatureSchema:
        cfg = TactileArrayConfig()
        return FeatureSchema(
            rate_hz=cfg.rate_hz,
            max_force_n=0.0,
            max_damping_ns_per_m=0.0,
            takes_force=False,
            streams=[tactile_stream(cfg)],
        )

    def attach(self, endpoints: dict[str, str], scene: dict[str, Any]) -> None:
        self.endpoints, self.scene = dict(endpoints), dict(scene)

    def _open(self) -> DeviceInfo:
        stiffness = float(self.scene.get("config", {}).get("tissue_stiffness_n_per_m", 300.0))
        try:
            self.config = TactileArrayConfig(tissue=slab_for_stiffness(stiffness))
            self.inclusion = inclusion_of(self.scene)
        except ConfigError as exc:
            raise DeviceError(f"tactile-sim cannot model this scene: {exc}") from exc
        self.array = TactileArray(self.config)
        self.period_ns = round(1e9 / self.config.rate_hz)
        self._rec = np.zeros((), self.layout.dtype)
        self.rng = np.random.default_rng(int(self.scene.get("config", {}).get("seed", 0)))
        if "telemetry" in self.endpoints:
            self.ctx = zmq.Context()
            # only the newest tick matters: a conflated queue holds just that one
            self.telemetry = subscriber(self.ctx, self.endpoints["telemetry"], conflate=True)
        self.next_ns = 0
        return DeviceInfo(
            driver="tactile-sim",
            model=f"simulated {self.config.grid.rows}x{self.config.grid.cols} taxel array",
            provenance="simulated",
            extra={
                "array": self.array.describe(),
                "inclusion": self.inclusion.model_dump() if self.inclusion else None,
                "probe_pose_from": "telemetry tool_x/y/z (newest tick)",
            },
        )

    def _drain_telemetry(self) -> None:
        sock = self.telemetry
        if sock is None:
            return
        try:
            newest = sock.recv(zmq.NOBLOCK)  # conflated: the newest tick, if one came
        except zmq.Again:
            return
        if len(newest) == TELEMETRY.size:
            values = TELEMETRY.struct.unpack(newest)
            x, y, z = (float(v) for v in values[_TOOL])
            if math.isfinite(x) and math.isfinite(y) and math.isfinite(z):
                self.tool = (x, y, z)
                self.counters["telemetry"] += 1

    def _read_messages(self, timeout_s: float) -> list[tuple[str, bytes]]:
        array = self.array
        if array is None:
            raise DeviceError("tactile-sim: read before open")
        now = time.monotonic_ns()
        if self.next_ns == 0:  # the first frame: the grid starts when streaming does
            self.next_ns = now
        due, self.next_ns, skipped = next_deadline(now, self.next_ns, self.period_ns)
        if due is None:
            wait_s = (self.next_ns - time.monotonic_ns()) / 1e9
            if wait_s > timeout_s:
                time.sleep(max(timeout_s, 0.0))
                return []
            if wait_s > 0:
                time.sleep(wait_s)
            due, self.next_ns, skipped = next_deadline(
                time.monotonic_ns(), self.next_ns, self.period_ns
            )
            if due is None:  # woke a hair early: the next call makes it
                return []
        self.counters["skipped"] += skipped
        self._drain_telemetry()
        pressure = array.frame(ProbePose(*self.tool), self.inclusion, self.rng)
        stamp = time.monotonic_ns()
        rec = self._rec
        rec["seq"], rec["device_time_ns"], rec["host_time_ns"] = self.seq, due, stamp
        rec["flags"] = 0 if np.isfinite(pressure).all() else TACTILE_FLAG_NOT_FINITE
        rec["pressure_kpa"] = pressure
        self.seq += 1
        self.counters["frames"] += 1
        return [("tactile", self.layout.from_record(rec))]

    def stats(self) -> dict[str, Any]:
        return dict(self.counters)

    def _close(self) -> None:
        if self.telemetry is not None:
            self.telemetry.close(0)
            self.telemetry = None
        if self.ctx is not None:
            with contextlib.suppress(zmq.ZMQError):
                self.ctx.term()
            self.ctx = None
