"""The recorder's stream writer: loss counted as messages arrive, bad messages kept apart;
and what the recording's manifest says of a sensor's stream at the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haptics.session.manifest import Manifest, read_manifest
from haptics.session.recorder import DeclaredStream, RecorderConfig, Recording, StreamWriter
from haptics.wire.messages import COMMAND, STATE, tactile_layout


def test_writer_counts_gaps_as_they_arrive(tmp_path: Path) -> None:
    w = StreamWriter(tmp_path / "c.arrows", COMMAND)
    for seq in (1, 2, 5, 6):
        w.add(COMMAND.pack(seq, seq, 0, 0.0, 0.0, 0.0, 0))
    w.add(b"garbage!")
    w.close()
    info = w.info()
    assert info.gaps == 2 and info.received == 4
    assert info.bad_messages == 1


def test_a_message_of_another_kind_never_reaches_the_gap_count(tmp_path: Path) -> None:
    w = StreamWriter(tmp_path / "c.arrows", COMMAND)
    w.add(COMMAND.make(seq=1))
    w.add(STATE.make(seq=10**12))  # long enough to carry a seq, but not a command
    wrong_version = bytearray(COMMAND.make(seq=10**9))
    wrong_version[1] ^= 0xFF
    w.add(bytes(wrong_version))
    w.add(COMMAND.make(seq=2))
    w.close()
    info = w.info()
    assert (info.received, info.gaps, info.last_seq) == (2, 0, 2)
    assert info.bad_messages == 2


def _tactile_recording(tmp_path: Path) -> Recording:
    spec = tactile_layout(4, 4).to_spec()
    cfg = RecorderConfig(
        endpoints={},
        streams={"tactile": DeclaredStream(endpoint="ipc://unused", spec=spec, source="board")},
        session_dir=tmp_path / "s",
        manifest=Manifest(),
    )
    return Recording(cfg)


def test_a_sensors_own_counts_and_the_rows_on_disk_go_into_the_manifest(tmp_path: Path) -> None:
    rec = _tactile_recording(tmp_path)
    layout = tactile_layout(4, 4)
    for seq in (1, 2, 4):  # frame 3 lost on the way
        r = np.zeros((), layout.dtype)
        r["seq"] = seq
        rec.writers["tactile"].add(layout.from_record(r))
    rec.writers["tactile"].add(b"\x04\x01 short")  # a bad one reaching the recorder
    counts = {"refused": 2, "not_finite": 1, "errors": 0, "driver": {"bad_chunks": 7}}
    rec.finish({"published": {"tactile": 4}, "source_counts": {"tactile": counts}})
    info = read_manifest(tmp_path / "s").streams["tactile"]
    assert (info.published, info.received, info.recorded, info.gaps) == (4, 3, 3, 1)
    assert info.bad_messages == 1
    assert info.source_counts is not None
    assert info.source_counts.model_dump() == counts
    assert read_manifest(tmp_path / "s").streams["state"].source_counts is None  # core stream


def test_unusable_sensor_counts_are_noted_and_the_session_still_closes(tmp_path: Path) -> None:
    rec = _tactile_recording(tmp_path)
    rec.finish({"published": {}, "source_counts": {"tactile": {"refused": -3}}})
    m = read_manifest(tmp_path / "s")
    assert m.status == "complete" and m.streams["tactile"].source_counts is None
    assert any("tactile: its publisher's counts unusable" in n for n in m.notes)
