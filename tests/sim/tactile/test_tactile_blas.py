"""The model's one-BLAS-thread guard sets every loaded OpenBLAS to 1 thread and restores it."""

from __future__ import annotations

import scipy.linalg  # noqa: F401  (loads scipy's own OpenBLAS beside numpy's)

from sim.tactile.blas import _openblas_controls, one_blas_thread


def test_one_blas_thread_sets_and_restores() -> None:
    controls = _openblas_controls()
    assert controls, "numpy's and scipy's wheels bundle OpenBLAS; none found in this process"
    original = [get() for get, _ in controls]
    try:
        for _, put in controls:
            put(2)
        with one_blas_thread():
            assert [get() for get, _ in controls] == [1] * len(controls)
        assert [get() for get, _ in controls] == [2] * len(controls)
    finally:
        for (_, put), n in zip(controls, original, strict=True):
            put(n)
