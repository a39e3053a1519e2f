"""`csv`: one flat CSV table per stream (header row, one column per field), labels.csv."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pcsv

from haptics.dataset.export.base import Format, SessionData, expect_equal, sample_rows
from haptics.dataset.export.tables import flat_table


def write(data: SessionData, out: Path) -> None:
    """`<stream>.csv` per stream, `labels.csv`, `manifest.json`."""
    for name, table in data.streams.items():
        pcsv.write_csv(flat_table(table), out / f"{name}.csv")
    pcsv.write_csv(data.labels, out / "labels.csv")
    (out / "manifest.json").write_text(data.manifest_json, encoding="utf-8")


def check(data: SessionData, out: Path) -> None:
    """Read every file back with pyarrow's CSV reader: rows and sampled values."""
    for name, table in data.streams.items():
        flat = flat_table(table)
        back = pcsv.read_csv(out / f"{name}.csv")
        expect_equal(f"{name} rows", back.num_rows, flat.num_rows)
        expect_equal(f"{name} columns", back.column_names, flat.column_names)
        for col in flat.column_names:
            for i in sample_rows(flat.num_rows):
                expect_equal(f"{name}.{col}[{i}]", back.column(col)[i].as_py(),
                             flat.column(col)[i].as_py())
    labels = pcsv.read_csv(out / "labels.csv")
    expect_equal("label rows", labels.num_rows, data.labels.num_rows)


FORMAT = Format(
    name="csv",
    version=1,
    write=write,
    check=check,
    layout="sessions/<id>/<stream>.csv (header row, one column per field), labels.csv, "
    "manifest.json",
    open_with="any spreadsheet, pandas.read_csv, or `column -s, -t < state.csv`",
)
