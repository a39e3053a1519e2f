"""Reading a session back: summary, alignment, missing and damaged streams, rates from the
manifest."""

from collections.abc import Callable
from pathlib import Path

import pytest
from session_builders import batch_spans, flip_bit

from haptics.errors import SessionError
from haptics.session.manifest import Manifest, write_manifest
from haptics.session.reading import list_sessions_checked, open_session, summarize
from haptics.session.recorder import StreamWriter
from haptics.wire.messages import STATE, TELEMETRY


def test_open_session_explains_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="not a session"):
        open_session(tmp_path)
    with pytest.raises(SessionError, match="not a session folder"):
        open_session(tmp_path / "nope")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(SessionError, match=r"manifest\.json is not valid JSON"):
        open_session(tmp_path)


def test_summary_of_a_session_with_one_lost_sample(make_session: Callable[..., Path]) -> None:
    s = summarize(open_session(make_session(n=100, drop_state=[50], close=False)))
    assert s["streams"] == {"state": 99, "command": 100, "telemetry": 100}
    assert s["seq_gaps"] == 1 and s["seq_gaps_by_stream"]["state"] == 1
    assert s["loop"]["rate_hz"] == pytest.approx(1000.0)
    assert s["loop"]["nominal_rate_hz"] == 1000.0
    assert s["loop"]["period_error_us"]["max"] == 0.0
    assert s["max_force_n"] == pytest.approx(2.0)
    assert s["contact_fraction"] == pytest.approx(0.5)
    assert not s["complete"]  # status still "recording": the recorder never closed it
    assert s["problems"] == {}  # cut off at a batch boundary: nothing damaged


def test_period_error_uses_the_manifests_rate_not_1_khz(
    make_session: Callable[..., Path],
) -> None:
    s = summarize(open_session(make_session(n=200, rate_hz=500.0)))
    assert s["loop"]["nominal_rate_hz"] == 500.0
    assert s["loop"]["rate_hz"] == pytest.approx(500.0)
    assert s["loop"]["period_error_us"]["max"] == 0.0  # 2 ms ticks are on time at 500 Hz


def test_without_a_declared_rate_errors_are_around_the_median(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=200, rate_hz=250.0)
    session = open_session(path)
    session.manifest.loop.pop("rate_hz")
    s = summarize(session)
    assert s["loop"]["nominal_rate_hz"] is None
    assert s["loop"]["period_error_us"]["max"] == 0.0


def test_streams_align_on_host_time(tmp_path: Path) -> None:
    m = Manifest(loop={"rate_hz": 1000.0})
    st = StreamWriter(tmp_path / "state.arrows", STATE)
    tel = StreamWriter(tmp_path / "telemetry.arrows", TELEMETRY)
    for i in range(1, 11):
        st.add(STATE.make(seq=i, host_time_ns=i * 1000, pz=float(i)))
    for k in range(1, 6):
        tel.add(TELEMETRY.make(tick=k, wake_ns=k * 2000 + 500))
    for name, w in (("state", st), ("telemetry", tel)):
        w.close()
        m.streams[name] = w.info()
    write_manifest(tmp_path, m)
    aligned = open_session(tmp_path).aligned("state", on="telemetry")
    assert list(aligned["seq"]) == [2, 4, 6, 8, 10]  # newest sample at or before each tick


def test_a_missing_stream_reads_empty_and_is_named(make_session: Callable[..., Path]) -> None:
    path = make_session(n=100)
    (path / "command.arrows").unlink()
    s = summarize(open_session(path))
    assert s["streams"]["command"] == 0
    assert "command.arrows is missing" in s["problems"]["command"]


def test_a_damaged_stream_is_named_with_what_to_do(make_session: Callable[..., Path]) -> None:
    path = make_session(n=1000)
    start, _ = batch_spans(path / "state.arrows")[5]
    flip_bit(path / "state.arrows", start)
    session = open_session(path)
    s = summarize(session, verify=True)
    assert s["streams"]["state"] == 900  # one batch of 100 lost, the rest kept
    why = s["problems"]["state"]
    assert "state.arrows is damaged" in why and "haptics sessions repair" in why


def test_a_changed_byte_inside_the_data_fails_the_hash(make_session: Callable[..., Path]) -> None:
    path = make_session(n=1000)
    _, end = batch_spans(path / "telemetry.arrows")[5]
    flip_bit(path / "telemetry.arrows", end - 64)  # inside a column's values
    session = open_session(path)
    assert session.problems() == {}  # every batch still reads
    assert "telemetry.arrows differs from the SHA-256" in session.verify()["telemetry"]


def test_list_marks_an_unreadable_session_and_goes_on(
    make_session: Callable[..., Path], tmp_path: Path
) -> None:
    make_session("a")
    make_session("b")
    make_session("c")
    (tmp_path / "b" / "manifest.json").write_text('{"schema_version": 1, "streams": ')
    listed = list_sessions_checked(tmp_path)
    assert [e.path.name for e in listed] == ["a", "b", "c"]
    assert listed[1].manifest is None and "manifest.json" in str(listed[1].error)
    assert listed[0].manifest is not None and listed[2].manifest is not None
