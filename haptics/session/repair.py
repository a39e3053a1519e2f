"""Repairing a session: a recorder cut off (kill -9, power loss, full disk), or stream files
damaged since.

What repair may do, and nothing more:
- rewrite a stream file from its intact record batches (`streams.scan_stream` steps over a
  damaged message and keeps every intact batch after it), closed with an end-of-stream marker;
- recreate a missing stream file, empty, with its layout's schema;
- recount, re-hash and mark the manifest "repaired", with what was done in its notes.

Every file it changes (manifest included) is first moved or copied, unchanged, into
`<session>/repair-<UTC time>/`: nothing is deleted or truncated. It checks every stream before
it changes anything, and refuses (SessionError, nothing changed) when a manifest entry points
outside the session folder or a file cannot be read. Damage that cannot be located (a file
that reads whole but differs from its recorded hash) is reported and left as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from haptics.errors import SessionError
from haptics.session.manifest import MANIFEST_NAME, StreamInfo, write_manifest
from haptics.session.reading import Session, open_session
from haptics.session.streams import (
    StreamScan,
    arrow_schema,
    file_sha256,
    layout_for,
    scan_stream,
    seq_column,
    stream_path,
)
from haptics.wire.sequence import count_gaps

BACKUP_PREFIX = "repair-"
RESERVE_NAME = ".space-reserve"  # the recorder's disk-full reserve: zeros, never data


@dataclass
class _Plan:
    """What repair will do to one stream."""

    name: str
    path: Path
    action: str  # "keep", "rewrite", "create", "unresolved"
    scan: StreamScan | None
    why: str = ""


def _plan_stream(session: Session, name: str, info: StreamInfo) -> _Plan:
    """Decide what to do with one stream, changing nothing. Raises SessionError when repair
    must not go on (a path outside the session, an unreadable file)."""
    path = stream_path(session.path, info.file)
    layout = layout_for(info)
    schema = arrow_schema(layout) if layout is not None else None
    if not path.exists() and not path.is_symlink():
        if schema is None:
            raise SessionError(
                f"{path} is missing and its layout '{info.layout}' is unknown to this "
                "haptics, so it cannot be recreated; restore the file, or upgrade haptics"
            )
        return _Plan(name, path, "create", None, "missing")
    if not path.is_file():
        raise SessionError(
            f"{path} is not a regular file and cannot be read as a stream; put the stream "
            "file back in its place and run `haptics sessions repair` again (nothing changed)"
        )
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise SessionError(
            f"{path} cannot be read ({exc.strerror or exc}); fix its permissions and run "
            "`haptics sessions repair` again (nothing was changed)"
        ) from exc
    scan = scan_stream(path, schema)  # SessionError: not a stream at all, schema unknown
    if not scan.intact:
        return _Plan(name, path, "rewrite", scan, scan.describe())
    if info.sha256 and file_sha256(path) != info.sha256:
        return _Plan(
            name,
            path,
            "unresolved",
            scan,
            "every batch reads, but the file differs from the SHA-256 recorded at close: "
            "the damage is inside the data and cannot be located; the file is left as it is. "
            "Restore it from a copy if you have one",
        )
    if not scan.ended and not session.complete:
        return _Plan(name, path, "rewrite", scan, "no end-of-stream marker (recorder cut off)")
    return _Plan(name, path, "keep", scan)


def _write_stream(path: Path, schema: pa.Schema, batches: list[pa.RecordBatch]) -> None:
    """Write batches as a closed Arrow IPC stream at `path` (via a temporary file)."""
    tmp = path.with_name(path.name + ".repair-tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, schema) as w:
        for b in batches:
            w.write_batch(b)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _recount(info: StreamInfo, path: Path) -> None:
    table = pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
    seq = table.column(seq_column(table.column_names)).to_numpy() if table.num_rows else None
    info.received = table.num_rows
    info.first_seq = int(seq.min()) if seq is not None else None
    info.last_seq = int(seq.max()) if seq is not None else None
    info.gaps = count_gaps(seq) if seq is not None else 0
    info.sha256 = file_sha256(path)


def _is_reserve(path: Path) -> bool:
    """Whether `path` is the recorder's space reserve: a file of zero bytes' value only."""
    try:
        with open(path, "rb") as f:
            return all(not any(chunk) for chunk in iter(lambda: f.read(1 << 16), b""))
    except OSError:
        return False


def repair_session(path: str | Path) -> dict[str, Any]:
    """Repair a session in place; returns what was done per stream.

    "action" is "none" when nothing needed doing, "repaired" when files were rewritten or
    recreated (copies of the originals under "backup"); "unresolved" lists damage that was
    found and left as it is. Raises SessionError, having changed nothing, if `path` is not a
    readable session, a manifest entry points outside it, or a stream file cannot be read.
    """
    session = open_session(path)
    m = session.manifest
    report: dict[str, Any] = {
        "path": str(session.path),
        "was": m.status,
        "streams": {},
        "unresolved": {},
    }
    try:
        plans = [_plan_stream(session, name, info) for name, info in m.streams.items()]
    except OSError as exc:
        raise SessionError(
            f"cannot read {exc.filename or session.path} ({exc.strerror or exc}); fix it and "
            "run `haptics sessions repair` again (nothing was changed)"
        ) from exc
    for p in plans:
        entry: dict[str, Any] = {"action": p.action}
        if p.scan is not None:
            entry["rows"] = p.scan.rows
            entry["damaged_bytes"] = [list(r) for r in p.scan.damaged]
            entry["cut_at"] = p.scan.cut_at
        if p.why:
            entry["found"] = p.why
        report["streams"][p.name] = entry
        if p.action == "unresolved":
            report["unresolved"][p.name] = f"{p.path}: {p.why}"
    reserve = session.path / RESERVE_NAME
    stray_reserve = not session.complete and reserve.is_file() and _is_reserve(reserve)
    changing = [p for p in plans if p.action in ("rewrite", "create")]
    if not changing and (session.complete or not plans):
        report["action"] = (
            "none: every stream file is intact" if not report["unresolved"] else "none possible"
        )
        return report
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = session.path / f"{BACKUP_PREFIX}{stamp}"
    try:
        backup.mkdir()
        shutil.copy2(session.path / MANIFEST_NAME, backup / MANIFEST_NAME)
        for p in changing:
            info = m.streams[p.name]
            layout = layout_for(info)
            if p.action == "create":
                assert layout is not None  # _plan_stream refuses an unknown layout
                _write_stream(p.path, arrow_schema(layout), [])
                report["streams"][p.name]["was_missing"] = session.missing.get(p.name, "missing")
            else:
                assert p.scan is not None
                kept = backup / p.path.relative_to(session.path)
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p.path, kept)  # the original, byte for byte, before anything changes
                _write_stream(p.path, p.scan.schema, p.scan.batches)
                report["streams"][p.name]["original_kept_as"] = str(kept)
                report["streams"][p.name]["dropped_partial_batch"] = p.scan.cut_at is not None
            _recount(info, p.path)
        for p in plans:  # a closed-but-cut-off session: hash what is kept as it is, too
            if p.action == "keep" and not m.streams[p.name].sha256:
                _recount(m.streams[p.name], p.path)
        if stray_reserve:
            os.replace(reserve, backup / RESERVE_NAME)
        now = dt.datetime.now(dt.UTC).isoformat()
        if m.status == "recording":
            m.stop_reason = "cut off; repaired by `haptics sessions repair`"
            m.ended_utc = m.ended_utc or now
        m.status = "repaired"
        done = {p.name: p.action for p in changing}
        m.notes.append(f"repaired {now}: {done}; originals in {backup.name}/")
        write_manifest(session.path, m)
    except OSError as exc:
        raise SessionError(
            f"repair stopped: cannot write in {session.path} ({exc.strerror or exc}); files "
            f"not yet rewritten are as they were, and the originals of any rewritten are in "
            f"{backup.name}/. Free space or make the folder writable, then run "
            "`haptics sessions repair` again"
        ) from exc
    report["action"] = "repaired"
    report["backup"] = str(backup)
    return report
