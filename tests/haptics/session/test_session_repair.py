"""Repair keeps every intact batch, a copy of everything it changes, and nothing else:
a half-written last batch, a session already complete, an unreadable file, real gaps, a
damaged batch in the middle, a manifest path out of the session."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from session_builders import batch_spans, flip_bit

from haptics.errors import SessionError
from haptics.session.manifest import read_manifest
from haptics.session.qa import qa_report
from haptics.session.reading import open_session
from haptics.session.repair import repair_session
from haptics.session.streams import file_sha256


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _rows(path: Path) -> pa.Table:
    return pa.ipc.open_stream(str(path)).read_all()


def _backups(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name.startswith("repair-"))


def test_a_half_written_last_batch_is_dropped_and_the_rest_kept(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=1000, batch=100, close=False)  # a killed recorder
    state = path / "state.arrows"
    with open(state, "ab") as f:  # a batch that was being written when it died
        f.write(state.read_bytes()[batch_spans(state)[3][0] :][:500])
    original = state.read_bytes()
    report = repair_session(path)
    assert report["action"] == "repaired"
    assert report["streams"]["state"]["dropped_partial_batch"] is True
    assert _rows(state).column("seq").to_pylist() == list(range(1, 1001))
    (backup,) = _backups(path)
    assert (backup / "state.arrows").read_bytes() == original  # the original, as it was
    m = read_manifest(path)
    assert m.status == "repaired" and "cut off" in str(m.stop_reason)
    for info in m.streams.values():
        assert info.sha256 == file_sha256(path / info.file)
        assert info.received == 1000 and info.gaps == 0
    assert qa_report(open_session(path))["checks"]["files_intact"]


def test_an_already_complete_session_is_left_untouched(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=500)
    before = _snapshot(path)
    report = repair_session(path)
    assert report["action"].startswith("none")
    assert _snapshot(path) == before  # not one byte, and no backup folder


def test_repairing_twice_changes_nothing_the_second_time(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=300, close=False)
    assert repair_session(path)["action"] == "repaired"
    before = _snapshot(path)
    assert repair_session(path)["action"].startswith("none")
    assert _snapshot(path) == before


def test_real_gaps_are_counted_not_invented(make_session: Callable[..., Path]) -> None:
    path = make_session(n=1000, drop_state=[10, 11, 500], close=False)
    repair_session(path)
    info = read_manifest(path).streams["state"]
    assert (info.received, info.gaps, info.first_seq, info.last_seq) == (997, 3, 1, 1000)


def test_the_intact_batches_after_a_damaged_one_are_recovered(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=1000, batch=100)
    tel = path / "telemetry.arrows"
    original = _rows(tel)
    start, _ = batch_spans(tel)[4]  # rows 301..400
    flip_bit(tel, start + 1, 3)
    report = repair_session(path)
    assert report["action"] == "repaired"
    repaired = _rows(tel)
    expect = pa.concat_tables([original.slice(0, 300), original.slice(400)])
    assert repaired.equals(expect)  # every intact row, bit for bit
    m = read_manifest(path)
    assert m.status == "repaired" and m.stop_reason == "finished"
    assert m.streams["telemetry"].gaps == 100
    assert m.streams["state"].sha256 == file_sha256(path / "state.arrows")


def test_a_missing_file_is_recreated_empty_and_the_reserve_kept(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=200, close=False)
    (path / "command.arrows").unlink()
    (path / ".space-reserve").write_bytes(b"\0" * 4096)
    report = repair_session(path)
    assert "was_missing" in report["streams"]["command"]
    assert _rows(path / "command.arrows").num_rows == 0
    assert not (path / ".space-reserve").exists()
    (backup,) = _backups(path)
    assert (backup / ".space-reserve").stat().st_size == 4096  # moved aside, not deleted


def test_a_file_that_cannot_be_read_stops_repair_before_any_change(
    make_session: Callable[..., Path],
) -> None:
    path = make_session(n=300, close=False)
    (path / "command.arrows").unlink()
    (path / "command.arrows").mkdir()  # unreadable as a file, even for root
    before = _snapshot(path)
    with pytest.raises(SessionError, match=r"command\.arrows is not a regular file"):
        repair_session(path)
    assert _snapshot(path) == before


@pytest.fixture
def world_writable_session() -> Iterator[Path]:
    """A session folder an unprivileged user may write (outside pytest's private tmp)."""
    root = Path(tempfile.mkdtemp(prefix="haptics-repair-"))
    root.chmod(0o777)
    yield root
    shutil.rmtree(root)


def _repair_as_a_user(path: Path) -> subprocess.CompletedProcess[str]:
    """repair_session(path) in a process of an ordinary user (root reads and writes any file,
    so as root it runs as 'nobody'); exit 2 and the message on SessionError."""
    code = (
        "import sys\nfrom haptics.errors import SessionError\n"
        "from haptics.session.repair import repair_session\n"
        "try:\n    repair_session(sys.argv[1])\nexcept SessionError as e:\n"
        "    print(e)\n    sys.exit(2)\n"
    )
    cmd = [sys.executable, "-c", code, str(path)]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )


def test_a_file_without_read_permission_is_reported_not_replaced(
    world_writable_session: Path,
) -> None:
    from session_builders import write_session

    path = write_session(world_writable_session / "s", n=300, close=False)
    for p in [path, *path.iterdir()]:
        p.chmod(0o777 if p.is_dir() else 0o666)
    (path / "state.arrows").chmod(0o000)
    before = _snapshot(path)
    done = _repair_as_a_user(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "state.arrows cannot be read (Permission denied)" in done.stdout
    assert "Traceback" not in done.stderr
    assert _snapshot(path) == before  # not replaced by an empty file, nothing else changed


def test_a_manifest_path_out_of_the_session_is_refused(
    make_session: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_session(n=300, close=False)
    outside = tmp_path / "x"
    outside.write_bytes(b"not yours")
    raw = json.loads((path / "manifest.json").read_text())
    raw["streams"]["state"]["file"] = "../x"
    (path / "manifest.json").write_text(json.dumps(raw))
    before = _snapshot(path)
    with pytest.raises(SessionError, match=r"'\.\./x' points outside the session"):
        repair_session(path)
    assert outside.read_bytes() == b"not yours"
    assert _snapshot(path) == before


def test_out_of_order_samples_are_recounted_without_underflow(tmp_path: Path) -> None:
    from haptics.session.manifest import Manifest, write_manifest
    from haptics.session.recorder import StreamWriter
    from haptics.wire.messages import COMMAND, STATE, TELEMETRY

    m = Manifest(loop={"rate_hz": 1000.0})
    for name, layout in (("state", STATE), ("command", COMMAND), ("telemetry", TELEMETRY)):
        w = StreamWriter(tmp_path / f"{name}.arrows", layout)
        for i in (5, 3, 4):
            fields = {"tick": i, "wake_ns": i} if name == "telemetry" else {"seq": i}
            w.add(layout.make(**fields))
        w.flush()  # no close: a recorder killed mid-session
        m.streams[name] = w.info()
    write_manifest(tmp_path, m)
    repair_session(tmp_path)
    info = read_manifest(tmp_path).streams["state"]
    assert (info.gaps, info.first_seq, info.last_seq, info.received) == (0, 3, 5, 3)


def test_a_folder_repair_may_not_write_is_reported_and_left_as_it_was(
    world_writable_session: Path,
) -> None:
    from session_builders import write_session

    path = write_session(world_writable_session / "s", n=300, close=False)
    for p in [path, *path.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)  # readable by all, writable by its owner only
    before = _snapshot(path)
    done = _repair_as_a_user(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "repair stopped: cannot write in" in done.stdout and "Permission denied" in done.stdout
    assert "Traceback" not in done.stderr
    assert _snapshot(path) == before
