"""A device that plays back the state stream of a recorded session, open loop.

argument: the session directory. Samples keep their original sequence numbers and device
times, are published at the recorded rate (absolute deadlines), and carry the recorded
position, velocity and buttons (a clutch pressed in the session is pressed in the replay);
the replay keeps the session's arm: it plays the samples recorded before the device was armed,
then holds (publishing nothing) until the replay is armed, so the motion after arm starts at
arm as it did in the session, however long this session took to start;
force commands are accepted and clamped like any device but do not move the stylus, and each
sample reports the force the replay applied (as applied and as measured: it has no sensor).
After the last sample the device goes quiet (the loop sees stale input). Its schema is the
recorded device's (rate, force limit, passivity damping bound). Used by `haptics replay` to
re-render a session and compare forces.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from haptics.devices.device import (
    ZERO,
    Device,
    DeviceInfo,
    FeatureSchema,
    Sample,
    Vec3,
    clamp_force,
)
from haptics.errors import DeviceNotFound, SessionError
from haptics.loop.clock import next_deadline, sleep_until
from haptics.loop.passivity import DEFAULT_MAX_DAMPING_NS_PER_M
from haptics.session.reading import open_session
from haptics.wire.messages import STATUS_ARMED


class ReplayDevice(Device):
    name: ClassVar[str] = "replay"

    def __init__(self, argument: str = "") -> None:
        super().__init__(argument)
        if not argument:
            raise DeviceNotFound("replay needs a session: --device replay:<session path>")
        self._i = 0
        self._force: Vec3 = ZERO
        self._deadline = 0
        self._t0 = 0
        self._rows: dict[str, np.ndarray] = {}
        self._arm_row: int | None = None  # the first sample recorded armed (None: none was)
        self._max_force = 0.0
        self.period_ns = 1_000_000

    @classmethod
    def schema(cls, argument: str = "") -> FeatureSchema:
        try:
            m = open_session(argument).manifest
        except SessionError as exc:
            raise DeviceNotFound(f"cannot replay {argument}: {exc}") from exc
        recorded = m.device.get("schema", {})
        return FeatureSchema(
            rate_hz=float(recorded.get("rate_hz", 1000.0)),
            max_force_n=float(recorded.get("max_force_n", 8.0)),
            # sessions recorded before devices declared it ran with the loop's default
            max_damping_ns_per_m=float(
                recorded.get("max_damping_ns_per_m", DEFAULT_MAX_DAMPING_NS_PER_M)
            ),
        )

    def _open(self) -> DeviceInfo:
        session = open_session(self.argument)
        self._rows = session.arrays("state")
        if self._rows["seq"].size == 0:
            raise DeviceNotFound(f"{self.argument} has no state samples to replay")
        armed = np.flatnonzero(self._rows["status"] & STATUS_ARMED)
        self._arm_row = int(armed[0]) if armed.size else None
        schema = self.schema(self.argument)
        self.period_ns = round(1e9 / schema.rate_hz)
        self._max_force = schema.max_force_n
        self._t0 = self._deadline = time.monotonic_ns()
        m = session.manifest
        return DeviceInfo(
            driver=self.name,
            model=f"replay of {session.path.name}",
            provenance="replay",
            extra={
                "session": str(session.path),
                "session_id": m.session_id,
                "samples": int(self._rows["seq"].size),
                "recorded_device": m.device.get("driver"),
            },
        )

    def start(
        self,
        session_duration_s: float | None = None,
        operator_script: list[tuple[float, Vec3]] | None = None,
    ) -> None:
        self._t0 = self._deadline = time.monotonic_ns()

    def _read(self, timeout_s: float) -> Sample | None:
        r = self._rows
        if self._i >= r["seq"].size:
            time.sleep(min(timeout_s, 0.01))
            return None
        if self._i == self._arm_row and self.state.value != "armed":
            time.sleep(min(timeout_s, self.period_ns / 1e9))  # hold at the recorded arm
            self._deadline = time.monotonic_ns()  # and go on from the arm, not in a burst
            return None
        self._deadline, _ = next_deadline(self._deadline, self.period_ns, time.monotonic_ns())
        now = sleep_until(self._deadline)
        i = self._i
        self._i += 1
        f = self._force
        return Sample(
            int(r["seq"][i]), int(r["device_time_ns"][i]), now,
            (float(r["px"][i]), float(r["py"][i]), float(r["pz"][i])),
            (float(r["vx"][i]), float(r["vy"][i]), float(r["vz"][i])),
            f, int(r["buttons"][i]), STATUS_ARMED if self.state.value == "armed" else 0, f,
        )  # fmt: skip

    def _write(self, force: Vec3) -> Vec3:
        self._force, _ = clamp_force(force, self._max_force)
        return self._force

    def _close(self) -> None:
        self._force = ZERO
