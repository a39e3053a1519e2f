"""The device contract every driver implements, and the sample it produces.

Lifecycle: created → open → armed → closed. A device streams state once open, applies force
only while armed, and zeroes force before it disarms or closes. `write()` returns the force
actually applied after the device's own clamps: that is what gets recorded.

A driver overrides `_open`, `_read`, `_write` and `_close`; the base class enforces the
lifecycle and the "zero unless armed" rule so no driver can forget it.
"""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Final, NamedTuple

from pydantic import BaseModel, Field, model_validator

from haptics.errors import DeviceError

Vec3 = tuple[float, float, float]
ZERO: Vec3 = (0.0, 0.0, 0.0)

# What a plausible sample looks like: no haptic device or tactile probe reaches these.
MAX_POSITION_M: Final = 10.0
MAX_VELOCITY_M_S: Final = 100.0
MAX_FORCE_N: Final = 10_000.0


def plausible(position: Vec3, velocity: Vec3, force: Vec3) -> bool:
    """Whether a sample's values are finite and physically possible for a haptic device."""
    for vec, limit in ((position, MAX_POSITION_M), (velocity, MAX_VELOCITY_M_S),
                       (force, MAX_FORCE_N)):
        for x in vec:
            if not -limit <= x <= limit:  # False for NaN too
                return False
    return True


class Sample(NamedTuple):
    """One device state sample (the STATE message's fields, without the header)."""

    seq: int
    device_time_ns: int
    host_time_ns: int
    position: Vec3
    velocity: Vec3
    force: Vec3  # measured by the device (a device without a force sensor: the applied one)
    buttons: int = 0
    status: int = 0
    # the force the device reports it applied at this sample (after its own clamp, ramp,
    # arming and faults); None: the device does not report it, and the driver process
    # records what `write()` last returned instead
    applied: Vec3 | None = None


class Channel(BaseModel):
    """One recorded channel: name, unit and frame."""

    name: str
    unit: str
    frame: str = "device"
    size: int = 3


# Fraction of its velocity the passivity controller's damper may take from the moving mass in
# one period at most (α·dt/m); see damping_cap_ns_per_m.
DAMPING_FRACTION_PER_TICK: Final = 0.2


def damping_cap_ns_per_m(effective_mass_kg: float, rate_hz: float) -> float:
    """The bound on the passivity controller's damping α (N·s/m) for a device whose moving
    mass at the handle is `effective_mass_kg`, commanded at `rate_hz`.

    α·dt/m = DAMPING_FRACTION_PER_TICK (0.2): the damper removes at most a fifth of the
    velocity per tick. The PC's damper is computed from one sample and applied a tick or more
    later, and a delayed damper that is too strong for the mass turns active: on the
    simulated stylus (0.1 kg, 1 kHz) 20 N·s/m gains 2.2–2.7× stable stiffness for 0 to 3
    ticks of delay, 50 N·s/m gains nothing at 0 ticks, 100 N·s/m is worse than no PC
    (`haptics bench stiffness`). Take the lightest mass the device is run with (the
    handle alone, without the hand): a lighter mass needs a lower bound.
    Raises ValueError for a mass or rate that is not positive.
    """
    if not (effective_mass_kg > 0 and rate_hz > 0):
        raise ValueError(
            f"damping cap: mass {effective_mass_kg} kg and rate {rate_hz} Hz must be > 0"
        )
    return DAMPING_FRACTION_PER_TICK * effective_mass_kg * rate_hz


class StreamDecl(BaseModel):
    """A stream a device publishes besides (or instead of) the stylus' state: its name (the
    session's file `<name>.arrows`), its binary layout (`Layout.to_spec()`, fixed-size array
    fields allowed) and its nominal rate."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    layout: dict[str, Any]
    rate_hz: float = Field(gt=0)


class FeatureSchema(BaseModel):
    """What a device produces, known before it is opened (rate, channels, limits, streams).

    A haptic device (`takes_force`) publishes the core's "state" stream and takes force
    commands; a sense-only device (a tactile array) takes none and publishes only its
    declared `streams`.
    """

    rate_hz: float = Field(gt=0)
    max_force_n: float = Field(ge=0, description="continuous force the device can apply")
    takes_force: bool = Field(True, description="False: sense-only, never sent a command")
    streams: list[StreamDecl] = Field(
        default_factory=list, description="the streams it publishes besides 'state'"
    )

    @model_validator(mode="after")
    def _force_if_haptic(self) -> FeatureSchema:
        if self.takes_force and not self.max_force_n > 0:
            raise ValueError("a device that takes force needs max_force_n > 0")
        return self
    max_damping_ns_per_m: float = Field(
        ge=0,
        description="bound on the passivity controller's damping for this device (N·s/m): "
        "damping_cap_ns_per_m(moving mass at the handle, rate), unless measured otherwise",
    )
    workspace_m: tuple[float, float, float] = (0.16, 0.12, 0.12)
    channels: list[Channel] = Field(
        default_factory=lambda: [
            Channel(name="position", unit="m"),
            Channel(name="velocity", unit="m/s"),
            Channel(name="force", unit="N"),
        ]
    )


class DeviceInfo(BaseModel):
    """Identity of an opened device, stored in the session manifest."""

    driver: str
    model: str
    serial: str = ""
    firmware_version: str = ""
    provenance: str = Field(description="'simulated' or 'real'")
    extra: dict[str, Any] = Field(default_factory=dict)


class Lifecycle(enum.Enum):
    CREATED = "created"
    OPEN = "open"
    ARMED = "armed"
    CLOSED = "closed"


def clamp_force(force: Vec3, max_norm: float) -> tuple[Vec3, bool]:
    """Scale `force` down to at most `max_norm`; non-finite input becomes zero.

    Returns (force, clamped).
    """
    fx, fy, fz = force
    if not (math.isfinite(fx) and math.isfinite(fy) and math.isfinite(fz)):
        return ZERO, True
    norm = math.sqrt(fx * fx + fy * fy + fz * fz)
    if norm <= max_norm:
        return force, False
    s = max_norm / norm
    return (fx * s, fy * s, fz * s), True


class Device(ABC):
    """Base class of every driver. Subclasses set `name` and implement the four `_` methods."""

    name: ClassVar[str] = "device"

    def __init__(self, argument: str = "") -> None:
        self.argument = argument
        self.state = Lifecycle.CREATED

    # -- what subclasses provide -------------------------------------------------------
    @classmethod
    @abstractmethod
    def schema(cls, argument: str = "") -> FeatureSchema:
        """The feature schema, available before opening."""

    @abstractmethod
    def _open(self) -> DeviceInfo: ...

    @abstractmethod
    def _read(self, timeout_s: float) -> Sample | None: ...

    @abstractmethod
    def _write(self, force: Vec3) -> Vec3: ...

    @abstractmethod
    def _close(self) -> None: ...

    def _arm(self) -> None:  # noqa: B027 - optional hook
        """Device-specific arming (e.g. the firmware's enable); default: nothing."""

    def _disarm(self) -> None:  # noqa: B027 - optional hook
        """Device-specific disarming; called after force was zeroed."""

    def start(  # noqa: B027 - optional hook
        self,
        session_duration_s: float | None = None,
        operator_script: list[tuple[float, Vec3]] | None = None,
    ) -> None:
        """Called once when streaming starts. Both arguments are hints a real device ignores:
        the session's duration (None: open-ended) and the scene's suggested operator motion
        as (fraction of the duration, position) waypoints, for simulated operators."""

    # -- the lifecycle, enforced -------------------------------------------------------
    def open(self) -> DeviceInfo:
        """Open the device; it streams state but applies no force. Raises DeviceError."""
        if self.state is not Lifecycle.CREATED:
            raise DeviceError(f"{self.name}: open() in state {self.state.value}")
        info = self._open()
        self.state = Lifecycle.OPEN
        return info

    def arm(self) -> None:
        """Allow force. Raises DeviceError unless the device is open."""
        if self.state is Lifecycle.ARMED:
            return
        if self.state is not Lifecycle.OPEN:
            raise DeviceError(f"{self.name}: arm() needs an open device (state {self.state.value})")
        self._arm()
        self.state = Lifecycle.ARMED

    def disarm(self) -> None:
        """Zero force, then forbid it."""
        if self.state is Lifecycle.ARMED:
            self._write(ZERO)
            self._disarm()
            self.state = Lifecycle.OPEN

    def read(self, timeout_s: float) -> Sample | None:
        """The next sample not yet returned (in order), or None after `timeout_s`.

        A driver that falls behind drops the oldest samples; the seq gap shows it.
        """
        if self.state not in (Lifecycle.OPEN, Lifecycle.ARMED):
            raise DeviceError(f"{self.name}: read() on a {self.state.value} device")
        return self._read(timeout_s)

    def write(self, force: Vec3) -> Vec3:
        """Command `force` (N); returns the force actually applied (zero unless armed)."""
        if self.state is not Lifecycle.ARMED:
            if self.state is Lifecycle.OPEN:
                self._write(ZERO)
            return ZERO
        if not (math.isfinite(force[0]) and math.isfinite(force[1]) and math.isfinite(force[2])):
            force = ZERO  # never hand a driver NaN or inf, whatever the caller computed
        return self._write(force)

    def close(self) -> None:
        """Zero force and release the device. Safe to call more than once."""
        if self.state is Lifecycle.CLOSED:
            return
        try:
            if self.state is Lifecycle.ARMED:
                self.disarm()
            if self.state is Lifecycle.OPEN:
                self._close()
        finally:
            self.state = Lifecycle.CLOSED


class SensorDevice(Device):
    """A sense-only device (a tactile array): no force, no state samples; it publishes the
    messages of its declared streams (`FeatureSchema.streams`), each packed in its layout.

    A driver overrides `_open`, `_close` and `_read_messages`. `attach` hands it what the
    session knows before it opens (the core's endpoints, the scene's description), for a
    simulated sensor that follows the loop's tool; a real one ignores it.
    """

    def _read(self, timeout_s: float) -> Sample | None:
        return None  # a sensor publishes no stylus state

    def _write(self, force: Vec3) -> Vec3:
        return ZERO  # and applies no force, whatever it is asked

    def attach(self, endpoints: dict[str, str], scene: dict[str, Any]) -> None:
        """The session's endpoints (telemetry: the loop's tool pose) and the scene's
        `describe()` (its ground truth), before `open`. Default: ignored."""

    def stats(self) -> dict[str, Any]:
        """Counters for reports (frames made, dropped, bad); default: none."""
        return {}

    @abstractmethod
    def _read_messages(self, timeout_s: float) -> list[tuple[str, bytes]]: ...

    def read_messages(self, timeout_s: float) -> list[tuple[str, bytes]]:
        """(stream name, message) pairs ready now, waiting at most `timeout_s` for some.

        Raises DeviceError unless the device is open.
        """
        if self.state not in (Lifecycle.OPEN, Lifecycle.ARMED):
            raise DeviceError(f"{self.name}: read_messages() on a {self.state.value} device")
        return self._read_messages(timeout_s)
