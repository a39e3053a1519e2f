"""Recorder files and the session reader, without processes: write, cut, read back."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from haptics.errors import SessionError
from haptics.session.manifest import Manifest, write_manifest
from haptics.session.reading import loop_figures, open_session, read_stream, seq_gaps, summarize
from haptics.session.recorder import StreamWriter
from haptics.wire.messages import COMMAND, STATE, TELEMETRY


def _state(seq: int) -> bytes:
    return STATE.make(
        seq=seq,
        device_time_ns=seq * 1000,
        host_time_ns=seq * 1_000_000,
        pz=-0.001,
        fz=1.0,
        status=1,
    )


def test_stream_file_is_read_back_by_pyarrow_alone(tmp_path: Path) -> None:
    w = StreamWriter(tmp_path / "state.arrows", STATE)
    for batch in range(3):
        for i in range(100):
            w.add(_state(batch * 100 + i + 1))
        w.flush()
    w.close()
    table = pa.ipc.open_stream(pa.OSFile(str(tmp_path / "state.arrows"))).read_all()
    assert table.num_rows == 300
    assert table.column("seq").to_pylist() == list(range(1, 301))
    assert "kind" not in table.column_names


def test_a_file_cut_mid_batch_keeps_every_flushed_batch(tmp_path: Path) -> None:
    path = tmp_path / "state.arrows"
    w = StreamWriter(path, STATE)
    for batch in range(4):
        for i in range(50):
            w.add(_state(batch * 50 + i + 1))
        w.flush()
    size = path.stat().st_size  # no end-of-stream marker yet: like a killed recorder
    with open(path, "r+b") as f:
        f.truncate(size - 100)  # and the last batch half written
    table, truncated = read_stream(path)
    assert truncated
    assert table.num_rows == 150
    assert table.column("seq").to_pylist() == list(range(1, 151))


def test_writer_counts_gaps_as_they_arrive(tmp_path: Path) -> None:
    w = StreamWriter(tmp_path / "c.arrows", COMMAND)
    for seq in (1, 2, 5, 6):
        w.add(COMMAND.pack(seq, seq, 0, 0.0, 0.0, 0.0, 0))
    w.add(b"garbage!")
    w.close()
    info = w.info()
    assert info.gaps == 2 and info.received == 4
    assert info.bad_messages == 1


def test_seq_gaps_and_loop_figures_are_pure() -> None:
    assert seq_gaps(np.array([1, 2, 3, 7, 8], dtype=np.uint64)) == 3
    assert seq_gaps(np.zeros(0, dtype=np.uint64)) == 0
    wake = np.arange(0, 1001) * 1_000_000
    wake[500:] += 30_000  # one period 30 µs long
    fig = loop_figures(wake, 1_000_000)
    assert fig["rate_hz"] == pytest.approx(1000 * 1000 / 1000.03, rel=1e-6)
    assert fig["period_error_us"]["max"] == pytest.approx(30.0)
    assert fig["period_error_us"]["p50"] == 0.0


def test_open_session_explains_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="not a session"):
        open_session(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(SessionError, match="unreadable"):
        open_session(tmp_path)


def test_summary_of_a_small_synthetic_session(tmp_path: Path) -> None:
    m = Manifest(loop={"rate_hz": 1000.0})
    writers = {
        "state": StreamWriter(tmp_path / "state.arrows", STATE),
        "command": StreamWriter(tmp_path / "command.arrows", COMMAND),
        "telemetry": StreamWriter(tmp_path / "telemetry.arrows", TELEMETRY),
    }
    for i in range(1, 101):
        if i != 50:  # one state sample lost
            writers["state"].add(_state(i))
        writers["command"].add(COMMAND.pack(i, i, 0, 0.0, 0.0, 2.0, 1))
        contact = 1 if i > 50 else 0
        writers["telemetry"].add(
            TELEMETRY.make(
                tick=i,
                state_seq=i,
                deadline_ns=i * 10**6,
                wake_ns=i * 10**6,
                compute_ns=20_000,
                contact=contact,
                depth_m=0.001,
                tissue_force_n=2.0,
                fz=2.0 * contact,
                flags=1,
            )
        )
    for name, w in writers.items():
        w.close()
        m.streams[name] = w.info()
    m.streams["state"].published = 100
    write_manifest(tmp_path, m)
    s = summarize(open_session(tmp_path))
    assert s["streams"] == {"state": 99, "command": 100, "telemetry": 100}
    assert s["seq_gaps"] == 1
    assert s["loss"]["state"]["fraction"] == pytest.approx(0.99)
    assert s["loop"]["rate_hz"] == pytest.approx(1000.0)
    assert s["max_force_n"] == pytest.approx(2.0)
    assert s["contact_fraction"] == pytest.approx(0.5)
    assert not s["complete"]  # status still "recording": the recorder never closed it


def test_clock_mapping_recovers_offset_and_drift() -> None:
    from haptics.session.qa import clock_mapping

    device = np.arange(0, 10_000) * 1_000_000
    host = 5_000_000 + (device * (1 + 50e-6)).astype(np.int64)
    fit = clock_mapping(device, host)
    assert fit["drift_ppm"] == pytest.approx(50.0, abs=0.01)
    assert fit["offset_ns"] == pytest.approx(5_000_000, abs=2)
    assert fit["residual_p99_us"] < 0.01


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


def test_a_missing_stream_file_reads_empty_and_repair_restores_it(tmp_path: Path) -> None:
    from haptics.session.repair import repair_session

    m = Manifest(loop={"rate_hz": 1000.0})
    for name, layout in (("state", STATE), ("command", COMMAND), ("telemetry", TELEMETRY)):
        w = StreamWriter(tmp_path / f"{name}.arrows", layout)
        for i in (5, 3, 4):  # out of order: repair's gap count must not underflow
            w.add(
                layout.make(
                    **{("tick" if name == "telemetry" else "seq"): i, "wake_ns": i}
                    if name == "telemetry"
                    else {"seq": i, "host_time_ns": i}
                )
            )
        w.flush()  # no close: a recorder killed mid-session
        m.streams[name] = w.info()
    write_manifest(tmp_path, m)
    (tmp_path / "command.arrows").unlink()  # and one file lost altogether
    s = summarize(open_session(tmp_path))
    assert s["streams"]["command"] == 0 and "command" in s["missing_streams"]
    assert s["streams"]["state"] == 3
    report = repair_session(tmp_path)
    assert "was_missing" in report["streams"]["command"]
    fixed = open_session(tmp_path)
    assert fixed.manifest.status == "repaired"
    assert fixed.manifest.streams["state"].gaps == 0
    assert (
        fixed.manifest.streams["state"].first_seq,
        fixed.manifest.streams["state"].last_seq,
    ) == (3, 5)
    assert pa.ipc.open_stream(str(tmp_path / "command.arrows")).read_all().num_rows == 0
