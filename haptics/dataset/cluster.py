"""Where batch work over many sessions runs: tasks on Dask `distributed`.

A LocalCluster on this machine by default (one worker process per core, one thread each:
the work is numpy/Arrow, which releases the GIL only in parts), or an existing cluster by
its scheduler address (`tcp://HOST:PORT`). No pool of our own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from haptics.errors import ConfigError


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int | None = None, processes: bool = True
) -> Iterator[Any]:
    """A `distributed.Client`: connected to `scheduler`, or to a LocalCluster started here
    (and closed on exit) with `workers` workers (default: one per core).

    Raises ConfigError if the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler {scheduler} ({exc}); start one with "
                "`dask scheduler` or leave out --scheduler for a local cluster"
            ) from exc
        try:
            yield client
        finally:
            client.close()  # type: ignore[no-untyped-call]
        return
    n = workers or max(1, os.cpu_count() or 1)
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=n,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        silence_logs=40,
    )
    client = Client(cluster)  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]
        cluster.close()
