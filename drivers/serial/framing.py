"""Frames on the wire: COBS([version][type][payload][crc16 LE]) followed by a 0x00 byte.

Mirrors firmware/core/cobs.c, crc16.c and framing.c; firmware/test_vectors/vectors.txt pins
both to the same bytes. COBS output has no 0x00, so 0x00 delimits frames and a reader
resynchronises at the next delimiter after any corruption: a bad byte costs the frame it is
in, never the stream. CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) is
`binascii.crc_hqx(data, 0xFFFF)`.
"""

from __future__ import annotations

import binascii
from typing import Final

from haptics.errors import MessageError

FRAME_RAW_MAX: Final = 255                       # header + payload + crc, before COBS
FRAME_BODY_MAX: Final = FRAME_RAW_MAX - 2        # header + payload
FRAME_ENCODED_MAX: Final = 257                   # COBS of 255 bytes
FRAME_WIRE_MAX: Final = FRAME_ENCODED_MAX + 1    # + delimiter
_MIN_RAW: Final = 4                              # version + type + crc16


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of `data` (check value 0x29B1 for b"123456789")."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode `data` (no delimiter). A trailing full 254-byte block gets no extra code."""
    out = bytearray()
    chunks = data.split(b"\x00")
    last = len(chunks) - 1
    for i, chunk in enumerate(chunks):
        full = False
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
            full = True
        if i == last and full and not chunk:
            break
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (without delimiter).

    Raises MessageError when `data` is empty, contains 0x00 or a block runs past its end.
    """
    n = len(data)
    if n == 0:
        raise MessageError("COBS: empty frame")
    if 0 in data:
        raise MessageError("COBS: 0x00 inside a frame")
    out = bytearray()
    i = 0
    while i < n:
        code = data[i]
        end = i + code
        if end > n:
            raise MessageError("COBS: block runs past the end of the frame")
        out += data[i + 1:end]
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(body: bytes) -> bytes:
    """Wire bytes for a frame body ([version][type][payload]): CRC, COBS and the delimiter.

    Raises MessageError when the body is shorter than its header or longer than 253 bytes.
    """
    if not 2 <= len(body) <= FRAME_BODY_MAX:
        raise MessageError(f"frame body of {len(body)} bytes: must be 2..{FRAME_BODY_MAX}")
    crc = binascii.crc_hqx(body, 0xFFFF)
    return cobs_encode(body + bytes((crc & 0xFF, crc >> 8))) + b"\x00"


def decode_frame(encoded: bytes) -> bytes:
    """The body of one encoded frame (without delimiter), CRC checked.

    Raises MessageError for bad COBS, a frame too short or too long, or a CRC mismatch.
    """
    if len(encoded) > FRAME_ENCODED_MAX:
        raise MessageError(f"frame of {len(encoded)} encoded bytes exceeds {FRAME_ENCODED_MAX}")
    raw = cobs_decode(encoded)
    if len(raw) < _MIN_RAW:
        raise MessageError(f"frame of {len(raw)} bytes is shorter than header + CRC")
    body = raw[:-2]
    if binascii.crc_hqx(body, 0xFFFF) != raw[-2] | raw[-1] << 8:
        raise MessageError("CRC mismatch")
    return body


class FrameReader:
    """Streaming frame reader: feed it received bytes, get the bodies of valid frames.

    Bytes up to each 0x00 form one candidate frame; a candidate that is not valid COBS, too
    short, too long (more than FRAME_ENCODED_MAX bytes without a delimiter) or fails its CRC
    is dropped and counted, and reading resumes after the delimiter. Empty frames (0x00 0x00)
    are ignored silently. Never raises on any input.
    """

    __slots__ = ("_buf", "_discarding", "crc_errors", "frames_ok", "framing_errors")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False
        self.frames_ok = 0
        self.crc_errors = 0
        self.framing_errors = 0

    def reset(self) -> None:
        """Drop any partial frame (counters are kept)."""
        self._buf.clear()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        """Bodies ([version][type][payload]) of the frames completed by `data`, in order."""
        if 0 not in data:
            self._append(data)
            return []
        parts = data.split(b"\x00")
        bodies: list[bytes] = []
        for k, part in enumerate(parts):
            if k == len(parts) - 1:
                self._append(part)
                break
            if self._discarding:
                self._discarding = False
                self._buf.clear()
                continue
            if self._buf:
                self._buf += part
                candidate = bytes(self._buf)
                self._buf.clear()
            else:
                candidate = part
            if not candidate:
                continue
            body = self._check(candidate)
            if body is not None:
                bodies.append(body)
        return bodies

    def _append(self, part: bytes) -> None:
        if self._discarding or not part:
            return
        self._buf += part
        if len(self._buf) > FRAME_ENCODED_MAX:
            self._buf.clear()
            self._discarding = True
            self.framing_errors += 1

    def _check(self, encoded: bytes) -> bytes | None:
        if len(encoded) > FRAME_ENCODED_MAX:
            self.framing_errors += 1
            return None
        try:
            raw = cobs_decode(encoded)
        except MessageError:
            self.framing_errors += 1
            return None
        if len(raw) < _MIN_RAW:
            self.framing_errors += 1
            return None
        body = raw[:-2]
        if binascii.crc_hqx(body, 0xFFFF) != raw[-2] | raw[-1] << 8:
            self.crc_errors += 1
            return None
        self.frames_ok += 1
        return body
