"""The force a serial device applied, as its firmware reports it (real emulator, real pty).

`write()` answers before the firmware's next tick and cannot know its ramp-in; each sample
carries the force the firmware applied (`Sample.applied`, STATE.force_cmd_n) beside the one
it measured (`Sample.force`, STATE.force_meas_n), and that is what gets recorded.
"""

from __future__ import annotations

import time

import pytest

from drivers.serial.device import PADDLE_MASS_KG, RATE_HZ, SerialDevice
from drivers.serial.emulator import EmulatorProcess
from haptics.devices.device import ZERO, Sample, damping_cap_ns_per_m

pytestmark = pytest.mark.integration


def drive(dev: SerialDevice, force: float, seconds: float) -> tuple[set[tuple[float, ...]],
                                                                      list[Sample]]:  # fmt: skip
    """Write `force` at ~1 kHz for `seconds`; (what write() returned, the samples read)."""
    returned: set[tuple[float, ...]] = set()
    samples: list[Sample] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        returned.add(dev.write((force, 0.0, 0.0)))
        while (s := dev.read(0.0)) is not None:
            samples.append(s)
        time.sleep(0.001)
    return returned, samples


def test_samples_carry_the_ramped_force_the_firmware_applied(emulator: EmulatorProcess) -> None:
    dev = SerialDevice(emulator.port)
    dev.open()
    try:
        _, before = drive(dev, 1.0, 0.03)
        assert before and all(s.applied == ZERO for s in before)  # open: nothing applied
        dev.arm()
        returned, samples = drive(dev, 2.0, 0.25)
        assert returned == {(2.0, 0.0, 0.0)}  # write() predicts the full force at once ...
        applied = [s.applied[0] for s in samples if s.applied is not None]
        assert len(applied) == len(samples) > 150
        # ... while the firmware ramps in over its 50 ms: the samples say so
        ramping = [a for a in applied if 0.05 < a < 1.95]
        assert len(ramping) > 20
        assert applied == sorted(applied)  # never more than asked, never back down
        assert applied[-1] == pytest.approx(2.0)
        # the measured force is reported beside it, from the (simulated) motor current
        assert samples[-1].force[0] == pytest.approx(2.0, abs=0.3)
        dev.disarm()
        _, after = drive(dev, 2.0, 0.03)
        assert after[-1].applied == ZERO
    finally:
        dev.close()


def test_schema_bounds_passivity_damping_for_the_paddle_mass() -> None:
    schema = SerialDevice.schema()
    assert schema.max_damping_ns_per_m == damping_cap_ns_per_m(PADDLE_MASS_KG, RATE_HZ)
    assert schema.max_damping_ns_per_m == pytest.approx(10.0)  # 0.2 · 0.05 kg · 1 kHz
