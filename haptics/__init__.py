"""haptics: device drivers stream force and position over ZeroMQ into a 1 kHz control loop
that renders simulated tissue in pybullet and sends force back, while a recorder turns every
session into a labeled multimodal dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from haptics.session.reading import Session


def open_session(path: Any) -> Session:
    """Open a recorded session (see `haptics.session.reading.open_session`)."""
    from haptics.session.reading import open_session as _open

    return _open(path)
