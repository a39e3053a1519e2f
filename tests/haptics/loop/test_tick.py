"""One tick as a pure function: no processes, no sockets, a fake clock and a fake wall."""

from __future__ import annotations

import math

import pytest

from haptics.loop.safety import (
    SAFETY_DEVICE_OFF,
    SAFETY_ENGAGING,
    SAFETY_ESTOP,
    SAFETY_WAITING,
    SafetyPolicy,
)
from haptics.loop.scene import NO_CONTACT, Contact
from haptics.loop.teleop import Mapping
from haptics.loop.tick import (
    CONTROL_ESTOP,
    CONTROL_STOPPING,
    MAX_SEQ_JUMP,
    SAMPLE_BAD,
    SAMPLE_NEW,
    SAMPLE_NONE,
    TickOut,
    TickParams,
    TickState,
    after_estop_reset,
    initial_state,
    tick,
)
from haptics.wire.messages import (
    BUTTON_CLUTCH,
    EVENT_ESTOP,
    FLAG_BAD_INPUT,
    FLAG_STOPPING,
    STATE,
    STATUS_ARMED,
    STATUS_WATCHDOG,
)

MS = 1_000_000
T0 = 10_000 * MS  # the monotonic clock of a machine that has been up a while
STIFFNESS = 500.0  # N/m: the fake wall below z = 0


class Wall:
    """A scene stand-in: a spring wall below z = 0; remembers how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, tool: tuple[float, float, float], vel: object, dt: float) -> Contact:
        self.calls += 1
        z = tool[2]
        if z >= 0.0:
            return NO_CONTACT
        f = -STIFFNESS * z
        return Contact(True, -z, (0.0, 0.0, f), f)


def clock() -> int:
    return T0


def params(**policy: float | int) -> TickParams:
    return TickParams.make(1000.0, SafetyPolicy(ramp_in_s=0.0, **policy), Mapping())


def sample(
    seq: int,
    host_ns: int,
    z: float = -0.004,
    status: int = STATUS_ARMED,
    buttons: int = 0,
    **extra: float,
) -> bytes:
    return STATE.make(seq=seq, host_time_ns=host_ns, pz=z, status=status, buttons=buttons, **extra)


def run(
    p: TickParams,
    s: TickState,
    raws: list[bytes | None],
    start: int = T0,
    scene: Wall | None = None,
    control: int = 0,
) -> tuple[TickState, list[TickOut]]:
    """Tick once per message, 1 ms apart; each message is stamped 0.2 ms before its tick."""
    outs = []
    wall = scene or Wall()
    for i, raw in enumerate(raws):
        s, out = tick(p, s, raw, start + i * MS, wall, clock, control)
        outs.append(out)
    return s, outs


def pressing(
    n: int, first_seq: int = 1, start: int | None = None, **kw: float
) -> list[bytes | None]:
    """`n` samples, one per ms, stamped 0.2 ms before their tick; by default sample k is
    for the tick at T0 + (k − 1) ms."""
    t = T0 + (first_seq - 1) * MS if start is None else start
    return [sample(first_seq + i, t + i * MS - 200_000, **kw) for i in range(n)]  # type: ignore[arg-type]


def test_no_force_and_no_scene_before_the_first_real_sample() -> None:
    p = params()
    wall = Wall()
    s, outs = run(p, initial_state(p), [None] * 20, scene=wall)
    assert wall.calls == 20  # the tool parked far above the tissue: no contact
    assert not any(o.contact.contact for o in outs)
    assert all(o.force == (0.0, 0.0, 0.0) for o in outs)
    assert all(o.safety & SAFETY_WAITING for o in outs)
    assert not s.has_sample and s.tool == Mapping().offset_m
    # the first real sample arrives pressing 4 mm into the wall: force engages from zero
    s, outs = run(p, s, pressing(40), start=T0 + 20 * MS, scene=wall)
    assert wall.calls == 60 and outs[0].verdict == SAMPLE_NEW
    assert outs[0].force == (0.0, 0.0, 0.0) and outs[0].safety & SAFETY_ENGAGING
    assert max(o.force[2] for o in outs) == 0.0, "2 N at first contact is above engage_below"


def test_force_engages_below_the_threshold_and_follows_the_wall() -> None:
    p = params()
    _, outs = run(p, initial_state(p), pressing(5, z=-0.0001) + pressing(200, 6, z=-0.004))
    assert outs[4].force[2] == pytest.approx(0.05)
    assert outs[-1].force[2] == pytest.approx(STIFFNESS * 0.004, rel=0.05)


def test_a_malformed_message_is_counted_and_the_last_sample_kept() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(50, z=-0.0001))
    good = s
    for junk in (b"\x01\x01" + b"\x00" * 8, b"\x09" * STATE.size, b""):
        s, out = tick(p, s, junk, T0 + 50 * MS, Wall(), clock)
        assert out.verdict == SAMPLE_BAD and out.flags & FLAG_BAD_INPUT
        assert s.position == good.position and s.seq == good.seq
    assert s.bad_input == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"pz": math.nan},
        {"vx": math.inf},
        {"fy": -math.inf},
        {"px": 1e6},  # absurd: a million metres from the origin
        {"vz": 1e9},
    ],
)
def test_non_finite_or_absurd_values_are_bad_input(bad: dict[str, float]) -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(30, z=-0.0001))
    fields = {"pz": -0.0001, **bad}
    raw = STATE.make(seq=31, host_time_ns=T0 + 30 * MS - 100, status=STATUS_ARMED, **fields)
    s2, out = tick(p, s, raw, T0 + 30 * MS, Wall(), clock)
    assert out.verdict == SAMPLE_BAD and s2.position == s.position
    assert all(math.isfinite(f) for f in out.force)


def test_a_host_time_from_the_future_is_bad_input_not_a_crash() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(30, z=-0.0001))
    for host in (T0 + 10**15, 2**63 - 1):
        s, out = tick(p, s, sample(31, host), T0 + 30 * MS, Wall(), clock)
        assert out.verdict == SAMPLE_BAD
        assert -(2**31) <= out.input_lag_ns < 2**31
    # real samples keep flowing afterwards
    s, outs = run(p, s, pressing(5, 31, start=T0 + 31 * MS, z=-0.0001), start=T0 + 31 * MS)
    assert all(o.verdict == SAMPLE_NEW for o in outs)


def test_a_sequence_number_far_ahead_does_not_hide_the_real_samples() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(30, z=-0.0001))
    hostile = sample(31 + 10 * MAX_SEQ_JUMP, T0 + 30 * MS - 100, z=-0.0001)
    s, out = tick(p, s, hostile, T0 + 30 * MS, Wall(), clock)
    assert out.verdict == SAMPLE_BAD
    s, outs = run(p, s, pressing(20, 31, start=T0 + 31 * MS, z=-0.0001), start=T0 + 31 * MS)
    assert all(o.verdict == SAMPLE_NEW for o in outs)
    assert outs[-1].force[2] == pytest.approx(STIFFNESS * 0.0001, rel=0.05)


def test_a_device_that_restarts_its_sequence_is_recognised() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(30, first_seq=5000, start=T0, z=-0.0001))
    s, outs = run(p, s, pressing(10, 1, start=T0 + 30 * MS, z=-0.0001), start=T0 + 30 * MS)
    assert all(o.verdict == SAMPLE_NEW for o in outs)
    assert s.restarts == 1 and s.seq == 10


def test_the_same_sample_twice_is_reused_not_flagged() -> None:
    p = params()
    raws = pressing(30, z=-0.0001)
    s, _ = run(p, initial_state(p), raws)
    s2, out = tick(p, s, raws[-1], T0 + 30 * MS, Wall(), clock)
    assert out.verdict == SAMPLE_NONE and not out.flags & FLAG_BAD_INPUT
    assert s2.bad_input == 0


def test_an_older_sample_arriving_late_is_bad_input() -> None:
    p = params()
    raws = pressing(30, z=-0.0001)
    s, _ = run(p, initial_state(p), raws)
    s, out = tick(p, s, raws[10], T0 + 30 * MS, Wall(), clock)
    assert out.verdict == SAMPLE_BAD and s.seq == 30


def test_an_estop_button_on_the_device_zeroes_force_and_latches() -> None:
    p = params(estop_buttons=0b10)
    s, outs = run(p, initial_state(p), pressing(5, z=-0.0001) + pressing(25, 6, z=-0.002))
    assert outs[-1].force[2] > 0.5
    s, outs = run(p, s, pressing(3, 31, start=T0 + 30 * MS, z=-0.002, buttons=0b10),
                  start=T0 + 30 * MS)
    assert [o.events & EVENT_ESTOP != 0 for o in outs] == [True, False, False]
    assert all(o.force == (0.0, 0.0, 0.0) and o.safety & SAFETY_ESTOP for o in outs)
    # released: still latched until the control plane resets it
    s, outs = run(p, s, pressing(5, 34, start=T0 + 33 * MS, z=-0.0001), start=T0 + 33 * MS)
    assert all(o.force == (0.0, 0.0, 0.0) for o in outs)
    s = after_estop_reset(s)
    s, outs = run(p, s, pressing(5, 39, start=T0 + 38 * MS, z=-0.0001), start=T0 + 38 * MS)
    assert outs[-1].force[2] > 0.0


def test_a_control_plane_estop_zeroes_force() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(30, z=-0.0001))
    _, outs = run(p, s, pressing(3, 31, start=T0 + 30 * MS, z=-0.0001), start=T0 + 30 * MS,
                  control=CONTROL_ESTOP)
    assert all(o.force == (0.0, 0.0, 0.0) and o.safety & SAFETY_ESTOP for o in outs)


def test_the_device_watchdog_status_drops_force_and_it_returns_through_engage() -> None:
    p = params()
    s, outs = run(p, initial_state(p), pressing(10, z=-0.0001) + pressing(90, 11, z=-0.004))
    assert outs[-1].force[2] > 1.5
    watchdog = STATUS_ARMED | STATUS_WATCHDOG
    s, outs = run(p, s, pressing(5, 101, start=T0 + 100 * MS, z=-0.004, status=watchdog),
                  start=T0 + 100 * MS)
    assert all(o.force == (0.0, 0.0, 0.0) and o.safety & SAFETY_DEVICE_OFF for o in outs)
    # the device is back, still 4 mm deep: 2 N is above engage_below, so no jump back to 2 N
    s, outs = run(p, s, pressing(5, 106, start=T0 + 105 * MS, z=-0.004), start=T0 + 105 * MS)
    assert all(o.force == (0.0, 0.0, 0.0) for o in outs)


def test_a_disarmed_device_gets_no_force() -> None:
    p = params()
    _, outs = run(p, initial_state(p), pressing(30, z=-0.0001, status=0))
    assert all(o.force == (0.0, 0.0, 0.0) and o.safety & SAFETY_DEVICE_OFF for o in outs)


def test_stopping_sends_zero_force_with_the_stopping_flag() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(30, z=-0.0001))
    _, out = tick(p, s, sample(31, T0 + 30 * MS - 100, z=-0.0001), T0 + 30 * MS, Wall(), clock,
                  CONTROL_STOPPING)
    assert out.force == (0.0, 0.0, 0.0) and out.flags == FLAG_STOPPING


def test_the_clutch_holds_the_tool_still() -> None:
    p = params()
    s, _ = run(p, initial_state(p), pressing(10, z=0.01))
    held = s.tool
    s, _ = run(p, s, pressing(10, 11, start=T0 + 10 * MS, z=0.05, buttons=BUTTON_CLUTCH),
               start=T0 + 10 * MS)
    assert s.tool == held and s.tool_velocity == (0.0, 0.0, 0.0)


def test_input_age_comes_from_the_sample_not_from_when_it_was_read() -> None:
    p = params()
    s, outs = run(p, initial_state(p), pressing(10, z=-0.0001))
    assert outs[-1].input_lag_ns == 200_000
    # no new sample for 40 ms: the age grows and force fades (stale) then stops (lost at 50 ms)
    s, outs = run(p, s, [None] * 60, start=T0 + 10 * MS)
    assert outs[-1].input_lag_ns == 60 * MS + 200_000
    assert outs[-1].force == (0.0, 0.0, 0.0)


def test_passivity_observes_the_applied_force_not_the_measured_one() -> None:
    p = params()
    raw = STATE.make(seq=1, host_time_ns=T0 - 200_000, pz=-0.0001, status=STATUS_ARMED,
                     fx=9.0, afz=0.25)
    s, _ = tick(p, initial_state(p), raw, T0, Wall(), clock)
    assert s.applied == (0.0, 0.0, 0.25)
    bad = STATE.make(seq=2, host_time_ns=T0 + MS - 200_000, pz=-0.0001, status=STATUS_ARMED,
                     afx=math.nan)
    _, out = tick(p, s, bad, T0 + MS, Wall(), clock)
    assert out.verdict == SAMPLE_BAD
