import math

from drivers.simulated.device import SimulatedDevice
from drivers.simulated.hand import HandModel
from drivers.simulated.operator import PALPATION_SCRIPT, target
from haptics.devices.testing import DeviceContract


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
