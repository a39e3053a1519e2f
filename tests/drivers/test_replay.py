"""The replay driver plays a recorded state stream back: motion, buttons, the recorded
device's schema; it reports the force it applied itself (it has no sensor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drivers.replay.device import ReplayDevice
from haptics.devices.device import ZERO
from haptics.errors import DeviceNotFound
from haptics.session.manifest import Manifest
from haptics.session.recorder import RecorderConfig, Recording
from haptics.wire.messages import BUTTON_CLUTCH, STATE, STATUS_ARMED

N = 60


def _session(root: Path, schema: dict[str, Any], armed_from: int = 1) -> Path:
    """A closed session of N state samples: the stylus moving along x, the clutch held on
    samples 20..29, a measured force the replay must not pass on as its own; the device armed
    from sample `armed_from` on."""
    manifest = Manifest(device={"driver": "simulated", "schema": schema},
                        scene={"scene": "palpation"})  # fmt: skip
    cfg = RecorderConfig(endpoints={}, session_dir=root, manifest=manifest, reserve_bytes=0)
    rec = Recording(cfg)
    for i in range(1, N + 1):
        rec.writers["state"].add(
            STATE.make(
                seq=i,
                device_time_ns=i * 10**6,
                host_time_ns=10**9 + i * 10**6,
                px=0.001 * i,
                vx=1.0,
                fz=5.0,
                afz=5.0,
                buttons=BUTTON_CLUTCH if 20 <= i < 30 else 0,
                status=STATUS_ARMED if i >= armed_from else 0,
            )
        )
    rec.finish({"published": {"state": N}, "reason": "finished"})
    return root


def test_replays_motion_and_buttons_and_reports_its_own_force(tmp_path: Path) -> None:
    path = _session(tmp_path / "s", {"rate_hz": 1000.0, "max_force_n": 3.0})
    dev = ReplayDevice(str(path))
    dev.open()
    dev.arm()
    dev.start()
    first = [dev.read(1.0) for _ in range(10)]
    applied = dev.write((0.0, 0.0, 10.0))  # beyond the recorded device's limit: clamped
    rest = [dev.read(1.0) for _ in range(N - 10)]
    assert dev.read(0.05) is None  # after the last sample: quiet
    dev.close()
    samples = [s for s in first + rest if s is not None]
    assert [s.seq for s in samples] == list(range(1, N + 1))
    assert [s.position[0] for s in samples] == pytest.approx([0.001 * i for i in range(1, N + 1)])
    assert [s.buttons for s in samples] == [BUTTON_CLUTCH if 20 <= i < 30 else 0
                                            for i in range(1, N + 1)]  # fmt: skip
    assert applied == pytest.approx((0.0, 0.0, 3.0))
    assert all(s.applied == s.force == ZERO for s in samples[:10])
    assert all(s.applied == s.force == applied for s in samples[10:])


def test_the_replay_holds_at_the_recorded_arm_until_it_is_armed(tmp_path: Path) -> None:
    """The session's motion after arm starts at the replay's arm, however long the replaying
    session took to start: the samples recorded before arm play, then the replay waits."""
    dev = ReplayDevice(str(_session(tmp_path / "s", {"rate_hz": 1000.0}, armed_from=25)))
    dev.open()
    dev.start()
    before = [dev.read(0.05) for _ in range(24)]
    assert [s.seq for s in before if s is not None] == list(range(1, 25))
    assert [dev.read(0.02) for _ in range(5)] == [None] * 5  # held at sample 25
    dev.arm()
    after = [dev.read(1.0) for _ in range(N - 24)]
    assert [s.seq for s in after if s is not None] == list(range(25, N + 1))
    dev.close()


def test_schema_is_the_recorded_devices_with_its_damping_bound(tmp_path: Path) -> None:
    recorded = {"rate_hz": 500.0, "max_force_n": 3.0, "max_damping_ns_per_m": 10.0}
    schema = ReplayDevice.schema(str(_session(tmp_path / "new", recorded)))
    assert (schema.rate_hz, schema.max_force_n, schema.max_damping_ns_per_m) == (500.0, 3.0, 10.0)
    # sessions recorded before devices declared a bound ran with the loop's 20 N·s/m
    old = ReplayDevice.schema(str(_session(tmp_path / "old", {"rate_hz": 1000.0})))
    assert old.max_damping_ns_per_m == 20.0


def test_a_folder_that_is_not_a_session_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match="cannot replay"):
        ReplayDevice.schema(str(tmp_path))
    with pytest.raises(DeviceNotFound, match="replay needs a session"):
        ReplayDevice("")
