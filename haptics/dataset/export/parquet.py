"""`parquet`: one flat Parquet table per stream, labels as labels.parquet (pyarrow)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from haptics.dataset.export.base import Format, SessionData, expect_equal, sample_rows
from haptics.dataset.export.tables import flat_table


def write(data: SessionData, out: Path) -> None:
    """`<stream>.parquet` per stream (zstd), `labels.parquet`, `manifest.json`."""
    for name, table in data.streams.items():
        pq.write_table(flat_table(table), out / f"{name}.parquet", compression="zstd")
    pq.write_table(data.labels, out / "labels.parquet")
    (out / "manifest.json").write_text(data.manifest_json, encoding="utf-8")


def check(data: SessionData, out: Path) -> None:
    """Read every table back with pyarrow: row counts and sampled values of every column."""
    for name, table in data.streams.items():
        flat = flat_table(table)
        back = pq.read_table(out / f"{name}.parquet")
        expect_equal(f"{name} rows", back.num_rows, flat.num_rows)
        for col in flat.column_names:
            for i in sample_rows(flat.num_rows):
                expect_equal(f"{name}.{col}[{i}]", back.column(col)[i].as_py(),
                             flat.column(col)[i].as_py())
    expect_equal("label rows", pq.read_table(out / "labels.parquet").num_rows,
                 data.labels.num_rows)


FORMAT = Format(
    name="parquet",
    version=1,
    write=write,
    check=check,
    layout="sessions/<id>/<stream>.parquet (one flat table per stream), labels.parquet, "
    "manifest.json",
    open_with="pandas.read_parquet / pyarrow.parquet.read_table / duckdb "
    "\"SELECT * FROM 'DIR/sessions/*/state.parquet'\"",
)
