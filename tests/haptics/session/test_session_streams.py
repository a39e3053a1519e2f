"""Stream files read back whole, cut off, or damaged in the middle: every intact batch kept."""

from pathlib import Path

import pyarrow as pa
import pytest
from session_builders import batch_spans, flip_bit

from haptics.errors import SessionError
from haptics.session.recorder import StreamWriter
from haptics.session.streams import arrow_schema, read_stream, scan_stream, stream_path
from haptics.wire.messages import STATE


def _state(seq: int) -> bytes:
    return STATE.make(seq=seq, device_time_ns=seq * 1000, host_time_ns=seq * 10**6, fz=1.0)


def _write(path: Path, batches: int = 6, rows: int = 50, close: bool = True) -> Path:
    w = StreamWriter(path, STATE)
    for b in range(batches):
        for i in range(rows):
            w.add(_state(b * rows + i + 1))
        w.flush()
    if close:
        w.close()
    return path


def test_stream_file_is_read_back_by_pyarrow_alone(tmp_path: Path) -> None:
    path = _write(tmp_path / "state.arrows", batches=3, rows=100)
    table = pa.ipc.open_stream(pa.OSFile(str(path))).read_all()
    assert table.num_rows == 300
    assert table.column("seq").to_pylist() == list(range(1, 301))
    assert "kind" not in table.column_names


def test_a_file_cut_mid_batch_keeps_every_flushed_batch(tmp_path: Path) -> None:
    path = _write(tmp_path / "state.arrows", batches=4, close=False)  # a killed recorder
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 100)  # and the last batch half written
    table, cut = read_stream(path)
    assert cut
    assert table.column("seq").to_pylist() == list(range(1, 151))
    scan = scan_stream(path)
    assert scan.cut_at is not None and not scan.damaged


def test_a_damaged_batch_in_the_middle_keeps_every_batch_after_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "state.arrows")
    spans = batch_spans(path)  # [empty first batch, 6 batches of 50]
    start, end = spans[3]  # rows 101..150
    flip_bit(path, start + 1)  # one bit of the continuation marker
    table, damaged = read_stream(path, arrow_schema(STATE))
    assert damaged
    seq = table.column("seq").to_pylist()
    assert seq == [*range(1, 101), *range(151, 301)]
    scan = scan_stream(path, arrow_schema(STATE))
    assert scan.damaged == [(start, end)] and scan.cut_at is None and scan.ended


def test_a_damaged_message_body_length_is_stepped_over(tmp_path: Path) -> None:
    path = _write(tmp_path / "state.arrows")
    start, _ = batch_spans(path)[2]
    data = bytearray(path.read_bytes())
    data[start + 4 : start + 8] = (10**6).to_bytes(4, "little")  # metadata length: absurd
    path.write_bytes(bytes(data))
    seq = read_stream(path, arrow_schema(STATE))[0].column("seq").to_pylist()
    assert seq == [*range(1, 51), *range(101, 301)]  # batch 2 (rows 51..100) lost


def test_a_damaged_schema_is_read_with_the_layouts_schema(tmp_path: Path) -> None:
    path = _write(tmp_path / "state.arrows")
    flip_bit(path, 2)  # the schema message's continuation marker
    with pytest.raises(SessionError, match="not an Arrow stream"):
        read_stream(path)  # without the layout there is no schema to read with
    table, damaged = read_stream(path, arrow_schema(STATE))
    assert damaged and table.num_rows == 300
    assert scan_stream(path, arrow_schema(STATE)).schema_damaged


def test_a_whole_file_reads_fast_and_whole(tmp_path: Path) -> None:
    path = _write(tmp_path / "state.arrows")
    table, cut = read_stream(path, arrow_schema(STATE))
    assert not cut and table.num_rows == 300
    assert scan_stream(path).intact


def test_missing_and_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match=r"state\.arrows is missing"):
        read_stream(tmp_path / "state.arrows")
    (tmp_path / "state.arrows").mkdir()  # not a file: cannot be read, even by root
    with pytest.raises(SessionError, match=r"state\.arrows cannot be read"):
        read_stream(tmp_path / "state.arrows")


def test_stream_paths_never_leave_the_session(tmp_path: Path) -> None:
    session = tmp_path / "s"
    session.mkdir()
    assert stream_path(session, "state.arrows") == session / "state.arrows"
    for bad in ("../x", "/etc/passwd", "a/../../x", "", "."):
        with pytest.raises(SessionError, match="outside the session"):
            stream_path(session, bad)
    (tmp_path / "outside.arrows").write_bytes(b"")
    (session / "link.arrows").symlink_to(tmp_path / "outside.arrows")
    with pytest.raises(SessionError, match="outside the session"):
        stream_path(session, "link.arrows")
