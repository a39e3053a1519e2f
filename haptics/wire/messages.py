"""Fixed binary layouts for the per-sample messages on the hot path.

Each layout is declared once as a list of (field, numpy type code). From it we derive a
`struct.Struct` (fast packing of one message in the tick: ~0.2 µs) and a numpy dtype (the
recorder turns a batch of raw messages into columns with one `np.frombuffer`). All layouts
are little-endian and packed, and start with two bytes: the message kind and its layout
version, so a reader refuses bytes it does not understand instead of misreading them.

pydantic is not used here on purpose: it belongs to configs and files, not to 1 kHz data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from haptics.errors import MessageError

_STRUCT_CODES: Final = {
    "u1": "B",
    "i1": "b",
    "u2": "H",
    "u4": "I",
    "i4": "i",
    "u8": "Q",
    "i8": "q",
    "f4": "f",
    "f8": "d",
}


# A field: (name, numpy type code) or (name, type code, shape) for a fixed-size array field
# (a 16×16 tactile frame: ("pressure_kpa", "f4", (16, 16))), stored row-major.
Field = tuple[str, str] | tuple[str, str, tuple[int, ...]]


def _shape(field: Field) -> tuple[int, ...]:
    return tuple(field[2]) if len(field) == 3 else ()


@dataclass(frozen=True)
class Layout:
    """A versioned binary layout: field names and types in wire order.

    Scalar layouts pack and unpack one message with `struct` (the tick's path); a layout
    with array fields (`has_arrays`) is packed from a numpy record (`from_record`) and read
    in batches with `to_array` like any other.
    """

    name: str
    kind: int
    version: int
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        fmt = "<"
        for f in self.fields:
            count = int(np.prod(_shape(f))) if _shape(f) else 1
            fmt += (str(count) if count != 1 else "") + _STRUCT_CODES[f[1]]
        object.__setattr__(self, "_struct", struct.Struct(fmt))
        dtype = np.dtype([(f[0], "<" + f[1], _shape(f)) if _shape(f) else (f[0], "<" + f[1])
                          for f in self.fields])
        object.__setattr__(self, "_dtype", dtype)

    @property
    def has_arrays(self) -> bool:
        """Whether some field is a fixed-size array."""
        return any(_shape(f) for f in self.fields)

    def shape(self, name: str) -> tuple[int, ...]:
        """The array shape of field `name` (() for a scalar). Raises MessageError if absent."""
        for f in self.fields:
            if f[0] == name:
                return _shape(f)
        raise MessageError(f"{self.name} has no field '{name}'")

    def to_spec(self) -> dict[str, Any]:
        """JSON-able form, kept in a session's manifest so any reader can decode the stream
        without the code that declared it (`Layout.from_spec` reads it back)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "fields": [[f[0], f[1], list(_shape(f))] for f in self.fields],
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Layout:
        """The layout `to_spec` wrote. Raises MessageError for a spec that is not one."""
        try:
            fields: list[Field] = []
            for f in spec["fields"]:
                shape = tuple(int(n) for n in f[2]) if len(f) > 2 and f[2] else ()
                fields.append((str(f[0]), str(f[1]), shape) if shape else (str(f[0]), str(f[1])))
            return cls(str(spec["name"]), int(spec["kind"]), int(spec["version"]), tuple(fields))
        except (KeyError, TypeError, ValueError, IndexError, struct.error) as exc:
            raise MessageError(
                f"not a stream layout ({exc}): the manifest's stream entry is damaged; "
                "restore manifest.json from a copy"
            ) from exc

    def from_record(self, record: np.ndarray) -> bytes:
        """One message from a numpy record of `dtype` (kind and version are set here)."""
        rec = np.array(record, dtype=self.dtype)
        rec["kind"], rec["version"] = self.kind, self.version
        return rec.tobytes()

    @property
    def struct(self) -> struct.Struct:
        return self._struct  # type: ignore[attr-defined,no-any-return]

    @property
    def dtype(self) -> np.dtype[np.void]:
        return self._dtype  # type: ignore[attr-defined,no-any-return]

    @property
    def size(self) -> int:
        return self.struct.size

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f[0] for f in self.fields)

    def pack(self, *values: float | int) -> bytes:
        """Pack one message; `values` exclude the leading kind and version bytes."""
        return self.struct.pack(self.kind, self.version, *values)

    def make(self, **fields: float | int) -> bytes:
        """Pack by field name, missing fields zero (tests and tools; the tick uses `pack`).

        Raises MessageError for a name that is not in the layout.
        """
        unknown = set(fields) - set(self.names[2:])
        if unknown:
            raise MessageError(f"{self.name} has no field(s) {sorted(unknown)}")
        return self.pack(*(fields.get(n, 0) for n in self.names[2:]))

    def unpack(self, data: bytes) -> tuple[float | int, ...]:
        """Unpack one message, checking length, kind and version.

        Raises MessageError when the bytes are not this layout.
        """
        if len(data) != self.size:
            raise MessageError(
                f"{self.name}: expected {self.size} bytes, got {len(data)}; "
                "sender and receiver run different layout versions?"
            )
        values = self.struct.unpack(data)
        if values[0] != self.kind or values[1] != self.version:
            raise MessageError(
                f"{self.name}: kind/version {values[0]}/{values[1]} != {self.kind}/{self.version}"
            )
        return values

    def to_array(self, payloads: list[bytes]) -> np.ndarray:
        """Decode a batch of raw messages into a structured array (one row per message).

        Rows whose length, kind or version do not match are dropped; the caller counts them.
        """
        good = [
            p
            for p in payloads
            if len(p) == self.size and p[0] == self.kind and p[1] == self.version
        ]
        return np.frombuffer(b"".join(good), dtype=self.dtype)


_HEADER = (("kind", "u1"), ("version", "u1"))

# Device state: one sample as the driver saw it. device_time_ns is the device's own clock;
# host_time_ns is time.monotonic_ns() stamped on receipt (or on publish for a simulated device).
_STATE_FIELDS: Final = (
    *_HEADER,
    ("seq", "u8"),
    ("device_time_ns", "i8"),
    ("host_time_ns", "i8"),
    ("px", "f8"),
    ("py", "f8"),
    ("pz", "f8"),
    ("vx", "f8"),
    ("vy", "f8"),
    ("vz", "f8"),
    ("fx", "f8"),
    ("fy", "f8"),
    ("fz", "f8"),  # force the device measured (v1: measured or applied, whichever it had)
    ("buttons", "u4"),
    ("status", "u4"),
    # the last command applied before this sample, echoed like firmware does:
    ("cmd_seq", "u8"),  # its seq (0: none yet)
    ("cmd_state_seq", "u8"),  # the state sample it answered
    ("cmd_latency_ns", "i8"),  # that sample's publish → this command applied (-1: unknown)
)
# Version 1, as sessions recorded before version 2 hold it (read-only: nothing sends it).
STATE_V1 = Layout("state", kind=1, version=1, fields=_STATE_FIELDS)
# Version 2 adds the force the device applied, as the device reports it (after its own
# clamp, ramp, arming and faults; the driver's `write()` return where the device reports
# nothing), beside the measured force fx..fz. Appended, so v1's fields keep their places.
STATE = Layout(
    "state",
    kind=1,
    version=2,
    fields=(*_STATE_FIELDS, ("afx", "f8"), ("afy", "f8"), ("afz", "f8")),
)

# Force command from the loop to the device. state_seq is the state sample it answers, so the
# device can measure latency and the recorder can pair commands with samples.
COMMAND = Layout(
    "command",
    kind=2,
    version=1,
    fields=(
        *_HEADER,
        ("seq", "u8"),
        ("state_seq", "u8"),
        ("host_time_ns", "i8"),
        ("fx", "f8"),
        ("fy", "f8"),
        ("fz", "f8"),
        ("flags", "u4"),
    ),
)

# Loop telemetry, one per tick: timing, contact and the tissue's answer (ground truth).
TELEMETRY = Layout(
    "telemetry",
    kind=3,
    version=1,
    fields=(
        *_HEADER,
        ("tick", "u8"),
        ("state_seq", "u8"),
        ("deadline_ns", "i8"),  # when the tick was scheduled
        ("wake_ns", "i8"),  # when it actually started
        ("compute_ns", "i4"),  # wake → command sent
        ("input_ns", "i4"),  # wake → newest sample decoded
        ("scene_ns", "i4"),  # contact query + tissue force
        ("input_lag_ns", "i4"),  # wake − publish time of the newest sample (staleness of input)
        ("missed_ticks", "u4"),  # ticks skipped before this one (VM stalls), never caught up
        ("tool_x", "f8"),
        ("tool_y", "f8"),
        ("tool_z", "f8"),
        ("contact", "u1"),
        ("layer", "i1"),
        ("inclusion", "u1"),
        ("depth_m", "f8"),
        ("tissue_force_n", "f8"),  # magnitude the tissue model rendered (before safety)
        ("rx", "f8"),  # force the scene rendered, device frame (before passivity and safety)
        ("ry", "f8"),
        ("rz", "f8"),
        ("fx", "f8"),
        ("fy", "f8"),
        ("fz", "f8"),  # force commanded (after safety)
        ("events", "u4"),
        ("flags", "u4"),
        ("safety", "u4"),  # SAFETY_* bits from haptics.loop.safety
        ("pc_energy_j", "f8"),  # passivity observer: energy into the environment
        ("pc_alpha", "f8"),  # passivity controller damping this tick (N·s/m)
        ("pc_dissipated_j", "f8"),  # total energy the controller dissipated
    ),
)



def tactile_layout(rows: int, cols: int) -> Layout:
    """A tactile array's frame stream ("tactile", kind 4, version 1): one pressure map in kPa
    per message, rows × cols taxels row-major, with the device's and the host's clocks.

    flags: TACTILE_FLAG_* bits. Every tactile driver publishes this layout; the manifest
    keeps its spec, so sessions read back whatever the grid size was. Raises MessageError
    for a grid that is not 1..256 on each side.
    """
    if not (1 <= rows <= 256 and 1 <= cols <= 256):
        raise MessageError(f"a tactile grid of {rows}×{cols}: each side must be 1..256 taxels")
    return Layout(
        "tactile",
        kind=4,
        version=1,
        fields=(
            *_HEADER,
            ("seq", "u8"),
            ("device_time_ns", "i8"),
            ("host_time_ns", "i8"),
            ("flags", "u4"),
            ("pressure_kpa", "f4", (rows, cols)),
        ),
    )


TACTILE_FLAG_SATURATED: Final = 1 << 0  # some taxel at full scale
TACTILE_FLAG_NOT_FINITE: Final = 1 << 1  # some taxel NaN or inf (recorded as it came)

LAYOUTS: Final = {layout.name: layout for layout in (STATE, COMMAND, TELEMETRY)}
# Every (name, version) a recording may hold: the current layouts and the older ones.
LAYOUT_VERSIONS: Final = {
    (layout.name, layout.version): layout for layout in (STATE_V1, *LAYOUTS.values())
}
# Columns a newer layout added, per older (name, version): the older column each is read as.
# State v1 had one force, the device's measured force where it had one, else the applied one:
# read as both.
_FILLED_FROM: Final[dict[tuple[str, int], dict[str, str]]] = {
    ("state", 1): {"afx": "fx", "afy": "fy", "afz": "fz"},
}


def layout_version(name: str, version: int) -> Layout | None:
    """The layout `name` at `version` (current or older), or None if this haptics has none."""
    return LAYOUT_VERSIONS.get((name, version))


def filled_columns(name: str, version: int) -> dict[str, str]:
    """For rows recorded with an older layout version: {column of the current layout that
    version lacks: column of that version to read it from}. Empty for the current version."""
    return dict(_FILLED_FROM.get((name, version), {}))


# Status bits in STATE.status
STATUS_ARMED: Final = 1 << 0
STATUS_FAULT: Final = 1 << 1
STATUS_WATCHDOG: Final = 1 << 2  # driver watchdog zeroed force: the loop went quiet
STATUS_CLAMPED: Final = 1 << 3  # the device's own clamp limited the last command
# Set by the driver process: the sample holds non-finite or physically absurd values (see
# haptics.devices.device.plausible); recorded as it came, never used for force.
STATUS_BAD_SAMPLE: Final = 1 << 4
# Set by a teleoperation follower's link: the link is down and this sample repeats the last
# reference (the tool holds still); the loop renders it as usual, nothing reaches the operator.
STATUS_LINK_HELD: Final = 1 << 5

# Bits in STATE.buttons
BUTTON_CLUTCH: Final = 1 << 0  # held: the tool stays put while the hand repositions

# Flags in COMMAND.flags and TELEMETRY.flags
FLAG_ARMED: Final = 1 << 0  # force allowed; without it the device applies zero
FLAG_STALE_INPUT: Final = 1 << 1  # no new sample for a while: force fading to zero
FLAG_CLAMPED: Final = 1 << 2  # safety clamped the force
FLAG_STOPPING: Final = 1 << 3  # session ending: zero force, then disarm
FLAG_BAD_INPUT: Final = 1 << 4  # non-finite or malformed sample rejected
FLAG_ESTOP: Final = 1 << 5  # e-stop latched: zero force until reset
FLAG_ENGAGING: Final = 1 << 6  # force not engaged yet, or ramping in

# Event bits in TELEMETRY.events (tissue events use the same low bits as sim.tissue.base).
EVENT_PUNCTURE: Final = 1 << 0
EVENT_CUT_START: Final = 1 << 1
EVENT_CUT_END: Final = 1 << 2
EVENT_CONTACT_START: Final = 1 << 8
EVENT_CONTACT_END: Final = 1 << 9
EVENT_OVERRUN: Final = 1 << 10
EVENT_STALE_INPUT: Final = 1 << 11
EVENT_ESTOP: Final = 1 << 12
EVENT_JOINT_LIMIT: Final = 1 << 13  # the follower instrument reached a joint limit
EVENT_JOINT_LIMIT_END: Final = 1 << 14  # and left it

EVENT_NAMES: Final = {
    EVENT_PUNCTURE: "puncture",
    EVENT_CUT_START: "cut_start",
    EVENT_CUT_END: "cut_end",
    EVENT_CONTACT_START: "contact_start",
    EVENT_CONTACT_END: "contact_end",
    EVENT_OVERRUN: "overrun",
    EVENT_STALE_INPUT: "stale_input",
    EVENT_ESTOP: "estop",
    EVENT_JOINT_LIMIT: "joint_limit",
    EVENT_JOINT_LIMIT_END: "joint_limit_end",
}
