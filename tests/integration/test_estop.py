"""E-stop through the real control plane: force goes to zero at once and stays there."""

import time
from pathlib import Path

import numpy as np
import pytest

from haptics import control
from haptics.messages import EVENT_ESTOP, FLAG_ESTOP
from haptics.orchestrator import SessionConfig, SessionRun
from haptics.session import open_session

pytestmark = pytest.mark.integration


def test_estop_zeroes_force_until_reset(tmp_path: Path) -> None:
    cfg = SessionConfig(duration_s=4.0, record_dir=tmp_path, monitor=False)
    with SessionRun(cfg) as run:
        while run.elapsed_s() < 2.2:  # pressing into the tissue by now
            time.sleep(0.05)
        reply = control.request(run.ctx, run.endpoints["ctl-loop"], "estop")
        assert reply["ok"] and reply["estop"]
        time.sleep(0.5)
        control.request(run.ctx, run.endpoints["ctl-loop"], "reset_estop")
        while run.elapsed_s() < 4.0:
            time.sleep(0.05)
    tel = open_session(run.result["session"]).arrays("telemetry")
    latched = (tel["flags"] & FLAG_ESTOP) != 0
    assert 400 < np.count_nonzero(latched) < 700  # ~0.5 s at 1 kHz
    force = np.sqrt(tel["fx"] ** 2 + tel["fy"] ** 2 + tel["fz"] ** 2)
    assert force[latched].max() == 0.0
    first = int(np.argmax(latched))
    assert force[first - 20 : first].max() > 0.2  # it was pushing just before
    assert np.count_nonzero(tel["events"] & EVENT_ESTOP) == 1
