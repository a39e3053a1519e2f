"""Framing and codec: round trips, and a streaming reader that survives any input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.serial import framing, protocol
from haptics.errors import MessageError

F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
U64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
_CODES = {"B": U8, "H": U16, "I": U32, "Q": U64, "f": F32}


def _field(code: str) -> st.SearchStrategy[object]:
    if code.endswith("s"):  # a fixed run of bytes (TAXEL_FRAME values)
        n = int(code[:-1])
        return st.binary(min_size=n, max_size=n)
    return _CODES[code]


def _message(d: protocol.MessageDef) -> st.SearchStrategy[protocol.Message]:
    return st.builds(lambda *v: d.cls(*v), *(_field(c) for c in protocol.format_fields(d.fmt)))


ANY_MESSAGE = st.one_of(*(_message(d) for d in protocol.MESSAGES))


@settings(max_examples=300, deadline=None)
@given(ANY_MESSAGE)
def test_every_message_round_trips(msg: protocol.Message) -> None:
    wire = protocol.encode_wire(msg)
    assert wire.endswith(b"\x00") and 0 not in wire[:-1]
    assert len(wire) <= framing.FRAME_WIRE_MAX
    (body,) = framing.FrameReader().feed(wire)
    assert protocol.decode(body) == msg


@given(st.binary(max_size=600))
def test_cobs_round_trip(data: bytes) -> None:
    enc = framing.cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + (len(data) + 253) // 254 + (1 if not data else 0)
    assert framing.cobs_decode(enc) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_garbage_never_yields_a_bad_frame(garbage: bytes) -> None:
    reader = framing.FrameReader()
    for body in reader.feed(garbage):
        # whatever comes out passed the CRC: re-framing it reproduces a valid frame
        assert framing.decode_frame(framing.encode_frame(body)[:-1]) == body
        assert 2 <= len(body) <= framing.FRAME_BODY_MAX


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(ANY_MESSAGE, min_size=1, max_size=8),
       st.lists(st.integers(1, 64), min_size=1, max_size=50))
def test_resyncs_after_garbage_whatever_the_chunking(
        garbage: bytes, msgs: list[protocol.Message], cuts: list[int]) -> None:
    """Garbage, a delimiter, then frames: every frame comes through, however the bytes arrive."""
    stream = garbage + b"\x00" + b"".join(protocol.encode_wire(m) for m in msgs)
    reader = framing.FrameReader()
    bodies: list[bytes] = []
    i = 0
    k = 0
    while i < len(stream):
        n = cuts[k % len(cuts)]
        bodies += reader.feed(stream[i:i + n])
        i += n
        k += 1
    decoded = [protocol.decode(b) for b in bodies if protocol.classify(b) == "ok"]
    assert decoded[-len(msgs):] == msgs


SAMPLES = (
    protocol.Command(4000000000, -1.25, 1),
    protocol.State(1234567, 98765432101, 1234560, 0.0125, -0.25, 1.5, 1.375, 1, 3, 0, 3, 7),
    protocol.Ack(0xDEADBEEF, 3, 0, 1, 0),
    protocol.SetParams(42, 100, 50, 2.5, 800.0, 1.5, -0.0125),
)


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_single_bit_error_is_caught(msg: protocol.Message) -> None:
    """Flip each bit of the encoded frame in turn: the reader refuses every one."""
    wire = protocol.encode_wire(msg)
    for bit in range(8 * (len(wire) - 1)):  # the delimiter stays
        bad = bytearray(wire)
        bad[bit >> 3] ^= 1 << (bit & 7)
        reader = framing.FrameReader()
        assert reader.feed(bytes(bad) + b"\x00") == [], f"bit {bit}"
        assert reader.crc_errors + reader.framing_errors >= 1


def test_overlong_frame_is_dropped_and_reading_resumes() -> None:
    reader = framing.FrameReader()
    good = protocol.encode_wire(protocol.Heartbeat(3))
    assert reader.feed(b"\x01" * 1000) == []
    assert reader.feed(b"\x00" + good) == [protocol.encode(protocol.Heartbeat(3))]
    assert reader.framing_errors == 1


def test_empty_frames_are_not_errors() -> None:
    reader = framing.FrameReader()
    assert reader.feed(b"\x00\x00\x00") == []
    assert reader.framing_errors == reader.crc_errors == 0


def test_encode_rejects_what_does_not_fit() -> None:
    with pytest.raises(MessageError):
        protocol.encode(protocol.Command(1, 1e39, 0))
    with pytest.raises(MessageError):
        protocol.encode(protocol.Command(-1, 0.0, 0))
    with pytest.raises(MessageError):
        framing.encode_frame(b"\x01" * 300)


def test_decode_refuses_with_the_reason() -> None:
    body = protocol.encode(protocol.Command(5, 0.5))
    assert protocol.classify(body) == "ok"
    assert protocol.classify(b"\x01" + body[1:]) == "version"  # a v1 frame
    assert protocol.classify(bytes((protocol.PROTOCOL_VERSION + 1,)) + body[1:]) == "version"
    assert protocol.classify(body[:-1]) == "length"
    assert protocol.classify(bytes((protocol.PROTOCOL_VERSION, 0x7F))) == "unknown_type"
    # frozen messages decode whatever their version: a mismatch can still be reported
    info = protocol.encode(protocol.Hello(9), version=9)
    assert protocol.decode(info) == protocol.Hello(9)


def test_command_fast_path_matches_the_generic_encoder() -> None:
    for seq, force, flags in ((1, 0.0, 0), (0xFFFFFFFF, -2.5, 1), (1234, 0.1, 0)):
        assert protocol.encode_command(seq, force, flags) == protocol.encode_wire(
            protocol.Command(seq, force, flags))


def test_state_layout_is_what_the_firmware_sends() -> None:
    # protocol v2: rx_errors and overruns are u32 (v1 truncated them to u16)
    assert protocol.PROTOCOL_VERSION == 2
    assert protocol.BY_NAME["STATE"].size == struct.calcsize("<IQIffffBBHII") == 44
    assert protocol.SCHEMA_HASH == 0xBB319D56
    st = protocol.State(1, 2, 3, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 70_000, 0xFFFFFFFF)
    assert protocol.decode(protocol.encode(st)) == st
