import math

import pytest

from drivers.simulated.device import MAX_FORCE_N, SimulatedDevice, parse_argument
from drivers.simulated.hand import HandModel
from drivers.simulated.operator import PALPATION_SCRIPT, ButtonPress, buttons_at, target
from haptics.devices.device import damping_cap_ns_per_m
from haptics.devices.testing import DeviceContract
from haptics.errors import DeviceError
from haptics.wire.messages import BUTTON_CLUTCH


def test_script_starts_above_and_ends_above_the_surface() -> None:
    start, v0 = target(0.0, 10.0)
    end, v1 = target(10.0, 10.0)
    assert start[2] > 0.0 and end[2] > 0.0
    assert v0 == (0.0, 0.0, 0.0) and v1 == (0.0, 0.0, 0.0)


def test_script_presses_into_the_tissue_and_sweeps_across() -> None:
    zs = [target(t / 100, 10.0)[0][2] for t in range(1000)]
    xs = [target(t / 100, 10.0)[0][0] for t in range(1000)]
    assert min(zs) < -0.005
    assert max(xs) - min(xs) > 0.05


def test_script_is_continuous() -> None:
    prev = target(0.0, 10.0)[0]
    for i in range(1, 10001):
        p = target(i / 1000, 10.0)[0]
        assert math.dist(p, prev) < 1e-4  # < 0.1 mm per ms: no jumps
        prev = p
    assert len(PALPATION_SCRIPT) >= 4


def test_hand_settles_on_target_without_force() -> None:
    hand = HandModel()
    pos, vel = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    for _ in range(3000):
        pos, vel = hand.step(pos, vel, (0.0, 0.0, -0.01), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 1e-3)
    assert math.isclose(pos[2], -0.01, abs_tol=1e-5)


def test_device_force_pushes_the_hand_back() -> None:
    hand = HandModel()
    pos, vel = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    for _ in range(3000):
        pos, vel = hand.step(pos, vel, (0.0, 0.0, -0.01), (0.0, 0.0, 0.0), (0.0, 0.0, 2.0), 1e-3)
    # equilibrium: K (target - x) + F = 0 → x = target + F / K
    assert math.isclose(pos[2], -0.01 + 2.0 / hand.stiffness_n_per_m, abs_tol=1e-5)


def test_simulated_device_runs_at_its_rate() -> None:
    dev = SimulatedDevice("1")
    dev.open()
    dev.start(None)
    first = dev.read(1.0)
    for _ in range(199):
        last = dev.read(1.0)
    dev.close()
    assert first is not None and last is not None
    span_s = (last.host_time_ns - first.host_time_ns) / 1e9
    assert last.seq - first.seq == 199
    assert 0.19 < span_s < 0.25


class TestSimulatedContract(DeviceContract):
    """The device contract suite, as a driver package runs it against its own driver."""

    spec = "simulated:2"


def test_argument_takes_a_duration_and_clutch_presses() -> None:
    assert parse_argument("") == (None, ())
    assert parse_argument("20") == (20.0, ())
    duration, presses = parse_argument("20, clutch=0.3-0.35,clutch=0.6-0.7")
    assert duration == 20.0
    assert presses == (
        ButtonPress(0.3, 0.35, BUTTON_CLUTCH),
        ButtonPress(0.6, 0.7, BUTTON_CLUTCH),
    )
    assert parse_argument("clutch=0.48-0.54")[0] is None  # the session's duration stands
    for bad in ("-1", "clutch=0.5-0.4", "clutch=0.5", "clutch=0.9-1.5", "grip=0.1-0.2", "x"):
        with pytest.raises(DeviceError, match="simulated:\\[SECONDS\\]"):
            parse_argument(bad)


def test_buttons_are_held_inside_their_presses_only() -> None:
    presses = (ButtonPress(0.2, 0.4, BUTTON_CLUTCH), ButtonPress(0.3, 0.5, 1 << 3))
    at = [buttons_at(t / 10, 10.0, presses) for t in range(0, 101, 5)]  # every 0.5 s
    assert at[:4] == [0, 0, 0, 0]  # before 2 s
    assert at[4:6] == [BUTTON_CLUTCH] * 2  # 2.0, 2.5 s
    assert at[6:8] == [BUTTON_CLUTCH | 1 << 3] * 2  # 3.0, 3.5 s: both
    assert at[8:10] == [1 << 3] * 2  # 4.0, 4.5 s
    assert set(at[10:]) == {0}  # from 5 s: the interval's end is not in it
    assert buttons_at(1.0, 0.0, presses) == 0


def test_the_operator_presses_the_clutch_and_samples_report_the_applied_force() -> None:
    dev = SimulatedDevice("0.4,clutch=0.25-0.5")
    dev.open()
    dev.arm()
    dev.start(None)
    applied = dev.write((0.0, 0.0, 20.0))  # beyond the device's limit: clamped
    samples = [dev.read(1.0) for _ in range(200)]
    dev.close()
    assert applied == (0.0, 0.0, MAX_FORCE_N)
    assert all(s is not None and s.applied == applied and s.force == applied for s in samples)
    # held from 0.1 s to 0.2 s of the 0.4 s script, by the device's clock (a loaded machine
    # may skip ticks)
    held = [(100_000_000 <= s.device_time_ns < 200_000_000, bool(s.buttons & BUTTON_CLUTCH))
            for s in samples if s is not None]  # fmt: skip
    assert all(due == pressed for due, pressed in held)
    assert any(pressed for _, pressed in held) and not all(pressed for _, pressed in held)


def test_schema_bounds_passivity_damping_for_the_stylus_mass() -> None:
    schema = SimulatedDevice.schema()
    # 0.2 of the 0.1 kg stylus' velocity per 1 ms tick at most: 20 N·s/m
    assert math.isclose(schema.max_damping_ns_per_m, 20.0)
    assert math.isclose(damping_cap_ns_per_m(0.05, 1000.0), 10.0)
    with pytest.raises(ValueError, match="must be > 0"):
        damping_cap_ns_per_m(0.0, 1000.0)
