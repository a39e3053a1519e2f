"""What every format exports from a session: its streams as flat tables and its labels.

A flat table has one scalar column per field: a fixed-size array field (a tactile frame) is
spread into columns `name_0 ... name_{n-1}` so CSV and HDF5 readers need no decoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from haptics.errors import SessionError
from haptics.session.reading import Session

TIME_COLUMNS = {"telemetry": "wake_ns"}  # every other stream: host_time_ns
LABEL_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("taxonomy", pa.string()),
        ("key", pa.string()),
        ("target", pa.string()),
        ("t0_ns", pa.int64()),
        ("t1_ns", pa.int64()),
        ("value", pa.string()),  # JSON
        ("annotator_id", pa.string()),
        ("role", pa.string()),
        ("created_at", pa.string()),
        ("supersedes", pa.int64()),
        ("gold", pa.bool_()),
        ("detector", pa.string()),  # a model answer's detector, its version and confidence
        ("detector_version", pa.string()),
        ("confidence", pa.float64()),
    ]
)


def time_column(stream: str) -> str:
    """The host-clock time column of a stream."""
    return TIME_COLUMNS.get(stream, "host_time_ns")


def flat_table(table: pa.Table) -> pa.Table:
    """`table` with every fixed-size list column spread into one column per element."""
    cols: list[pa.Array | pa.ChunkedArray] = []
    names: list[str] = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_fixed_size_list(col.type):
            n = col.type.list_size
            flat = np.asarray(
                col.combine_chunks().flatten().to_numpy(zero_copy_only=False)
            ).reshape(len(col), n)
            for i in range(n):
                cols.append(pa.array(flat[:, i]))
                names.append(f"{name}_{i}")
        else:
            cols.append(col)
            names.append(name)
    return pa.Table.from_arrays(cols, names=names)


def read_streams(session: Session) -> dict[str, pa.Table]:
    """Every stream of a session, whole. Raises SessionError when a stream is missing or
    damaged: an export never silently carries part of a session."""
    tables = {name: session.table(name) for name in session.stream_names}
    bad = {**session.missing, **session.damaged}
    if bad:
        raise SessionError("; ".join(f"{k}: {v}" for k, v in sorted(bad.items())))
    return tables


def labels_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The label log rows of one session (as `labels_for` gives them) as an Arrow table."""
    return pa.Table.from_pylist(rows, schema=LABEL_SCHEMA)
