"""The passivity controller's damping bound comes from the device's schema: the orchestrator
hands it to the loop. The replay driver declares the bound its manifest records, so a session
whose recorded bound is changed replays under the new one."""

from pathlib import Path

import numpy as np
import pytest

from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.manifest import read_manifest, write_manifest
from haptics.session.reading import open_session

pytestmark = pytest.mark.integration


def _run(tmp: Path, duration_s: float, **cfg: object) -> Path:
    config = SessionConfig(record_dir=tmp, monitor=False, duration_s=duration_s, **cfg)
    with SessionRun(config) as run:
        run.run_to_end(0.05)
    return Path(run.result["session"])


# Stiff tissue without damping of its own: the 1 kHz contact makes energy at every press, so
# the controller engages whatever the tick timing. On the default tissue (300 N/m, 1 N·s/m)
# the replay engaged 0-244 ticks depending on timing, none at all on a loaded machine (CI).
SCENE = {"seed": 5, "tissue_stiffness_n_per_m": 1000.0, "tissue_damping_ns_per_m": 0.0}


def test_the_loop_bounds_passivity_damping_by_the_devices_schema(tmp_path: Path) -> None:
    # a quick press (the operator's script spans the session): the controller engages
    original = _run(tmp_path / "orig", 1.5, scene_params=SCENE)
    alpha = open_session(original).arrays("telemetry")["pc_alpha"]
    assert alpha.max() <= 20.0 + 1e-9  # the simulated stylus' bound
    assert alpha.max() > 1.0, "the original session must need more damping than the new bound"
    m = read_manifest(original)
    assert m.device["schema"]["max_damping_ns_per_m"] == pytest.approx(20.0)
    m.device["schema"]["max_damping_ns_per_m"] = 1.0  # as if the device were 20 times lighter
    write_manifest(original, m)
    # the whole recording: its state starts before arm (the device streams while the loop
    # builds its scene), so the motion where the controller engaged comes that much later
    t = open_session(original).arrays("state")["host_time_ns"]
    span_s = float(t[-1] - t[0]) / 1e9
    replayed = _run(
        tmp_path / "replay", span_s + 0.3, device=f"replay:{original}", scene_params=SCENE
    )
    alpha = open_session(replayed).arrays("telemetry")["pc_alpha"]
    assert alpha.max() <= 1.0 + 1e-9
    assert np.count_nonzero(alpha >= 1.0 - 1e-9) > 0  # it needed more and was held to 1
