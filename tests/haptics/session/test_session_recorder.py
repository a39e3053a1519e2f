"""The recorder's stream writer: loss counted as messages arrive, bad messages kept apart."""

from pathlib import Path

from haptics.session.recorder import StreamWriter
from haptics.wire.messages import COMMAND, STATE


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
