"""The model's one-BLAS-thread guard sets every loaded BLAS to 1 thread and restores it."""

from __future__ import annotations

from sim.tactile.blas import blas_libraries, one_blas_thread


def test_one_blas_thread_sets_and_restores() -> None:
    libs = blas_libraries()
    assert len(libs) >= 1, "numpy's and scipy's wheels bundle OpenBLAS; none found"
    original = [lib.num_threads for lib in libs]
    try:
        for lib in libs:
            lib.set_num_threads(2)
        with one_blas_thread():
            assert [lib.num_threads for lib in libs] == [1] * len(libs)
        assert [lib.num_threads for lib in libs] == [2] * len(libs)
    finally:
        for lib, n in zip(libs, original, strict=True):
            lib.set_num_threads(n)
