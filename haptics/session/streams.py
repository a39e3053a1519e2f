"""Stream files: the Arrow schema of a layout, where a stream's file may be, its hash, and
reading it back batch by batch, damaged or cut off.

The bottom of `haptics.session`: the recorder writes with these schemas, the reader, QA and
repair read with these functions, and none of them import each other for it.

A stream file is an Arrow IPC *stream*: a schema message, record batch messages, and an
end-of-stream marker. Every message starts at an 8-byte boundary with the continuation
marker 0xFFFFFFFF and a 32-bit metadata length. `scan_stream` uses that framing to step over
a damaged message and keep every intact batch after it.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final

import numpy as np
import pyarrow as pa

from haptics.errors import MessageError, SessionError
from haptics.session.manifest import StreamInfo
from haptics.wire.messages import Layout

CONTINUATION: Final = b"\xff\xff\xff\xff"
EOS: Final = CONTINUATION + b"\x00\x00\x00\x00"  # Arrow IPC end-of-stream marker
_MAX_METADATA: Final = 1 << 20  # a larger metadata length is not one we wrote


def arrow_type(layout: Layout, name: str) -> pa.DataType:
    """The Arrow type of one recorded column: the numpy type, or for an array field a
    fixed-size list of its flattened (row-major) values; the shape is in the field's
    metadata and in the manifest's layout spec."""
    dtype = layout.dtype[name]
    if dtype.subdtype is None:
        return pa.from_numpy_dtype(dtype)
    base, shape = dtype.subdtype
    return pa.list_(pa.from_numpy_dtype(base), int(np.prod(shape)))


def arrow_schema(layout: Layout) -> pa.Schema:
    """The Arrow schema of a layout's recorded columns (the kind/version header is dropped)."""
    fields = []
    for n in layout.names[2:]:
        shape = layout.shape(n)
        meta = {b"shape": ",".join(map(str, shape)).encode()} if shape else None
        fields.append(pa.field(n, arrow_type(layout, n), metadata=meta))
    return pa.schema(fields)


def layout_for(info: StreamInfo) -> Layout | None:
    """The layout of a manifest's stream entry: a known one by name and version, else the
    spec the recorder kept for a declared stream; None when neither is there."""
    layout = known_layout(info.layout, info.layout_version)
    if layout is None and info.spec is not None:
        with contextlib.suppress(MessageError):
            found = Layout.from_spec(info.spec)
            if found.name == info.layout and found.version == info.layout_version:
                return found
    return layout


def known_layout(name: str, version: int | None = None) -> Layout | None:
    """The layout a manifest's stream entry names (at its `layout_version`, which may be an
    older one; None: the current): the wire layouts, and the video's frame index (imported
    only when asked for); None for a layout or version this haptics does not know."""
    from haptics.wire.messages import LAYOUTS, layout_version

    if name in LAYOUTS:
        return LAYOUTS[name] if version is None else layout_version(name, version)
    if name == "frames":
        from haptics.session.video import FRAME_INDEX

        return FRAME_INDEX
    return None


def seq_column(columns: list[str] | tuple[str, ...]) -> str:
    """The name of a stream's sequence column: "tick" for telemetry, "seq" for the rest."""
    return "tick" if "tick" in columns else "seq"


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file. Raises OSError if it cannot be read."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stream_path(session_dir: Path, file: str) -> Path:
    """Where a manifest's stream `file` entry points, inside `session_dir`.

    Raises SessionError if the entry leaves the session folder (absolute, `..`, or a link
    that resolves outside): nothing outside a session is ever read or written for it.
    """
    rel = PurePosixPath(file.replace("\\", "/"))
    if not file or rel.is_absolute() or ".." in rel.parts or rel == PurePosixPath("."):
        raise SessionError(
            f"the manifest's stream file '{file}' points outside the session {session_dir}; "
            f"edit {session_dir / 'manifest.json'} so it names a file in the session folder"
        )
    path = session_dir / rel
    root = session_dir.resolve()
    if path.is_symlink() or path.exists():
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise SessionError(
                f"{path} is a link to {resolved}, outside the session; copy the file into "
                "the session folder instead"
            )
    return path


@dataclass
class StreamScan:
    """What a stream file holds: its intact batches and where it is damaged.

    damaged: byte ranges (start, end) that hold no readable message, with intact batches
    after them; cut_at: the offset where an incomplete last message starts (a writer killed
    mid-batch, or a file cut short), None if the file ends cleanly.
    """

    path: Path
    schema: pa.Schema
    batches: list[pa.RecordBatch] = field(default_factory=list)
    batch_offsets: list[int] = field(default_factory=list)
    damaged: list[tuple[int, int]] = field(default_factory=list)
    cut_at: int | None = None
    schema_damaged: bool = False
    ended: bool = False  # the end-of-stream marker was found
    size: int = 0

    @property
    def table(self) -> pa.Table:
        return pa.Table.from_batches(self.batches, schema=self.schema)

    @property
    def rows(self) -> int:
        return sum(b.num_rows for b in self.batches)

    @property
    def intact(self) -> bool:
        """Nothing damaged and nothing cut off."""
        return not self.damaged and self.cut_at is None and not self.schema_damaged

    def describe(self) -> str:
        """One sentence on what is wrong with the file ('' if nothing)."""
        parts = []
        if self.schema_damaged:
            parts.append("its schema message is damaged (read with the layout's schema)")
        if self.damaged:
            lost = sum(b - a for a, b in self.damaged)
            parts.append(
                f"{len(self.damaged)} damaged region(s), {lost} bytes unreadable "
                f"(first at byte {self.damaged[0][0]})"
            )
        if self.cut_at is not None:
            parts.append(f"cut off mid-batch at byte {self.cut_at} of {self.size}")
        return "; ".join(parts)


def _open_bytes(path: Path) -> pa.Buffer:
    """The file's bytes (memory-mapped). Raises SessionError if missing or unreadable."""
    if not path.exists() and not path.is_symlink():
        raise SessionError(
            f"{path} is missing; the session may have been moved or cut short "
            "(`haptics sessions repair` recreates it empty)"
        )
    try:
        if path.stat().st_size == 0:
            return pa.py_buffer(b"")
        with pa.memory_map(str(path)) as mm:
            return mm.read_buffer()
    except (OSError, pa.ArrowException) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise SessionError(
            f"{path} cannot be read ({why}); check that it is a file you may read, then try again"
        ) from exc


def _read_message_at(buf: pa.Buffer, offset: int) -> tuple[pa.ipc.Message, int] | None:
    """The IPC message starting at `offset` and where the next one starts; None if there
    is no well-formed message there."""
    if offset + 8 > buf.size or buf[offset : offset + 4].to_pybytes() != CONTINUATION:
        return None
    length = int.from_bytes(buf[offset + 4 : offset + 8].to_pybytes(), "little", signed=True)
    if length <= 0 or length > _MAX_METADATA or offset + 8 + length > buf.size:
        return None
    reader = pa.BufferReader(buf)
    reader.seek(offset)
    try:
        msg = pa.ipc.read_message(reader)
    except (pa.ArrowException, OSError, ValueError, EOFError):
        return None
    end = reader.tell()
    if end > buf.size or end <= offset:
        return None
    return msg, end


def _batch(msg: pa.ipc.Message, schema: pa.Schema) -> pa.RecordBatch | None:
    if msg.type != "record batch":
        return None
    try:
        batch = pa.ipc.read_record_batch(msg, schema)
        batch.validate(full=True)
    except (pa.ArrowException, ValueError, OSError):
        return None
    return batch


def _resync(buf: pa.Buffer, raw: bytes, start: int, schema: pa.Schema) -> int | None:
    """The offset of the next intact record batch after `start`, found by its framing (an
    8-byte aligned continuation marker, a message that parses, a batch that validates);
    `raw` is the buffer's bytes, to search in."""
    pos = start + 8 - (start % 8) if start % 8 else start + 8
    while True:
        pos = raw.find(CONTINUATION, pos)
        if pos < 0:
            return None
        if pos % 8:
            pos += 8 - pos % 8
            continue
        found = _read_message_at(buf, pos)
        if found is not None and _batch(found[0], schema) is not None:
            return pos
        pos += 8


def scan_stream(path: Path, schema: pa.Schema | None = None) -> StreamScan:
    """Every intact record batch of a stream file, stepping over damaged messages.

    `schema` (the layout's) is used when the file's own schema message is damaged, and
    the file's schema must match it otherwise. Raises SessionError if the file is missing
    or cannot be read, or holds no schema and none was given.
    """
    buf = _open_bytes(path)
    scan = StreamScan(path=path, schema=schema or pa.schema([]), size=buf.size)
    copy: list[bytes] = []

    def raw() -> bytes:  # the bytes to search, copied once, only if something is damaged
        if not copy:
            copy.append(memoryview(buf).tobytes())
        return copy[0]

    first = _read_message_at(buf, 0)
    offset = 0
    if first is not None and first[0].type == "schema":
        try:
            file_schema = pa.ipc.read_schema(first[0])
        except (pa.ArrowException, ValueError):
            file_schema = None
        if file_schema is not None and (schema is None or file_schema.equals(schema)):
            scan.schema, offset = file_schema, first[1]
    if offset == 0:
        if schema is None:
            if buf.size == 0:
                raise SessionError(f"{path} is empty: not even a schema was written")
            raise SessionError(
                f"{path} is not an Arrow stream (no schema at its start); "
                "run `haptics sessions repair` on the session"
            )
        if buf.size == 0:
            scan.cut_at = 0
            return scan
        scan.schema_damaged = True
        nxt = _resync(buf, raw(), 0, scan.schema)
        if nxt is None:
            scan.damaged.append((0, buf.size))
            return scan
        scan.damaged.append((0, nxt))
        offset = nxt
    while offset < buf.size:
        if buf[offset : offset + 8].to_pybytes() == EOS:
            scan.ended = True
            break
        found = _read_message_at(buf, offset)
        batch = _batch(found[0], scan.schema) if found is not None else None
        if found is not None and batch is not None:
            scan.batches.append(batch)
            scan.batch_offsets.append(offset)
            offset = found[1]
            continue
        nxt = _resync(buf, raw(), offset, scan.schema)
        if nxt is None:  # nothing intact after: a cut-off (or ruined) tail
            scan.cut_at = offset
            break
        scan.damaged.append((offset, nxt))
        offset = nxt
    return scan


def read_stream_checked(
    path: Path, schema: pa.Schema | None = None
) -> tuple[pa.Table, StreamScan | None]:
    """All intact record batches of a stream file, and the scan when the file is not whole
    (None when it read in one call).

    Raises SessionError if the file is missing, unreadable, or not an Arrow stream.
    """
    buf = _open_bytes(path)
    with contextlib.suppress(pa.ArrowException, OSError, ValueError):
        table = pa.ipc.open_stream(buf).read_all()
        if schema is None or table.schema.equals(schema):
            table.validate()
            return table, None
    scan = scan_stream(path, schema)
    return scan.table, scan


def read_stream(path: Path, schema: pa.Schema | None = None) -> tuple[pa.Table, bool]:
    """All intact record batches of a stream file; (table, damaged or cut off).

    Reads in one call when the file is whole, and falls back to `scan_stream` otherwise.
    Raises SessionError if the file is missing, unreadable, or not an Arrow stream.
    """
    table, scan = read_stream_checked(path, schema)
    return table, scan is not None and not scan.intact
