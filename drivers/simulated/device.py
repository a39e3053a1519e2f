"""The simulated device: a real driver whose hardware is a hand–arm model and a script.

It is clocked by the host: `_read` waits for the next 1 kHz deadline (sleep, then spin),
steps the hand model with the force currently applied, and returns the sample. It clamps
force to its own limit like real hardware, and `write()` returns what it applied; each sample
reports that force as both applied and measured (the model has no force sensor).

The argument: the script's duration in seconds and/or clutch presses, comma-separated, e.g.
`simulated:20`, `simulated:clutch=0.48-0.54` (the operator holds the clutch button from 48 %
to 54 % of the script), `simulated:20,clutch=0.3-0.35,clutch=0.6-0.7`. Without a duration
the script stretches to the session's.

The operator waits for the go: the hand holds the script's first waypoint until the device is
armed, and the script's clock (and the clutch presses on it) starts at arm, as the session's
duration does. However long the session takes to start, the operator never reaches the tissue
before force is allowed. The device clock (`device_time_ns`) runs from `start()` as ever.
"""

from __future__ import annotations

import time
from typing import ClassVar

from drivers.simulated.hand import HandModel
from drivers.simulated.operator import (
    PALPATION_SCRIPT,
    ButtonPress,
    Waypoint,
    buttons_at,
    target,
)
from haptics.devices.device import (
    ZERO,
    Device,
    DeviceInfo,
    FeatureSchema,
    Lifecycle,
    Sample,
    Vec3,
    clamp_force,
    damping_cap_ns_per_m,
)
from haptics.errors import DeviceError
from haptics.loop.clock import next_deadline, sleep_until
from haptics.wire.messages import BUTTON_CLUTCH, STATUS_ARMED, STATUS_CLAMPED

RATE_HZ = 1000.0
# Sleep until this long before each sample, then spin. The loop's own clock spins 250 µs for
# µs-exact ticks on a CPU of its own; this stand-in for hardware shares its CPU with the
# recorder, the camera and the sensors, and at real-time priority every µs it spins is taken
# from them: 50 µs keeps its samples within about 60 µs of the grid (the VM's sleep overshoot)
# and leaves a fifth of that CPU more to the others.
SPIN_NS = 50_000
MAX_FORCE_N = 8.0  # Falcon-class continuous force
# The lightest moving mass the stylus is run with: HandModel's 0.1 kg stylus plus fingertip
# (the hand's stiffness and damping only hold it more): 20 N·s/m at 1 kHz.
EFFECTIVE_MASS_KG = HandModel().mass_kg


def parse_argument(argument: str) -> tuple[float | None, tuple[ButtonPress, ...]]:
    """(script duration in s or None, clutch presses) from a driver argument such as
    '20,clutch=0.48-0.54'. Raises DeviceError saying what is wrong and what is accepted."""
    duration: float | None = None
    presses: list[ButtonPress] = []
    usage = (
        "use simulated:[SECONDS][,clutch=START-END]... with START < END fractions of the "
        "script in 0..1, e.g. simulated:20,clutch=0.48-0.54"
    )
    for part in filter(None, (x.strip() for x in argument.split(","))):
        key, eq, value = part.partition("=")
        try:
            if not eq:
                duration = float(part)
                if not duration > 0:
                    raise ValueError(part)
            elif key == "clutch":
                start, _, end = value.partition("-")
                press = ButtonPress(float(start), float(end), BUTTON_CLUTCH)
                if not 0.0 <= press.start < press.end <= 1.0:
                    raise ValueError(value)
                presses.append(press)
            else:
                raise ValueError(key)
        except ValueError:
            raise DeviceError(f"simulated: cannot read '{part}' in '{argument}'; {usage}") from None
    return duration, tuple(presses)


class SimulatedDevice(Device):
    """argument: script duration in seconds (default 10) and clutch presses (module docs)."""

    name: ClassVar[str] = "simulated"

    def __init__(
        self,
        argument: str = "",
        *,
        script: tuple[Waypoint, ...] = PALPATION_SCRIPT,
        hand: HandModel | None = None,
        rate_hz: float = RATE_HZ,
    ) -> None:
        super().__init__(argument)
        duration, self.presses = parse_argument(argument)
        self.fixed_duration = duration is not None
        self.duration_s = 10.0 if duration is None else duration
        self.script = script
        self.hand = hand or HandModel()
        self.period_ns = round(1e9 / rate_hz)
        self._seq = 0
        self._deadline = 0
        self._t0 = 0
        self._started = False
        self._script_t0: int | None = None  # when the operator set off (None: still waiting)
        self._pos: Vec3 = script[0].position
        self._vel: Vec3 = ZERO
        self._force: Vec3 = ZERO
        self._clamped = False
        self.missed_ticks = 0

    @classmethod
    def schema(cls, argument: str = "") -> FeatureSchema:
        return FeatureSchema(
            rate_hz=RATE_HZ,
            max_force_n=MAX_FORCE_N,
            max_damping_ns_per_m=damping_cap_ns_per_m(EFFECTIVE_MASS_KG, RATE_HZ),
        )

    def _open(self) -> DeviceInfo:
        self._t0 = self._deadline = time.monotonic_ns()
        return DeviceInfo(
            driver=self.name,
            model="scripted stylus + hand–arm model",
            provenance="simulated",
            firmware_version="n/a",
            extra={
                "hand": {
                    "mass_kg": self.hand.mass_kg,
                    "stiffness_n_per_m": self.hand.stiffness_n_per_m,
                    "damping_ns_per_m": self.hand.damping_ns_per_m,
                },
                "script_duration_s": self.duration_s,
                "clutch": [[p.start, p.end] for p in self.presses],
            },
        )

    def start(
        self,
        session_duration_s: float | None = None,
        operator_script: list[tuple[float, Vec3]] | None = None,
    ) -> None:
        """Start streaming; the operator's script (the scene's if it suggests one, stretched to
        the session unless a duration was given explicitly) starts at arm."""
        if not self.fixed_duration and session_duration_s:
            self.duration_s = session_duration_s
        if operator_script:
            self.script = tuple(Waypoint(at, tuple(p)) for at, p in operator_script)  # type: ignore[arg-type]
            self._pos = self.script[0].position
        self._t0 = self._deadline = time.monotonic_ns()
        self._started = True
        if self.state is Lifecycle.ARMED:  # armed before streaming: the operator sets off now
            self._script_t0 = self._t0

    def _arm(self) -> None:
        if self._started and self._script_t0 is None:
            self._script_t0 = time.monotonic_ns()  # the go: the operator's script starts

    def _read(self, timeout_s: float) -> Sample | None:
        self._deadline, missed = next_deadline(self._deadline, self.period_ns, time.monotonic_ns())
        self.missed_ticks += missed
        now = sleep_until(self._deadline, SPIN_NS)
        dt = self.period_ns * (1 + missed) / 1e9
        t = 0.0 if self._script_t0 is None else max(0, self._deadline - self._script_t0) / 1e9
        tgt, tgt_vel = target(t, self.duration_s, self.script)
        f = self._force  # the force that acts during this step (write() runs on another thread)
        self._pos, self._vel = self.hand.step(self._pos, self._vel, tgt, tgt_vel, f, dt)
        status = (STATUS_ARMED if self.state.value == "armed" else 0) | (
            STATUS_CLAMPED if self._clamped else 0
        )
        self._seq += 1
        buttons = buttons_at(t, self.duration_s, self.presses)
        return Sample(self._seq, self._deadline - self._t0, now, self._pos, self._vel, f,
                      buttons, status, f)  # fmt: skip

    def _write(self, force: Vec3) -> Vec3:
        self._force, self._clamped = clamp_force(force, MAX_FORCE_N)
        return self._force

    def _close(self) -> None:
        self._force = ZERO
