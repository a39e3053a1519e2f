"""What a format is: a writer and a checker over one session's data.

A format module defines `FORMAT = Format(...)`: `write(data, dir)` writes one session into
an empty folder, `check(data, dir)` reads it back with the format's own library and raises
ExportError when counts or sampled values differ from the session. A format whose layout
also has dataset-level files (LeRobot's `meta/`, JIGSAWS' meta file, a Label Studio task
list) gives `finish(out)`: called once after every session of a run, over everything now in
`out/sessions/`, it writes those files aside, moves them into place, and checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from haptics.errors import ExportError


@dataclass
class SessionData:
    """One session as an export sees it."""

    session_id: str
    provenance: str | None
    streams: dict[str, pa.Table]
    labels: pa.Table
    manifest_json: str
    rate_hz: float | None = None  # `--rate`: frame rate (lerobot), kinematics rate (jigsaws)
    path: str | None = None  # the session folder (files beside the streams: video.mp4)


@dataclass(frozen=True)
class Format:
    """An export format (see the module docstring)."""

    name: str
    version: int
    write: Callable[[SessionData, Path], None]
    check: Callable[[SessionData, Path], None]
    layout: str  # one line for the dataset card: what is where
    open_with: str  # how to open the result in its tool
    finish: Callable[[Path], None] | None = None  # dataset-level files (module docstring)


def sample_rows(n: int) -> list[int]:
    """Row indices compared by checks: first, middle, last (none for an empty table)."""
    return sorted({0, n // 2, n - 1}) if n else []


def expect_equal(what: str, got: object, want: object) -> None:
    """Raise ExportError naming `what` if the read-back value differs from the session's."""
    same = (
        bool(np.allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                         equal_nan=True))
        if isinstance(want, (int, float, np.number)) and not isinstance(want, bool)
        else got == want
    )
    if not same:
        raise ExportError(
            f"read-back mismatch in {what}: exported {got!r}, session has {want!r}; "
            "the export was not moved into place, re-run it (and report this if it repeats)"
        )
