"""Completing a session whose recorder was cut off (kill -9, power loss, full disk).

Every stream file is rewritten from its complete record batches (a half-written last
batch is dropped and counted), closed with an end-of-stream marker, re-hashed, and the
manifest is marked "repaired" with what was found. The original files are kept beside
the repaired ones as `<name>.orig` until the rewrite succeeded.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.errors import SessionError
from haptics.session.manifest import write_manifest
from haptics.session.reading import open_session, seq_gaps
from haptics.session.recorder import sha256


def repair_session(path: str | Path) -> dict[str, Any]:
    """Repair a session in place; returns what was done per stream.

    Raises SessionError if `path` is not a session. A complete session is left untouched.
    """
    session = open_session(path)
    m = session.manifest
    report: dict[str, Any] = {"path": str(session.path), "was": m.status, "streams": {}}
    if m.status != "recording":
        report["action"] = "none: the session was closed properly"
        return report
    for name, info in m.streams.items():
        file = session.path / info.file
        try:
            table = session.table(name)  # a lost file of a known layout reads as empty
        except SessionError as exc:
            report["streams"][name] = {"unreadable": str(exc), "rows": 0}
            continue
        truncated = session.truncated.get(name, False)
        tmp = file.with_suffix(".repaired")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        if file.exists():
            backup = file.with_suffix(file.suffix + ".orig")
            os.replace(file, backup)
            os.replace(tmp, file)
            backup.unlink()
        else:
            os.replace(tmp, file)
        seq_col = "tick" if "tick" in table.column_names else "seq"
        seq = table.column(seq_col).to_numpy() if table.num_rows else np.zeros(0, np.uint64)
        info.received = table.num_rows
        info.first_seq = int(seq.min()) if seq.size else None
        info.last_seq = int(seq.max()) if seq.size else None
        info.gaps = seq_gaps(seq)
        info.sha256 = sha256(file)
        report["streams"][name] = {"rows": table.num_rows, "dropped_partial_batch": truncated}
        if name in session.missing:
            report["streams"][name]["was_missing"] = session.missing[name]
    (session.path / ".space-reserve").unlink(missing_ok=True)  # the recorder's disk-full reserve
    m.status = "repaired"
    m.ended_utc = m.ended_utc or dt.datetime.now(dt.UTC).isoformat()
    m.stop_reason = "cut off; repaired by `haptics sessions repair`"
    m.notes.append(f"repaired {dt.datetime.now(dt.UTC).isoformat()}: {report['streams']}")
    write_manifest(session.path, m)
    report["action"] = "repaired"
    return report
