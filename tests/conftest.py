"""Suite-wide guard: no process a test started may outlive the suite.

multiprocessing joins every non-daemon child when the interpreter exits, so one process a
failed test left running (a relay, a session child) would hang pytest after its summary, and
CI would wait out its time limit. Leftovers are killed at the end and named on stderr.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_process_outlives_the_suite() -> Iterator[None]:
    yield
    left = mp.active_children()
    for proc in left:
        proc.kill()
        proc.join(5.0)
    if left:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in left)
        print(f"\nkilled {len(left)} process(es) a test left running: {names}", file=sys.stderr)
