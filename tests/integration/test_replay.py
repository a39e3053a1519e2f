"""Replay: the recorded motion re-rendered reproduces the forces; a changed renderer shows."""

import json
import time
from pathlib import Path

import pytest

from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.runtime.replay import compare_forces
from haptics.session.reading import open_session

from .conftest import haptics

pytestmark = pytest.mark.integration


def _record(tmp: Path, **cfg: object) -> Path:
    config = SessionConfig(record_dir=tmp, monitor=False, **cfg)  # type: ignore[arg-type]
    with SessionRun(config) as run:
        while run.elapsed_s() < float(config.duration_s or 0):
            time.sleep(0.05)
    return Path(run.result["session"])


def test_replay_reproduces_forces_and_detects_a_changed_renderer(tmp_path: Path) -> None:
    original = _record(tmp_path / "orig", duration_s=4.0, scene_params={"seed": 5})
    done = haptics(
        "replay", str(original), "--json", "--record", str(tmp_path / "replay"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["samples_compared"] > 0.9 * result["samples_recorded"]
    assert result["peak_force_n"] > 0.5
    assert result["force_rmse_n"] < 0.01 * result["peak_force_n"]
    # the same motion through a stiffer tissue must not match
    stiffer = _record(
        tmp_path / "stiff",
        duration_s=4.5,
        device=f"replay:{original}",
        scene_params={"seed": 5, "tissue_stiffness_n_per_m": 450.0},
    )
    changed = compare_forces(open_session(original), open_session(stiffer))
    assert changed["force_rmse_n"] > 0.05 * changed["peak_force_n"]


def test_replay_refuses_what_is_not_a_session(tmp_path: Path) -> None:
    done = haptics("replay", str(tmp_path), "--json", cwd=tmp_path)
    assert done.returncode != 0
    assert "not a session" in done.stdout + done.stderr
