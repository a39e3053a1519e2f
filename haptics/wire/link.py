"""The teleoperation link's two messages and how a receiver accepts them (pure).

The operator's side (the leader) sends LEADER: the device sample it just read, the energy its
port passes on to the follower (time-domain passivity, `haptics.loop.bilateral.send`) and an
echo of the newest FOLLOWER it received (for the round trip). The follower's side sends
FOLLOWER: the force its loop commanded and its port's energy. Each message carries a link
sequence number and its sender's `time.monotonic_ns()`; the two hosts' clocks are unrelated
until the follower fits them (`haptics.session.clock`).

`accept_link` decides what a receiver does with one message: a newer one is taken; bytes that
are not the layout, hold non-finite numbers or jump implausibly far in sequence are bad; a
sequence number at or below the newest taken is a replay (or arrived late behind a newer
one). Bad and replayed messages are counted by the caller and ignored; none raises.
"""

from __future__ import annotations

import math
from typing import Final

from haptics.errors import HapticsError
from haptics.wire.messages import Layout

_HEADER = (("kind", "u1"), ("version", "u1"))
_VEC = ("x", "y", "z")

LEADER = Layout(
    "leader",
    kind=16,
    version=1,
    fields=(
        *_HEADER,
        ("link_seq", "u8"),
        ("sender_ns", "i8"),  # operator host's monotonic clock at send
        ("dev_seq", "u8"),  # the device sample's own seq and clock
        ("device_time_ns", "i8"),
        ("px", "f8"), ("py", "f8"), ("pz", "f8"),
        ("vx", "f8"), ("vy", "f8"), ("vz", "f8"),
        ("fx", "f8"), ("fy", "f8"), ("fz", "f8"),  # measured
        ("afx", "f8"), ("afy", "f8"), ("afz", "f8"),  # applied
        ("buttons", "u4"),
        ("status", "u4"),
        *((f"e_sent_{a}", "f8") for a in _VEC),  # energy the leader port sent (J)
        ("echo_seq", "u8"),  # newest FOLLOWER link_seq received (0: none)
        ("echo_sender_ns", "i8"),  # its sender_ns (follower clock)
        ("echo_hold_ns", "i8"),  # operator time from its arrival to this send (-1: none)
        ("cmd_seq", "u8"),  # the follower loop's command it carried, now applied here
        ("cmd_state_seq", "u8"),
    ),
)  # fmt: skip

FOLLOWER = Layout(
    "follower",
    kind=17,
    version=1,
    fields=(
        *_HEADER,
        ("link_seq", "u8"),
        ("sender_ns", "i8"),  # follower host's monotonic clock at send
        ("cmd_seq", "u8"),  # the loop's COMMAND this force comes from
        ("cmd_state_seq", "u8"),
        ("fx", "f8"), ("fy", "f8"), ("fz", "f8"),  # force to show the operator (device frame)
        ("flags", "u4"),
        *((f"e_sent_{a}", "f8") for a in _VEC),  # energy the follower port sent (J)
    ),
)  # fmt: skip

# A link sequence number may jump ahead (lost messages) by at most this: ten minutes at 1 kHz.
MAX_LINK_JUMP: Final = 600_000

LINK_NEW: Final = 0  # newer than anything taken: use it
LINK_BAD: Final = 1  # not the layout, non-finite, or an implausible sequence jump
LINK_REPLAY: Final = 2  # at or below the newest taken: replayed or overtaken

_FLOAT_FIELDS: Final = {
    layout.name: tuple(i for i, field in enumerate(layout.fields) if field[1] == "f8")
    for layout in (LEADER, FOLLOWER)
}


def accept_link(
    layout: Layout, raw: bytes, newest_seq: int
) -> tuple[int, tuple[float | int, ...] | None]:
    """What to do with one link message: (LINK_NEW | LINK_BAD | LINK_REPLAY, values or None).

    newest_seq: the newest link_seq taken so far (0: none). values are the unpacked fields
    (kind and version first) for LINK_NEW only. Never raises.
    """
    try:
        values = layout.unpack(raw)
    except HapticsError:
        return LINK_BAD, None
    if not all(math.isfinite(values[i]) for i in _FLOAT_FIELDS[layout.name]):
        return LINK_BAD, None
    seq = int(values[2])
    if seq <= newest_seq:
        return LINK_REPLAY, None
    if newest_seq and seq - newest_seq > MAX_LINK_JUMP:
        return LINK_BAD, None
    return LINK_NEW, values
