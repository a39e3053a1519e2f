"""A session's signals (every stream it holds, bookkeeping left out) and its overview kept
beside it: written at index time, read back as written, ignored and rebuilt when the
session changes, its version differs or it is damaged, and never in the way of reading."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from haptics.dataset.catalog import init_dataset
from haptics.dataset.features import fingerprint
from haptics.session import overview as ov_mod
from haptics.session.overview import (
    ensure_overview,
    overview_path,
    read_overview,
    session_fingerprint,
)
from haptics.session.reading import open_session
from haptics.session.signals import session_signals, signal_values
from tests.haptics.session.session_builders import write_session
from tests.haptics.session.stream_builders import multi_stream_session


def test_every_stream_gets_its_panel_and_bookkeeping_is_left_out(tmp_path: Path) -> None:
    path, _ = multi_stream_session(tmp_path / "s")
    sigs = session_signals(open_session(path))
    got = [(s.panel, s.name, s.unit) for s in sigs]
    assert got == [
        ("position", "px", "m"),
        ("position", "py", "m"),
        ("position", "pz", "m"),
        ("force", "applied", "N"),
        ("force", "commanded", "N"),
        ("force", "rendered", "N"),
        ("depth", "contact depth", "m"),
        ("tactile", "pressure_kpa max", "kPa"),
        ("tactile", "pressure_kpa mean", "kPa"),
        ("probe", "grip_n", "N"),
        ("probe", "count", ""),
        ("ticks", "sample interval", "ms"),
    ]


def test_the_values_of_other_streams(tmp_path: Path) -> None:
    path, frames = multi_stream_session(tmp_path / "s")
    session = open_session(path)
    by_name = {s.name: s for s in session_signals(session)}
    t, mx = signal_values(session, by_name["pressure_kpa max"])
    _, mean = signal_values(session, by_name["pressure_kpa mean"])
    assert t.dtype == np.int64 and t.size == len(frames) == 100
    ok = np.arange(100) != 19  # frame 20 (index 19) has no finite taxel
    flat = frames.reshape(100, -1).astype(np.float64)
    assert np.allclose(mx[ok], np.nanmax(flat[ok], axis=1))
    assert np.allclose(mean[ok], np.nanmean(flat[ok], axis=1))
    assert np.isfinite(mx[9]) and np.isnan(mx[19]) and np.isnan(mean[19])
    _, grip = signal_values(session, by_name["grip_n"])
    assert np.allclose(grip, np.arange(2, 401, 2) / 100)
    _, gap = signal_values(session, by_name["sample interval"])
    assert np.isnan(gap[0]) and np.nanmax(gap) == 20.0 and np.nanmin(gap) == 10.0


def test_a_lost_stream_gives_empty_lines(tmp_path: Path) -> None:
    path, _ = multi_stream_session(tmp_path / "s")
    (path / "tactile.arrows").unlink()
    got = ensure_overview(open_session(path))
    tactile = [so for so in got.signals if so.signal.stream == "tactile"]
    assert [so.samples for so in tactile] == [0, 0]
    assert [so.samples for so in got.signals if so.signal.stream == "probe"] == [200, 200]


def test_the_overview_reads_back_as_written(tmp_path: Path) -> None:
    path, _ = multi_stream_session(tmp_path / "s")
    built = ensure_overview(open_session(path))
    assert overview_path(path).is_file()
    read = read_overview(open_session(path))
    assert read is not None and read.fingerprint == built.fingerprint
    assert [so.signal for so in read.signals] == [so.signal for so in built.signals]
    for a, b in zip(read.signals, built.signals, strict=True):
        assert a.samples == b.samples
        assert [lv.block for lv in a.levels] == [lv.block for lv in b.levels]
        for la, lb in zip(a.levels, b.levels, strict=True):
            assert np.array_equal(la.t, lb.t) and np.array_equal(la.y, lb.y, equal_nan=True)
    assert read.signals[0].levels[0].block == 1  # short: every sample kept
    assert np.array_equal(read.event_t, built.event_t)


def test_a_changed_session_or_version_or_damaged_file_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_session(tmp_path / "s", n=300)
    first = ensure_overview(open_session(path))
    assert read_overview(open_session(path)) is not None
    # a stream rewritten (same size, new time) → ignored, then rebuilt with a new fingerprint
    st = (path / "state.arrows").stat()
    os.utime(path / "state.arrows", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert read_overview(open_session(path)) is None
    again = ensure_overview(open_session(path))
    assert again.fingerprint != first.fingerprint
    assert read_overview(open_session(path)) is not None
    # another format version → ignored
    monkeypatch.setattr(ov_mod, "OVERVIEW_VERSION", ov_mod.OVERVIEW_VERSION + 1)
    assert read_overview(open_session(path)) is None
    monkeypatch.undo()
    # damaged → ignored (and said so), rewritten whole by the next ensure
    overview_path(path).write_bytes(b"not an arrow file")
    assert read_overview(open_session(path)) is None
    ensure_overview(open_session(path))
    assert read_overview(open_session(path)) is not None


def test_a_folder_that_cannot_keep_it_still_gets_an_overview(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_session(tmp_path / "s", n=300)
    (path / ov_mod.OVERVIEW_DIR).write_text("a file where the folder would go")
    with caplog.at_level(logging.WARNING):
        got = ensure_overview(open_session(path))
    assert got.signals and "cannot keep the overview" in caplog.text
    assert read_overview(open_session(path)) is None


def test_index_keeps_the_overview_without_changing_the_sessions_fingerprint(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ds"
    ds = init_dataset(root)
    try:
        path = write_session(root / "sessions" / "s1", n=300)
        before = fingerprint(path)
        (_rec,), problems = ds.index()
        assert not problems
        session = open_session(path)
        found = read_overview(session)
        assert found is not None and found.fingerprint == session_fingerprint(session)
        assert fingerprint(path) == before  # features and exports are not redone for it
    finally:
        ds.close()
