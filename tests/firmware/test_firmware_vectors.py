"""The Python codec against firmware/test_vectors/vectors.txt, the file the C tests read too."""

from __future__ import annotations

import binascii
import zlib
from pathlib import Path

import pytest

from drivers.serial import framing, protocol
from haptics.errors import MessageError

VECTORS = Path(__file__).resolve().parents[2] / "firmware" / "test_vectors" / "vectors.txt"


def _load() -> list[tuple[int, list[str]]]:
    rows = []
    for lineno, line in enumerate(VECTORS.read_text().splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append((lineno, line.split()))
    return rows


ROWS = _load()


def _of(kind: str) -> list[list[str]]:
    return [tok for _, tok in ROWS if tok[0] == kind]


def _hex(s: str) -> bytes:
    return b"" if s == "-" else bytes.fromhex(s)


def test_vector_file_has_every_kind() -> None:
    kinds = {tok[0] for _, tok in ROWS}
    assert {"crc16", "crc32", "cobs", "schema_line", "schema", "frame", "reject"} <= kinds
    names = {tok[1] for tok in _of("frame")}
    assert names == {d.name for d in protocol.MESSAGES}, "every message type has a vector"


@pytest.mark.parametrize("tok", _of("crc16"), ids=lambda t: t[1][:16])
def test_crc16(tok: list[str]) -> None:
    assert framing.crc16(_hex(tok[1])) == int(tok[2], 16)


def test_crc16_check_value() -> None:
    assert binascii.crc_hqx(b"123456789", 0xFFFF) == 0x29B1 == framing.crc16(b"123456789")


@pytest.mark.parametrize("tok", _of("crc32"), ids=lambda t: t[1][:16])
def test_crc32(tok: list[str]) -> None:
    assert zlib.crc32(_hex(tok[1])) == int(tok[2], 16)


@pytest.mark.parametrize("tok", _of("cobs"), ids=lambda t: t[1][:16])
def test_cobs(tok: list[str]) -> None:
    raw, enc = _hex(tok[1]), _hex(tok[2])
    assert framing.cobs_encode(raw) == enc
    assert framing.cobs_decode(enc) == raw


def test_schema_text_and_hash() -> None:
    want = "".join(f"{t[1]} {t[2]} {t[3]}\n" for t in _of("schema_line"))
    assert protocol.schema_text() == want
    (schema,) = _of("schema")
    assert int(schema[1], 16) == protocol.SCHEMA_HASH


def test_taxel_schema_text_and_hash() -> None:
    """The taxel board's own message set: its schema lines and hash, and the paddle's intact."""
    want = "".join(f"{t[1]} {t[2]} {t[3]}\n" for t in _of("taxel_schema_line"))
    assert protocol.schema_text(protocol.KIND_TAXEL) == want
    (schema,) = _of("taxel_schema")
    assert int(schema[1], 16) == protocol.TAXEL_SCHEMA_HASH
    assert protocol.TAXEL_SCHEMA_HASH != protocol.SCHEMA_HASH
    assert "TAXEL" not in protocol.schema_text()  # the paddle's schema is the paddle's alone
    assert protocol.SCHEMA_HASH == 0xBB319D56


@pytest.mark.parametrize("tok", _of("frame"), ids=lambda t: t[1])
def test_frame_decodes_to_listed_fields(tok: list[str]) -> None:
    wire = _hex(tok[2])
    reader = framing.FrameReader()
    (body,) = reader.feed(wire)
    msg = protocol.decode(body)
    assert protocol.BY_CLASS[type(msg)].name == tok[1]
    assert protocol.describe(msg) == " ".join(tok[3:])


@pytest.mark.parametrize("tok", _of("frame"), ids=lambda t: t[1])
def test_frame_re_encodes_to_the_same_bytes(tok: list[str]) -> None:
    wire = _hex(tok[2])
    body = framing.decode_frame(wire[:-1])
    msg = protocol.decode(body)
    assert protocol.encode_wire(msg, version=body[0]) == wire
    if isinstance(msg, protocol.Command):
        assert protocol.encode_command(msg.seq, msg.force_n, msg.flags) == wire


@pytest.mark.parametrize("tok", _of("reject"), ids=lambda t: t[1])
def test_reject(tok: list[str]) -> None:
    why, wire = tok[1], _hex(tok[2])
    reader = framing.FrameReader()
    bodies = reader.feed(wire)
    if why in ("cobs", "short", "long"):
        assert bodies == [] and reader.framing_errors == 1 and reader.crc_errors == 0
    elif why == "crc":
        assert bodies == [] and reader.crc_errors == 1 and reader.framing_errors == 0
    else:
        (body,) = bodies
        assert protocol.classify(body) == why
        with pytest.raises(MessageError):
            protocol.decode(body)
