"""QA verdicts known in advance: a clean session passes; no samples, a damaged, changed or
missing file fails and is named."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from session_builders import batch_spans, flip_bit

from haptics.session.manifest import read_manifest, write_manifest
from haptics.session.qa import qa_report
from haptics.session.reading import open_session
from haptics.session.streams import arrow_schema, file_sha256
from haptics.wire.messages import LAYOUTS


def test_a_clean_session_passes(make_session: Callable[..., Path]) -> None:
    report = qa_report(open_session(make_session()))
    assert report["passed"], report["checks"]
    assert report["problems"] == {}
    assert report["force_saturation"]["seconds"] == 0.0


def test_a_session_with_zero_samples_fails(make_session: Callable[..., Path]) -> None:
    path = make_session(n=0)
    report = qa_report(open_session(path))
    assert not report["passed"]
    assert report["checks"]["samples"] is False
    assert report["streams"]["state"]["recorded"] == 0


def test_one_changed_byte_fails_and_names_the_file(make_session: Callable[..., Path]) -> None:
    path = make_session()
    _, end = batch_spans(path / "state.arrows")[4]
    flip_bit(path / "state.arrows", end - 40)
    report = qa_report(open_session(path))
    assert not report["passed"] and report["checks"]["files_intact"] is False
    assert set(report["problems"]) == {"state"}
    assert str(path / "state.arrows") in report["problems"]["state"]


def test_a_damaged_batch_fails_and_names_the_file(make_session: Callable[..., Path]) -> None:
    path = make_session()
    start, _ = batch_spans(path / "command.arrows")[3]
    flip_bit(path / "command.arrows", start + 3, 7)
    report = qa_report(open_session(path))
    assert not report["passed"]
    assert "command.arrows is damaged" in report["problems"]["command"]
    assert report["streams"]["command"]["recorded"] == 900


def test_a_missing_file_fails(make_session: Callable[..., Path]) -> None:
    path = make_session()
    (path / "telemetry.arrows").unlink()
    report = qa_report(open_session(path))
    assert not report["passed"] and "telemetry.arrows is missing" in report["problems"]["telemetry"]
    json.dumps(report)  # the report is JSON as it is


def test_saturation_seconds_use_the_manifests_rate(make_session: Callable[..., Path]) -> None:
    path = make_session(n=400, rate_hz=200.0)
    m = read_manifest(path)
    m.loop["safety"]["max_force_n"] = 2.0  # the second half of the ticks command 2 N
    write_manifest(path, m)
    report = qa_report(open_session(path))
    assert report["force_saturation"]["fraction"] == 0.5
    assert report["force_saturation"]["seconds"] == 1.0  # 200 ticks at 200 Hz


def test_the_recorded_hash_is_that_of_the_file(make_session: Callable[..., Path]) -> None:
    path = make_session(n=10)
    m = read_manifest(path)
    for info in m.streams.values():
        assert info.sha256 == file_sha256(path / info.file)
        table = pa.ipc.open_stream(str(path / info.file)).read_all()
        assert table.schema.equals(arrow_schema(LAYOUTS[info.layout]))
        assert np.all(np.diff(table.column(0).to_numpy()) == 1)
