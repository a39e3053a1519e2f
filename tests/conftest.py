"""Guards: no process a test started outlives it, nor the suite.

multiprocessing joins every non-daemon child when the interpreter exits, so one process a
failed test left running (a relay, a session child) would hang pytest after its summary, and
CI would wait out its time limit; and a session child left running at real-time priority
would starve every test after it on a 2-core machine. After each test, its leftover
multiprocessing children are killed and named on stderr; the suite checks again at the end.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Iterator

import pytest


def _kill_leftovers(when: str) -> None:
    left = mp.active_children()
    for proc in left:
        proc.kill()
        proc.join(5.0)
    if left:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in left)
        print(f"\nkilled {len(left)} process(es) left running {when}: {names}", file=sys.stderr)


@pytest.fixture(autouse=True, scope="session")
def _no_process_outlives_the_suite() -> Iterator[None]:
    yield
    _kill_leftovers("at the end of the suite")


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    _kill_leftovers(f"by {request.node.nodeid}")
