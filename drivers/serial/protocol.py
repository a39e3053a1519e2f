"""Message layouts of the firmware protocol (firmware/PROTOCOL.md), mirroring firmware/core/codec.c.

Each message is one row of `MESSAGES`: type, name, `struct` format (little-endian) and a
NamedTuple whose fields are the layout's fields in order. The schema hash the device reports
in DEVICE_INFO is the CRC-32 of `schema_text()`, built from that table exactly as the C side
builds it, so a layout changed on one side only is refused at the handshake instead of
misread. HELLO and DEVICE_INFO are frozen: same layout in every protocol version, so a host
can always tell a device what to flash.

Each message names the kinds of device that speak it (`KIND_PADDLE`, `KIND_TAXEL`); a kind's
schema text and hash list only its own messages, so the taxel board's messages
(TAXEL_INFO, TAXEL_FRAME; PROTOCOL.md §11) left the paddle's schema as it was.
"""

from __future__ import annotations

import enum
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from drivers.serial.framing import encode_frame
from haptics.errors import MessageError

PROTOCOL_VERSION: Final = 2  # v2: STATE.rx_errors and STATE.overruns widened to u32


class MsgType(enum.IntEnum):
    """Message type byte. Host → device below 0x80, device → host above."""

    HELLO = 0x01
    COMMAND = 0x02
    ARM = 0x03
    DISARM = 0x04
    CLEAR_FAULT = 0x05
    HEARTBEAT = 0x06
    TIME_SYNC = 0x07
    SET_PARAMS = 0x08
    DEVICE_INFO = 0x81
    STATE = 0x82
    ACK = 0x83
    HEARTBEAT_REPLY = 0x84
    TIME_SYNC_REPLY = 0x85
    ERROR_COUNTERS = 0x86
    TAXEL_INFO = 0x90
    TAXEL_FRAME = 0x91


class ArmState(enum.IntEnum):
    DISARMED = 0
    ARMED = 1
    FAULT = 2


class AckResult(enum.IntEnum):
    OK = 0
    REFUSED_FAULT = 1
    INVALID = 2
    UNSUPPORTED = 3


# Latched fault bits (STATE.fault_bits)
FAULT_WATCHDOG: Final = 1 << 0
FAULT_STALL: Final = 1 << 1
FAULT_HW_RESET: Final = 1 << 2
FAULT_SENSOR: Final = 1 << 3    # the current sense did not answer in time
FAULT_CLOCK: Final = 1 << 4     # armed, the device clock read earlier than before
FAULT_NAMES: Final = {
    FAULT_WATCHDOG: "watchdog", FAULT_STALL: "stall", FAULT_HW_RESET: "hw_reset",
    FAULT_SENSOR: "sensor", FAULT_CLOCK: "clock",
}

# STATE.flags
STATE_FLAG_CLAMPED: Final = 1 << 0
STATE_FLAG_RAMPING: Final = 1 << 1
STATE_FLAG_SATURATED: Final = 1 << 2
STATE_FLAG_LOCAL_SPRING: Final = 1 << 3

# COMMAND.flags
COMMAND_FLAG_LOCAL_SPRING: Final = 1 << 0

# DEVICE_INFO.device_type and capabilities
DEVICE_TYPE_PADDLE: Final = 0x01
DEVICE_TYPE_TAXEL: Final = 0x02
DEVICE_TYPE_EMULATED: Final = 0x80
DEVICE_TYPE_KIND_MASK: Final = 0x7F
DEVICE_KIND_NAMES: Final = {DEVICE_TYPE_PADDLE: "paddle", DEVICE_TYPE_TAXEL: "taxel"}

# Which devices speak a message (MessageDef.kinds); each kind has its own schema hash.
KIND_PADDLE: Final = 1 << 0
KIND_TAXEL: Final = 1 << 1
KIND_BOTH: Final = KIND_PADDLE | KIND_TAXEL
KIND_OF_DEVICE_TYPE: Final = {DEVICE_TYPE_PADDLE: KIND_PADDLE, DEVICE_TYPE_TAXEL: KIND_TAXEL}

# Taxel boards: TAXEL_FRAME chunks carry this many u16 counts each, the last zero-padded.
TAXEL_CHUNK_VALUES: Final = 112
# TAXEL_FRAME.flags
TAXEL_FLAG_SATURATED: Final = 1 << 0  # some taxel read the ADC's full scale
TAXEL_FLAG_SENSOR: Final = 1 << 1     # a row's ADC timed out: that row reads 0
TAXEL_FLAG_LATE: Final = 1 << 2       # the scan began more than 1.5 periods after the last
TAXEL_FLAG_NAMES: Final = {
    TAXEL_FLAG_SATURATED: "saturated", TAXEL_FLAG_SENSOR: "sensor", TAXEL_FLAG_LATE: "late",
}
CAP_LOCAL_SPRING: Final = 1 << 0
CAP_TIME_SYNC: Final = 1 << 1
CAP_HW_WATCHDOG: Final = 1 << 2
CAP_TICK_SYNC: Final = 1 << 3
CAP_CURRENT_SENSE: Final = 1 << 4
CAP_NAMES: Final = {
    CAP_LOCAL_SPRING: "local_spring", CAP_TIME_SYNC: "time_sync", CAP_HW_WATCHDOG: "hw_watchdog",
    CAP_TICK_SYNC: "tick_sync", CAP_CURRENT_SENSE: "current_sense",
}


# -- host → device ----------------------------------------------------------------------
class Hello(NamedTuple):
    nonce: int


class Command(NamedTuple):
    seq: int
    force_n: float
    flags: int = 0


class Arm(NamedTuple):
    nonce: int


class Disarm(NamedTuple):
    nonce: int


class ClearFault(NamedTuple):
    nonce: int


class Heartbeat(NamedTuple):
    counter: int


class TimeSync(NamedTuple):
    host_time_us: int


class SetParams(NamedTuple):
    nonce: int
    watchdog_ms: int
    ramp_ms: int
    clamp_n: float
    spring_k: float
    damping_b: float
    anchor_m: float


# -- device → host ----------------------------------------------------------------------
class DeviceInfoReply(NamedTuple):
    nonce: int
    protocol_version: int
    fw_major: int
    fw_minor: int
    fw_patch: int
    device_type: int
    axes: int
    capabilities: int
    schema_hash: int
    serial: int
    rate_hz: int
    watchdog_ms: int
    position_lsb_m: float
    force_lsb_n: float
    max_force_n: float
    clamp_n: float


class State(NamedTuple):
    seq: int
    time_us: int
    last_cmd_seq: int
    position_m: float
    velocity_mps: float
    force_cmd_n: float
    force_meas_n: float
    arm_state: int
    flags: int
    fault_bits: int
    rx_errors: int
    overruns: int


class Ack(NamedTuple):
    nonce: int
    request_type: int
    result: int
    arm_state: int
    fault_bits: int


class HeartbeatReply(NamedTuple):
    counter: int
    device_time_us: int


class TimeSyncReply(NamedTuple):
    host_time_us: int
    device_time_us: int


class ErrorCounters(NamedTuple):
    rx_frames: int
    rx_crc_errors: int
    rx_framing_errors: int
    rx_version_errors: int
    rx_unknown_type: int
    rx_bad_length: int
    rx_stale_commands: int
    ctl_duplicates: int
    loop_overruns: int
    watchdog_trips: int
    tx_dropped: int


class TaxelInfo(NamedTuple):
    """A taxel board's geometry and scale, sent right after DEVICE_INFO with the same nonce."""

    nonce: int
    rows: int
    cols: int
    chunk_values: int
    chunks: int
    frame_rate_hz: float
    pitch_m: float
    pressure_lsb_pa: float
    max_count: int
    scan_us: int


class TaxelFrame(NamedTuple):
    """One chunk of a scanned frame: `values` holds TAXEL_CHUNK_VALUES u16 LE counts."""

    frame_seq: int
    time_us: int
    chunk: int
    chunks: int
    flags: int
    values: bytes


Message = (
    Hello | Command | Arm | Disarm | ClearFault | Heartbeat | TimeSync | SetParams
    | DeviceInfoReply | State | Ack | HeartbeatReply | TimeSyncReply | ErrorCounters
    | TaxelInfo | TaxelFrame
)

_FIELD_CODE = re.compile(r"\d+s|[BHIQf]")


def format_fields(fmt: str) -> list[str]:
    """The fields of a layout's `struct` format, one code each: "<IQ4s" → ["I", "Q", "4s"]."""
    return _FIELD_CODE.findall(fmt[1:])


@dataclass(frozen=True)
class MessageDef:
    """One message: type byte, name, struct format and the NamedTuple it decodes to."""

    msg_type: int
    name: str
    fmt: str
    cls: type[Any]
    frozen: bool = False
    kinds: int = KIND_PADDLE
    struct: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "struct", struct.Struct(self.fmt))
        if "".join(format_fields(self.fmt)) != self.fmt[1:] or (
                len(format_fields(self.fmt)) != len(self.cls._fields)):
            raise AssertionError(f"{self.name}: format {self.fmt} does not match its fields")

    @property
    def size(self) -> int:
        """Payload size in bytes."""
        return self.struct.size


MESSAGES: Final[tuple[MessageDef, ...]] = (
    MessageDef(MsgType.HELLO, "HELLO", "<I", Hello, frozen=True, kinds=KIND_BOTH),
    MessageDef(MsgType.COMMAND, "COMMAND", "<IfB", Command),
    MessageDef(MsgType.ARM, "ARM", "<I", Arm),
    MessageDef(MsgType.DISARM, "DISARM", "<I", Disarm),
    MessageDef(MsgType.CLEAR_FAULT, "CLEAR_FAULT", "<I", ClearFault),
    MessageDef(MsgType.HEARTBEAT, "HEARTBEAT", "<I", Heartbeat, kinds=KIND_BOTH),
    MessageDef(MsgType.TIME_SYNC, "TIME_SYNC", "<Q", TimeSync, kinds=KIND_BOTH),
    MessageDef(MsgType.SET_PARAMS, "SET_PARAMS", "<IHHffff", SetParams),
    MessageDef(MsgType.DEVICE_INFO, "DEVICE_INFO", "<IBBBBBBHIIHHffff", DeviceInfoReply,
               frozen=True, kinds=KIND_BOTH),
    MessageDef(MsgType.STATE, "STATE", "<IQIffffBBHII", State),
    MessageDef(MsgType.ACK, "ACK", "<IBBBH", Ack),
    MessageDef(MsgType.HEARTBEAT_REPLY, "HEARTBEAT_REPLY", "<IQ", HeartbeatReply,
               kinds=KIND_BOTH),
    MessageDef(MsgType.TIME_SYNC_REPLY, "TIME_SYNC_REPLY", "<QQ", TimeSyncReply,
               kinds=KIND_BOTH),
    MessageDef(MsgType.ERROR_COUNTERS, "ERROR_COUNTERS", "<IIIIIIIIIII", ErrorCounters,
               kinds=KIND_BOTH),
    MessageDef(MsgType.TAXEL_INFO, "TAXEL_INFO", "<IBBBBfffHI", TaxelInfo, kinds=KIND_TAXEL),
    MessageDef(MsgType.TAXEL_FRAME, "TAXEL_FRAME", f"<IQBBH{2 * TAXEL_CHUNK_VALUES}s",
               TaxelFrame, kinds=KIND_TAXEL),
)
BY_TYPE: Final = {d.msg_type: d for d in MESSAGES}
BY_CLASS: Final = {d.cls: d for d in MESSAGES}
BY_NAME: Final = {d.name: d for d in MESSAGES}


def schema_text(kind: int = KIND_PADDLE) -> str:
    """The text hashed into a kind's schema hash: one "<type hex> <NAME> <format>" line per
    message that kind of device speaks, in type order."""
    return "".join(f"{d.msg_type:02x} {d.name} {d.fmt}\n" for d in MESSAGES if d.kinds & kind)


SCHEMA_HASH: Final = zlib.crc32(schema_text(KIND_PADDLE).encode("ascii"))  # the paddle's
TAXEL_SCHEMA_HASH: Final = zlib.crc32(schema_text(KIND_TAXEL).encode("ascii"))


def device_kind(device_type: int) -> str:
    """The kind a DEVICE_INFO.device_type names ("paddle", "taxel"), or "unknown(0xNN)"."""
    kind = device_type & DEVICE_TYPE_KIND_MASK
    return DEVICE_KIND_NAMES.get(kind, f"unknown(0x{kind:02x})")

# The hot path's layouts, looked up once.
STATE_STRUCT: Final = BY_TYPE[MsgType.STATE].struct
COMMAND_STRUCT: Final = BY_TYPE[MsgType.COMMAND].struct
_STATE_BODY_SIZE: Final = 2 + STATE_STRUCT.size
_COMMAND_HEADER: Final = bytes((PROTOCOL_VERSION, MsgType.COMMAND))


def encode(msg: Message, version: int = PROTOCOL_VERSION) -> bytes:
    """The frame body of `msg`: [version][type][payload].

    Raises MessageError for a value that does not fit its field (e.g. a force beyond float32).
    """
    d = BY_CLASS[type(msg)]
    try:
        return bytes((version, d.msg_type)) + d.struct.pack(*msg)
    except (struct.error, OverflowError) as exc:
        raise MessageError(f"{d.name}: cannot encode {msg}: {exc}") from exc


def encode_wire(msg: Message, version: int = PROTOCOL_VERSION) -> bytes:
    """Wire bytes of `msg` (COBS frame with CRC and delimiter). Raises MessageError like encode."""
    return encode_frame(encode(msg, version))


def encode_command(seq: int, force_n: float, flags: int = 0) -> bytes:
    """Wire bytes of a COMMAND, the one message sent at 1 kHz. `force_n` must fit a float32."""
    body = _COMMAND_HEADER + COMMAND_STRUCT.pack(seq & 0xFFFFFFFF, force_n, flags)
    return encode_frame(body)


def classify(body: bytes, expect_version: int = PROTOCOL_VERSION) -> str:
    """Why a frame body would be refused: "ok", "short", "version", "unknown_type" or "length"."""
    if len(body) < 2:
        return "short"
    d = BY_TYPE.get(body[1])
    if d is None:
        return "unknown_type" if body[0] == expect_version else "version"
    if not d.frozen and body[0] != expect_version:
        return "version"
    have = len(body) - 2
    if have < d.size or (have > d.size and d.msg_type != MsgType.DEVICE_INFO):
        return "length"
    return "ok"


def decode(body: bytes, expect_version: int = PROTOCOL_VERSION) -> Message:
    """Decode a frame body (CRC already checked).

    Frozen messages decode whatever their version byte; DEVICE_INFO may carry appended fields.
    Raises MessageError naming the reason (see `classify`).
    """
    if len(body) == _STATE_BODY_SIZE and body[1] == MsgType.STATE and body[0] == expect_version:
        return State._make(STATE_STRUCT.unpack_from(body, 2))
    reason = classify(body, expect_version)
    if reason != "ok":
        raise MessageError(f"frame refused ({reason}): {body[:8].hex()}…")
    d = BY_TYPE[body[1]]
    msg: Message = d.cls._make(d.struct.unpack_from(body, 2))
    return msg


def describe(msg: Message) -> str:
    """'field=value ...' in layout order, floats as %.9g of their float32 value (as the C side)."""
    d = BY_CLASS[type(msg)]
    parts = []
    for name, code, value in zip(msg._fields, format_fields(d.fmt), msg, strict=True):
        if isinstance(value, bytes):
            parts.append(f"{name}={value.hex()}")
        elif code == "f":
            f32 = struct.unpack("<f", struct.pack("<f", value))[0]
            parts.append(f"{name}={f32:.9g}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)

