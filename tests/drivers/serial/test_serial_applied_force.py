"""The force a serial device applied, as its firmware reports it (real emulator, real pty).

`write()` answers before the firmware's next tick and cannot know its ramp-in; each sample
carries the force the firmware applied (`Sample.applied`, STATE.force_cmd_n) beside the one
it measured (`Sample.force`, STATE.force_meas_n), and that is what gets recorded.

What is checked here is the reporting, not the watchdogs (test_serial_safety has those), so
the driver's host watchdog is off and the firmware's watchdog, stall fault and the driver's
lost-link silence are long: a busy machine that holds up this test's thread or the emulator
for a while must not zero the force under test. Counts go by samples received, which carry
the device's own time, not by how much wall time passed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.serial.device import PADDLE_MASS_KG, RATE_HZ, SerialDevice
from drivers.serial.emulator import EmulatorProcess, start_emulator
from haptics.devices.device import ZERO, Sample, damping_cap_ns_per_m

pytestmark = pytest.mark.integration

RAMP_MS = 50          # the firmware's ramp-in of a new arm
STALL_GAP_NS = 5_000_000  # two samples this far apart in device time: the emulator was held up
TRIES = 3


@pytest.fixture
def patient_emulator(emulator_binary: Path) -> Iterator[EmulatorProcess]:
    """A paddle emulator whose watchdog and stall fault outlast a busy machine's pauses."""
    emu = start_emulator("paddle", watchdog_ms=5000, stall_ms=5000)
    try:
        yield emu
    finally:
        emu.stop()


def drive(dev: SerialDevice, force: float, count: int, wall_limit_s: float = 10.0,
          ) -> tuple[set[tuple[float, ...]], list[Sample]]:
    """Write `force` at ~1 kHz until `count` samples came back; (what write() returned,
    the samples read). Fails if the device sends fewer within `wall_limit_s`."""
    returned: set[tuple[float, ...]] = set()
    samples: list[Sample] = []
    end = time.monotonic() + wall_limit_s
    while len(samples) < count:
        assert time.monotonic() < end, f"only {len(samples)} of {count} samples in {wall_limit_s} s"
        returned.add(dev.write((force, 0.0, 0.0)))
        while (s := dev.read(0.0)) is not None:
            samples.append(s)
        time.sleep(0.001)
    return returned, samples


def largest_gap_ns(samples: list[Sample]) -> int:
    return max(b.device_time_ns - a.device_time_ns for a, b in itertools.pairwise(samples))


def test_samples_carry_the_ramped_force_the_firmware_applied(
        patient_emulator: EmulatorProcess) -> None:
    dev = SerialDevice(patient_emulator.port, host_watchdog_ms=None, lost_after_s=5.0)
    dev.open()
    try:
        _, before = drive(dev, 1.0, 20)
        assert all(s.applied == ZERO for s in before)  # open: nothing applied
        gaps = []
        for _ in range(TRIES):  # again only if the emulator was measurably held up mid-ramp
            dev.arm()
            returned, samples = drive(dev, 2.0, 4 * RAMP_MS)
            gaps.append(largest_gap_ns(samples))
            if gaps[-1] <= STALL_GAP_NS:
                break
            dev.disarm()
            drive(dev, 0.0, 20)
        else:
            pytest.fail(f"the emulator was held up in every try (largest gaps between samples, "
                        f"ns: {gaps}); the machine is too busy for this test")
        assert returned == {(2.0, 0.0, 0.0)}  # write() predicts the full force at once ...
        assert all(s.applied is not None for s in samples)
        applied = [s.applied[0] for s in samples if s.applied is not None]
        # ... while the firmware ramps in over its 50 ms: the samples say so
        ramping = [a for a in applied if 0.05 < a < 1.95]
        assert len(ramping) > 20
        assert applied == sorted(applied)  # never more than asked, never back down
        assert applied[-1] == pytest.approx(2.0)
        # the measured force is reported beside it, from the (simulated) motor current
        assert samples[-1].force[0] == pytest.approx(2.0, abs=0.3)
        dev.disarm()
        _, after = drive(dev, 2.0, 20)
        assert after[-1].applied == ZERO
    finally:
        dev.close()


def test_schema_bounds_passivity_damping_for_the_paddle_mass() -> None:
    schema = SerialDevice.schema()
    assert schema.max_damping_ns_per_m == damping_cap_ns_per_m(PADDLE_MASS_KG, RATE_HZ)
    assert schema.max_damping_ns_per_m == pytest.approx(10.0)  # 0.2 · 0.05 kg · 1 kHz
