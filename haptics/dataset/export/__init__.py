"""Exports of sessions and their labels to the formats people train and view with.

One module per format (`parquet`, `csv`, `hdf5`, `mcap`, `lerobot`, `jigsaws`, `labelstudio`),
each a `Format` (base.py): a writer and a checker that reads the result back with the format's
own library, and for layouts with dataset-level files (LeRobot's `meta/`, JIGSAWS' meta file,
Label Studio's task list and label config) a `finish` step over the whole export. `runner`
runs the batch as Dask tasks, one per session, each written to a temporary folder and moved
into place only once it has read back correctly; `card` writes the dataset card.
"""

from __future__ import annotations

from importlib import import_module

from haptics.dataset.export.base import Format
from haptics.errors import ConfigError

FORMAT_MODULES = ("parquet", "csv", "hdf5", "mcap", "lerobot", "jigsaws", "labelstudio")


def get_format(name: str) -> Format:
    """The format called `name`; raises ConfigError for an unknown one."""
    if name not in FORMAT_MODULES:
        raise ConfigError(
            f"unknown export format '{name}'; formats: {', '.join(FORMAT_MODULES)}"
        )
    fmt: Format = import_module(f"haptics.dataset.export.{name}").FORMAT
    return fmt
