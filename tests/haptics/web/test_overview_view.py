"""The session view from the overview: every stream the session holds has its panel; the
whole session is cut from the overview without reading a stream, with the same extremes as
every sample; deep zooms read the streams, and the first view starts reading them ahead."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from starlette.testclient import TestClient

from haptics.bench.annotate import write_long_session
from haptics.dataset.catalog import init_dataset
from haptics.session.overview import overview_path, read_overview
from haptics.session.reading import open_session
from haptics.session.signals import signal_values
from haptics.web.app import create_app
from haptics.web.traces import open_traces
from haptics.web.users import Users
from tests.haptics.session.stream_builders import multi_stream_session
from tests.haptics.web.test_decimate_and_view import samples
from tests.haptics.web.workbench_builders import PASSWORD, login

MS = 1_000_000


def dataset_of(root: Path, write: Callable[[Path], object]) -> str:
    """A dataset over the session `write(folder)` makes, with user alice; its session id."""
    ds = init_dataset(root)
    try:
        write(root / "sessions" / "s1")
        (rec,), problems = ds.index()
        assert not problems
        Users(root, ds.store).add("alice", PASSWORD, "annotator")
        return rec.session_id
    finally:
        ds.close()


def test_every_stream_the_session_holds_has_its_panel(tmp_path: Path) -> None:
    frames: list[np.ndarray] = []
    sid = dataset_of(tmp_path / "ds", lambda p: frames.append(multi_stream_session(p)[1]))
    with TestClient(create_app(tmp_path / "ds", secret="s")) as c:
        login(c, "alice")
        whole = c.get(f"/api/sessions/{sid}/view", params={"width": 400}).json()
    assert whole["panels"] == ["position", "force", "depth", "tactile", "probe", "ticks"]
    lines = {t["name"]: t for t in whole["traces"]}
    assert {"seq", "flags", "host_time_ns", "device_time_ns"}.isdisjoint(lines)
    tactile = lines["pressure_kpa max"]
    assert (tactile["panel"], tactile["unit"], tactile["stream"]) == ("tactile", "kPa", "tactile")
    t_ms, y = samples(tactile)
    with warnings.catch_warnings():  # frame 20 has no finite taxel: NaN, as the server says
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmax(frames[0].reshape(100, -1), axis=1)
    assert t_ms.size == 100  # 100 frames: every one, from the overview
    assert np.array_equal(y, want.astype(np.float32), equal_nan=True)
    assert np.allclose(np.diff(t_ms), 4.0)  # a frame every 4 ms
    assert samples(lines["grip_n"])[1].max() == np.float32(4.0)
    assert np.nanmax(samples(lines["sample interval"])[1]) == 20.0  # the lost tick


def test_the_whole_session_is_cut_from_the_overview(tmp_path: Path) -> None:
    sid = dataset_of(tmp_path / "ds", lambda p: write_long_session(p, 60.0))
    session = open_session(tmp_path / "ds" / "sessions" / "s1")
    traces = open_traces(session)
    t0, t1 = 10**9, 10**9 + 61_000 * MS
    whole = traces.view(t0, t1, 100)
    assert session._tables == {}  # no stream was read: the overview gave it all
    assert {t["block"] for t in whole["traces"]} == {64}
    for line, sig in zip(whole["traces"], traces.signals, strict=True):
        _, y = samples(line)
        assert y.size <= 2 * 100 + 2
        _, full = signal_values(open_session(session.path), sig)
        assert y.max() == np.float32(full.max()) and y.min() == np.float32(full.min())
    zoom = traces.view(t0 + 30_000 * MS, t0 + 30_050 * MS, 800)
    assert {t["block"] for t in zoom["traces"]} == {1}
    assert all(48 <= t["n"] <= 53 for t in zoom["traces"])  # every sample of 50 ms
    assert {"state", "command", "telemetry"} <= set(session._tables)
    assert sid


def test_the_first_view_reads_the_streams_ahead(tmp_path: Path) -> None:
    sid = dataset_of(tmp_path / "ds", lambda p: write_long_session(p, 60.0))
    app = create_app(tmp_path / "ds", secret="s")
    with TestClient(app) as c:
        login(c, "alice")
        assert c.get(f"/api/sessions/{sid}/view", params={"width": 100}).status_code == 200
        traces = app.state.workbench.traces(sid)
        deadline = time.monotonic() + 60
        while not traces.fully_loaded:
            assert time.monotonic() < deadline, "the full samples were not read ahead in 60 s"
            time.sleep(0.05)
        deep = c.get(
            f"/api/sessions/{sid}/view",
            params={"t0_ns": 10**9 + 5 * MS, "t1_ns": 10**9 + 15 * MS, "width": 800},
        ).json()
    assert {t["block"] for t in deep["traces"]} == {1}


def test_a_session_catalogued_without_overview_gets_one_at_start_up(tmp_path: Path) -> None:
    sid = dataset_of(tmp_path / "ds", lambda p: write_long_session(p, 5.0))
    kept = overview_path(tmp_path / "ds" / "sessions" / "s1")
    kept.unlink()  # as a dataset indexed by an older haptics
    app = create_app(tmp_path / "ds", secret="s", warm=True)
    with TestClient(app):
        deadline = time.monotonic() + 60
        while not kept.is_file():
            assert time.monotonic() < deadline, "no overview was built in 60 s"
            time.sleep(0.05)
    session = open_session(kept.parent.parent)
    assert read_overview(session) is not None and sid
