"""Run the model's small matrix products on one BLAS thread.

The model's linear algebra is small (256 × 64 products, a 64 × 64 solve): one thread does a
frame in about a millisecond, while OpenBLAS's default of one thread per core makes its
threads spin against each other and against the loop on a busy 2-core machine (measured:
the tactile tests took 117 s instead of 33 s). numpy and scipy each bundle their own OpenBLAS,
so `one_blas_thread()` sets the thread count of every OpenBLAS loaded in the process to 1 and
restores it on exit. Where none is found (another BLAS, another OS) it does nothing.

threadpoolctl does this generally; it is not a dependency of the project (yet), hence this
small ctypes shim over OpenBLAS's documented `openblas_set_num_threads` (exported with
scipy-openblas's prefixes and suffixes in the numpy and scipy wheels).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

_SUFFIXES = ("", "64_")
_PREFIXES = ("scipy_openblas", "openblas")

_Setter = Callable[[int], None]
_Getter = Callable[[], int]


@cache
def _openblas_controls() -> tuple[tuple[_Getter, _Setter], ...]:
    """(get, set) thread-count functions of every OpenBLAS mapped into this process."""
    if not sys.platform.startswith("linux"):
        return ()
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:
        return ()
    controls = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    controls.append((get, put))
                    break
            else:
                continue
            break
    return tuple(controls)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block, every loaded OpenBLAS uses one thread; the old counts come back after."""
    controls = _openblas_controls()
    before = [get() for get, _ in controls]
    for _, put in controls:
        put(1)
    try:
        yield
    finally:
        for (_, put), n in zip(controls, before, strict=True):
            put(n)
