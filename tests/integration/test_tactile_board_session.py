"""A stylus and a taxel board (the firmware emulator, kind "taxel", on a real pty) recorded
together in one real session through the real CLI, read back; and a board sending bad frames:
counted, refused before the recorder, the force path unaffected."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drivers.serial.emulator import EmulatorProcess, start_emulator
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import open_session
from haptics.wire.messages import tactile_layout

from .conftest import haptics

pytestmark = pytest.mark.integration

RATE_HZ = 200.0
DURATION_S = 4.0


@pytest.fixture(autouse=True)
def _emulator_registry(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulators started here announce themselves in a private folder."""
    monkeypatch.setenv("HAPTICS_EMULATOR_DIR", str(tmp_path_factory.mktemp("emulators")))


@pytest.fixture
def taxel_board() -> Iterator[EmulatorProcess]:
    """A 16 × 16 taxel board at 200 Hz (real-time threads, as the board tests run it)."""
    with start_emulator("taxel", realtime=True) as emu:
        yield emu


def test_stylus_and_board_frames_recorded_together_by_the_cli(
    tmp_path: Path, taxel_board: EmulatorProcess
) -> None:
    spec = f"tactile:{taxel_board.port}"
    done = haptics("run", "--scene", "palpation", "--device", "simulated", "--device", spec,
                   "--duration", f"{DURATION_S:g}", "--record", str(tmp_path / "sessions"),
                   "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopped: finished" in done.stdout and "warning" not in done.stdout, done.stdout
    (path,) = (tmp_path / "sessions").iterdir()
    s = open_session(path)
    assert s.manifest.status == "complete"
    state = s.manifest.streams["state"]
    assert state.received == state.published and state.gaps == 0
    assert s.arrays("state")["seq"].size > 0.9 * 1000 * DURATION_S  # the stylus, at 1 kHz

    board = s.manifest.device["sensors"][spec]
    assert board["driver"] == "tactile" and board["provenance"] == "emulated"
    assert (board["extra"]["board"]["rows"], board["extra"]["board"]["cols"]) == (16, 16)
    info = s.manifest.streams["tactile"]
    assert info.source == spec and info.spec == tactile_layout(16, 16).to_spec()
    assert info.nominal_rate_hz == pytest.approx(RATE_HZ)
    assert info.published and info.received == info.published  # all published is on disk
    assert info.bad_messages == 0
    # the board's own frame numbers: a gap is a frame lost between board and disk
    # frames the board sent while the reader waited for a core are lost on the pty (its TX
    # buffer drops whole frames) and show as sequence gaps, counted: the rate the board keeps
    # is `haptics devices test`'s and `bench record --tactile`'s figure, not this test's
    assert info.received + info.gaps >= 0.9 * RATE_HZ * DURATION_S, info  # the board's frames
    assert info.received >= 0.25 * RATE_HZ * DURATION_S, info
    frames = s.column_array("tactile", "pressure_kpa")
    assert frames.shape == (info.received, 16, 16) and np.isfinite(frames).all()
    assert 20.0 < float(frames.max()) <= 102.375  # the emulator's pressed patch, in kPa
    seq = s.column_array("tactile", "seq").astype(np.int64)
    assert (np.diff(seq) >= 1).all()
    assert abs(seq[-1] - seq[0] + 1 - seq.size - info.gaps) <= 1  # every lost frame counted
    host = s.column_array("tactile", "host_time_ns")
    span_s = (host[-1] - host[0]) / 1e9
    assert span_s >= 0.95 * DURATION_S
    # the board's own clock: frame numbers advance at its rate, whatever the reader kept
    assert seq[-1] - seq[0] + 1 == pytest.approx(RATE_HZ * span_s, rel=0.05)


def test_bad_frames_are_counted_and_the_force_path_is_unaffected(tmp_path: Path) -> None:
    # after every 4th frame the board sends one bad frame: garbage, a chunk one byte short,
    # a chunk of impossible geometry, in turn
    with start_emulator("taxel", inject_bad_every=4, realtime=True) as emu:
        spec = f"tactile:{emu.port}"
        duration_s = 3.0
        cfg = SessionConfig(duration_s=duration_s, record_dir=tmp_path, monitor=False,
                            sensors=[spec])
        with SessionRun(cfg) as run:
            while run.elapsed_s() < duration_s:
                assert run.check() is None
                time.sleep(0.05)
        result = run.result
    assert result["reason"] == "finished" and not result["problems"], result
    assert not result["warnings"], result["warnings"]
    report = result["sensors"][spec]
    counts = report["device"]
    assert report["errors"] == 0 and report["streams"]["tactile"]["bad"] == 0
    injected = counts["frames"] // 4
    assert counts["bad_frames"] >= injected * 2 // 3 > 0, counts
    assert counts["length_errors"] > 0 and counts["bad_chunks"] > 0, counts
    # every whole frame the board delivered is published, refused, or came after the stop
    assert counts["frames_read"] >= counts["frames"] + counts["wrong_shape"] + counts[
        "out_of_range"] + counts["left_at_close"], counts  # a few in flight at the snapshot
    s = open_session(result["session"])
    assert s.manifest.status == "complete"
    state = s.manifest.streams["state"]
    assert state.received == state.published and state.gaps == 0
    tel = s.arrays("telemetry")
    assert (tel["wake_ns"][-1] - tel["wake_ns"][0]) / 1e9 > 2.8  # the loop ran to the end
    tactile = s.manifest.streams["tactile"]
    assert tactile.received == tactile.published == counts["frames"]
    assert tactile.bad_messages == 0  # refused before the recorder
    assert s.column_array("tactile", "pressure_kpa").shape[1:] == (16, 16)
    # and the manifest holds the whole account, for a reader without the run's log: published,
    # received, recorded, lost (gaps), and what the board's driver refused (CRC, length, shape)
    assert tactile.recorded == tactile.received == s.column_array("tactile", "seq").size
    manifest_counts = tactile.source_counts
    assert manifest_counts is not None
    assert (manifest_counts.refused, manifest_counts.errors) == (0, 0)
    assert manifest_counts.not_finite == report["streams"]["tactile"]["not_finite"]
    driver = manifest_counts.driver
    assert driver["bad_frames"] == counts["bad_frames"] > 0
    assert driver["bad_chunks"] == counts["bad_chunks"] > 0
    assert driver["length_errors"] == counts["length_errors"] > 0
    assert driver["frames"] == counts["frames"] == tactile.published
    assert "silent" not in driver  # a status, not a count
