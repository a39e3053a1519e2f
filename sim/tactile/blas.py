"""Run the model's small matrix products on one BLAS thread.

The model's linear algebra is small (256 × 64 products, a 64 × 64 solve): one thread does a
frame in about a millisecond, while OpenBLAS's default of one thread per core makes its
threads spin against each other and against the loop on a busy 2-core machine (measured:
the tactile tests took 117 s instead of 33 s). numpy and scipy each bundle their own OpenBLAS,
so `one_blas_thread()` sets the thread count of every BLAS loaded in the process to 1 and
restores it on exit.

threadpoolctl finds the loaded BLAS libraries (any vendor, any OS it supports). Its own
`limit()` context re-inspects the process each time (~140 µs here, a sixth of a frame), so
the libraries are looked up once and their thread counts set directly (a C call each).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController


@cache
def blas_libraries() -> tuple[Any, ...]:
    """threadpoolctl's controllers of every BLAS loaded when first asked (numpy's, scipy's)."""
    import scipy.linalg  # noqa: F401  (the model uses scipy's BLAS too: load it first)

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block, every loaded BLAS uses one thread; the old counts come back after."""
    libs = blas_libraries()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before, strict=True):
            lib.set_num_threads(n)
