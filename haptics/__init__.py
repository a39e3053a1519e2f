"""haptics: device drivers stream force and position over ZeroMQ into a 1 kHz control loop
that renders simulated tissue in pybullet and sends force back, while a recorder turns every
session into a labeled multimodal dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from haptics.dataset.catalog import Dataset
    from haptics.session.reading import Session


def open_session(path: Any) -> Session:
    """Open a recorded session (see `haptics.session.reading.open_session`)."""
    from haptics.session.reading import open_session as _open

    return _open(path)


def open_dataset(path: Any, db: str | None = None) -> Dataset:
    """Open a dataset folder: its sessions, catalog and label views as Arrow tables (see
    `haptics.dataset.catalog.open_dataset`)."""
    from haptics.dataset.catalog import open_dataset as _open

    return _open(path, db)
