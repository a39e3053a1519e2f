"""E-stop through the real control plane: force goes to zero at once and stays there."""

import time
from pathlib import Path

import numpy as np
import pytest

from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import open_session
from haptics.wire import control
from haptics.wire.messages import EVENT_ESTOP, FLAG_ESTOP

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


def test_force_re_engages_from_zero_after_the_device_dropped_it(tmp_path: Path) -> None:
    """Disarm and re-arm the device mid-press: the loop must not resume at full force."""
    cfg = SessionConfig(duration_s=4.0, record_dir=tmp_path, monitor=False)
    with SessionRun(cfg) as run:
        while run.elapsed_s() < 2.2:  # pressing by now
            time.sleep(0.05)
        assert control.request(run.ctx, run.endpoints["ctl-device"], "disarm")["ok"]
        time.sleep(0.3)
        assert control.request(run.ctx, run.endpoints["ctl-device"], "arm")["ok"]
        while run.elapsed_s() < 4.0:
            time.sleep(0.05)
    s = open_session(run.result["session"])
    tel, state = s.arrays("telemetry"), s.arrays("state")
    from haptics.wire.messages import STATUS_ARMED

    armed = (state["status"] & STATUS_ARMED) != 0
    seq_armed = dict(zip(state["seq"].tolist(), armed.tolist(), strict=True))
    used_armed = np.array([seq_armed.get(int(q), False) for q in tel["state_seq"]])
    force = np.sqrt(tel["fx"] ** 2 + tel["fy"] ** 2 + tel["fz"] ** 2)
    end = force.size - 500  # the session's own stop disarms the device at the very end
    off = np.flatnonzero(~used_armed[2000:end]) + 2000  # ticks that saw it disarmed mid-press
    assert off.size > 100
    back = off[-1] + 1  # first tick that saw it armed again
    assert force[off].max() == 0.0
    # it comes back through engage-below and the ramp: never a jump to the pressing force
    steps = np.abs(np.diff(force[back - 1 : back + 300]))
    assert steps.max() < 0.25, steps.max()
