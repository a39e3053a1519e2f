"""A full `haptics run --device serial:<port>` session over the firmware emulator on a pty.

The emulated paddle moves along x only and rests at its origin, so the sessions that check
force map its origin onto the palpation block's side face, 1.5 mm in: the tissue pushes back
along +x (0.45 N; the policy lets force engage below 1 N), the firmware applies it, and the
paddle moves.
"""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from drivers.serial.emulator import start_emulator
from haptics.loop.safety import SafetyPolicy
from haptics.loop.teleop import Mapping
from haptics.runtime.orchestrator import SessionConfig, SessionRun
from haptics.session.reading import Session, open_session, summarize

from .conftest import LOOP_RATE_HZ, haptics

# the paddle's origin 1.5 mm inside the block's +x face (half extent 50 mm, tool radius 3 mm)
INTO_THE_SIDE = Mapping(offset_m=(0.0515, 0.0, -0.01))
ENGAGE_IN_CONTACT = SafetyPolicy(engage_below_n=1.0)

pytestmark = pytest.mark.integration


def test_serial_session_over_the_emulator_is_recorded(tmp_path: Path) -> None:
    with start_emulator("paddle") as emu:
        done = haptics("run", "--device", f"serial:{emu.port}", "--duration", "3",
                       "--record", str(tmp_path), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    session = next(p for p in tmp_path.iterdir() if (p / "manifest.json").exists())
    summary = json.loads(haptics("sessions", "show", str(session), "--json", cwd=tmp_path).stdout)
    assert summary["device"] == "serial" and summary["provenance"] == "emulated"
    assert summary["loss"]["state"]["published"] > 2500
    assert summary["loss"]["state"]["fraction"] >= 0.999
    assert LOOP_RATE_HZ[0] < summary["loop"]["rate_hz"] < LOOP_RATE_HZ[1]


def _force_flowed(s: Session, before_ns: int | None = None) -> None:
    """The loop commanded force in contact, the firmware applied it, and it moved the paddle
    (before `before_ns`, when given)."""
    tel, state = s.arrays("telemetry"), s.arrays("state")
    t_keep = tel["wake_ns"] < (before_ns or np.iinfo(np.int64).max)
    s_keep = state["host_time_ns"] < (before_ns or np.iinfo(np.int64).max)
    touching = (tel["contact"] > 0) & t_keep
    assert touching.sum() > 500
    assert tel["fx"][touching].max() > 0.01  # commanded, pushing the paddle out (+x)
    assert state["afx"][s_keep].max() > 0.01  # applied by the firmware
    assert state["px"][s_keep].max() > 1e-4  # and it moved the paddle by over 0.1 mm


def test_force_flows_through_the_firmware_and_moves_the_paddle(tmp_path: Path) -> None:
    with start_emulator("paddle") as emu:
        cfg = SessionConfig(device=f"serial:{emu.port}", duration_s=3.0, record_dir=tmp_path,
                            monitor=False, mapping=INTO_THE_SIDE,
                            safety=ENGAGE_IN_CONTACT)  # fmt: skip
        with SessionRun(cfg) as run:
            assert run.watch() == "finished"
    assert not run.result["problems"], run.result["problems"]
    s = open_session(run.result["session"])
    _force_flowed(s)
    assert summarize(s)["max_force_n"] <= cfg.safety.max_force_n


def test_emulator_killed_mid_session_is_reported_and_the_session_stays_readable(
    tmp_path: Path,
) -> None:
    emu = start_emulator("paddle")
    try:
        cfg = SessionConfig(device=f"serial:{emu.port}", duration_s=4.0, record_dir=tmp_path,
                            monitor=False, mapping=INTO_THE_SIDE,
                            safety=ENGAGE_IN_CONTACT)  # fmt: skip
        with SessionRun(cfg) as run:
            while run.elapsed_s() < 1.5:
                time.sleep(0.05)
            killed_ns = time.monotonic_ns()
            emu.stop()  # the board goes away mid-stream
            while run.elapsed_s() < 4.0:
                assert run.check() is None  # the session goes on, force safe
                time.sleep(0.05)
    finally:
        emu.stop()
    assert any("sent nothing" in w for w in run.result["warnings"]), run.result["warnings"]
    summary = summarize(open_session(run.result["session"]))
    assert summary["complete"] and summary["streams"]["state"] > 1000
    assert summary["events"]["input_lost"] >= 1
    session = open_session(run.result["session"])
    _force_flowed(session, before_ns=killed_ns)  # force flowed until the board went away
    tel = session.arrays("telemetry")
    for axis in ("fx", "fy", "fz"):
        assert abs(tel[axis][-500:]).max() == 0.0  # force zero once the device went silent
