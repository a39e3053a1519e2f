"""The teleoperation link's two ports, tick by tick (pure): watchdog, ramp, holding and resuming,
the clutch under delay, passivity, and what a receiver does with bad or replayed messages."""

from __future__ import annotations

import itertools
import math

import pytest

from haptics.loop.bilateral import network_energy
from haptics.runtime.link_ports import (
    FollowerState,
    LeaderState,
    LinkParams,
    energies,
    follower_tick,
    leader_take,
    leader_tick,
)
from haptics.wire.link import FOLLOWER, LEADER, LINK_BAD, LINK_NEW, LINK_REPLAY, accept_link
from haptics.wire.messages import BUTTON_CLUTCH, FLAG_ARMED, FLAG_ENGAGING

MS = 1_000_000
P = LinkParams()


def follower_msg(
    seq: int, force: float, e_in: float = 1.0, sender_ns: int = 0
) -> tuple[float | int, ...]:
    raw = FOLLOWER.make(link_seq=seq, sender_ns=sender_ns, fz=force, flags=1, e_sent_z=e_in)
    verdict, values = accept_link(FOLLOWER, raw, seq - 1)
    assert verdict == LINK_NEW and values is not None
    return values


def leader_msg(seq: int, z: float, buttons: int = 0, e_in: float = 1.0) -> tuple[float | int, ...]:
    raw = LEADER.make(link_seq=seq, dev_seq=seq, pz=z, buttons=buttons, e_sent_z=e_in)
    verdict, values = accept_link(LEADER, raw, seq - 1)
    assert verdict == LINK_NEW and values is not None
    return values


def test_accept_link_counts_malformed_non_finite_and_replayed_messages() -> None:
    good = FOLLOWER.make(link_seq=5, fz=1.0)
    assert accept_link(FOLLOWER, good, 4)[0] == LINK_NEW
    assert accept_link(FOLLOWER, good, 5) == (LINK_REPLAY, None)  # the same again
    assert accept_link(FOLLOWER, good, 9) == (LINK_REPLAY, None)  # overtaken
    assert accept_link(FOLLOWER, good[:-1], 0) == (LINK_BAD, None)
    assert accept_link(FOLLOWER, LEADER.make(link_seq=5), 0) == (LINK_BAD, None)  # wrong kind
    assert accept_link(FOLLOWER, FOLLOWER.make(link_seq=5, fx=math.nan), 0) == (LINK_BAD, None)
    assert accept_link(FOLLOWER, FOLLOWER.make(link_seq=10**9), 5) == (LINK_BAD, None)


def test_leader_zeroes_force_within_the_watchdog_and_ramps_back_without_a_jump() -> None:
    st = LeaderState()
    now = 1_000 * MS
    st, out = leader_tick(P, st, (0.0, 0.0, 0.0), now)
    assert out.force == (0.0, 0.0, 0.0) and out.flags == 0  # never up: zero, not armed
    seq = 1
    forces = []
    for _t in range(400):  # 2 N held by the follower, leader still (no damping needed)
        now += MS
        st = leader_take(st, follower_msg(seq, 2.0), now)
        seq += 1
        st, out = leader_tick(P, st, (0.0, 0.0, 0.0), now)
        forces.append(out.force[2])
    assert forces[0] == pytest.approx(0.0, abs=0.01)  # the ramp starts at zero
    assert forces[-1] == pytest.approx(2.0) and out.flags == FLAG_ARMED
    assert max(abs(b - a) for a, b in itertools.pairwise(forces)) <= 2.0 * 1.01 / 250
    last_rx = now
    zeroed_at = None
    for _ in range(40):  # the link drops
        now += MS
        st, out = leader_tick(P, st, (0.0, 0.0, 0.0), now)
        if out.dropped:
            zeroed_at = now
        if zeroed_at is not None:
            assert out.force == (0.0, 0.0, 0.0) and out.flags == 0
    assert zeroed_at is not None and zeroed_at - last_rx <= P.watchdog_ns + MS
    assert st.drops == 1
    st = leader_take(st, follower_msg(seq, 2.0), now + MS)  # back
    st, out = leader_tick(P, st, (0.0, 0.0, 0.0), now + MS)
    assert out.came_up and out.flags == FLAG_ARMED | FLAG_ENGAGING
    assert abs(out.force[2]) < 0.02  # from zero again, not 2 N at once


def test_leader_lets_out_no_energy_the_follower_never_sent() -> None:
    # an unbounded damper, or the device's bounded one and then a shrunk force: either way
    # nothing leaves; the bounded damper alone (5 − 20·0.05 = 4 N) would have let 0.2 W out
    for bound in (math.inf, P.max_damping_ns_per_m):
        p = P._replace(ramp_ns=0, max_rise_n=math.inf, max_damping_ns_per_m=bound)
        st = LeaderState()
        now = 0
        for seq in range(1, 300):
            now += MS
            # the follower asks for 5 N along the motion but has sent no energy into the link
            st = leader_take(st, follower_msg(seq, 5.0, e_in=0.0), now)
            st, out = leader_tick(p, st, (0.0, 0.0, 0.05), now)
            assert out.force[2] == pytest.approx(0.0, abs=1e-9)
        assert st.ports[2].e_out <= 1e-12


def test_leader_force_rises_at_most_max_rise_per_tick_and_drops_at_once() -> None:
    p = P._replace(ramp_ns=0, max_rise_n=0.2)
    st = LeaderState()
    now, shown = 0, []
    for seq, asked in enumerate([6.0] * 40 + [1.0] * 3 + [-2.0] * 20, start=1):
        now += MS
        st = leader_take(st, follower_msg(seq, asked), now)
        st, out = leader_tick(p, st, (0.0, 0.0, 0.0), now)
        shown.append(out.force[2])
    assert shown[0] == pytest.approx(p.max_rise_n)
    assert all(b - a <= p.max_rise_n + 1e-12 for a, b in itertools.pairwise(shown[:40]))
    assert shown[39] == pytest.approx(6.0)
    assert shown[40] == pytest.approx(1.0)  # a drop at once
    assert shown[43] == pytest.approx(-p.max_rise_n)  # a reversal starts from zero
    assert shown[-1] == pytest.approx(-2.0)


def test_follower_holds_still_while_the_link_is_down_and_resumes_without_replaying() -> None:
    st = FollowerState()
    now = 0
    for seq in range(1, 24):  # following a leader moving 0.1 mm a tick (free space)
        now += MS
        st, out = follower_tick(P, st, leader_msg(seq, 0.05 + seq * 1e-4), (0.0, 0.0, 0.0), now)
        assert out is not None and out.position[2] == pytest.approx(0.05 + seq * 1e-4)
        assert not out.buttons & BUTTON_CLUTCH
    held = st.reference
    outs = []
    for _ in range(40):  # silence: up to the watchdog nothing new; then held samples
        now += MS
        st, out = follower_tick(P, st, None, (0.0, 0.0, 0.0), now)
        outs.append(out)
    assert st.drops == 1 and not st.up
    first = next(i for i, o in enumerate(outs) if o is not None)
    assert first >= P.watchdog_ns // MS - 1 and outs[first] is not None and outs[first].dropped
    for o in outs[first:]:  # every tick from the trip on: still, held
        assert o is not None and o.held and o.position == held
        assert o.velocity == (0.0, 0.0, 0.0)
    # the leader moved 3 cm meanwhile: not replayed, the reference continues from where it
    # held, and follows what the leader does from now on (at most 0.5 mm a tick)
    st, out = follower_tick(P, st, leader_msg(100, 0.08), (0.0, 0.0, 0.0), now + MS)
    assert out is not None and not out.held and out.position == pytest.approx(held)
    for k, expected in ((2, held[2] + 0.0005), (3, held[2] + 0.001), (4, held[2] + 0.001)):
        st, out = follower_tick(P, st, leader_msg(99 + k, 0.081), (0.0, 0.0, 0.0), now + k * MS)
        assert out is not None and out.position[2] == pytest.approx(expected)


def test_follower_publishes_nothing_before_the_link_first_comes_up() -> None:
    st, out = follower_tick(P, FollowerState(), None, (0.0, 0.0, 0.0), 100 * MS)
    assert out is None and not st.up


def test_a_clutch_pressed_during_delay_never_moves_the_follower_reference_with_speed() -> None:
    st = FollowerState()
    now = 0
    for seq in range(1, 5):
        now += MS
        st, _ = follower_tick(P, st, leader_msg(seq, 0.0), (0.0, 0.0, -1.0), now)
    # the hand repositions 5 cm with the clutch held; the messages arrive late, in a burst
    for seq in range(5, 55):
        now += MS
        z = (seq - 4) * 1e-3
        st, out = follower_tick(P, st, leader_msg(seq, z, BUTTON_CLUTCH), (0.0, 0.0, -1.0), now)
        assert out is not None and out.velocity == (0.0, 0.0, 0.0)
        assert out.buttons & BUTTON_CLUTCH
    # released: the reference continues from where the leader is, no catch-up motion
    now += MS
    st, out = follower_tick(P, st, leader_msg(55, 0.050), (0.0, 0.0, -1.0), now)
    assert out is not None and out.position[2] == pytest.approx(0.050)
    assert abs(out.velocity[2]) < 1e-9


def test_follower_withholds_motion_the_leader_has_not_paid_for() -> None:
    st = FollowerState()
    now = 0
    for seq in range(1, 4):  # connected at z = 0
        now += MS
        st, _ = follower_tick(P, st, leader_msg(seq, 0.0, e_in=0.0), (0.0, 0.0, 0.0), now)
    # pressing into tissue that pushes back 3 N (tool feels −3 N), leader paid nothing
    now += MS
    st, out = follower_tick(P, st, leader_msg(10, -0.01, e_in=0.0), (0.0, 0.0, 3.0), now)
    assert out is not None and out.velocity[2] == 0.0  # shrunk to zero, never reversed
    assert network_energy(LeaderState().ports[2], st.ports[2]) <= 1e-12
    assert energies(st.ports) == (0.0, 0.0, 0.0)


def test_a_side_that_stalled_itself_treats_the_silence_as_a_drop() -> None:
    """The process was descheduled past the watchdog and wakes to a new message: no tick saw
    the silence, yet the follower continues from where it was (no jump to where the leader
    went meanwhile) and the leader's force ramps back from zero."""
    st = FollowerState()
    now = 0
    for seq in range(1, 25):
        now += MS
        st, _ = follower_tick(P, st, leader_msg(seq, 0.0), (0.0, 0.0, 0.0), now)
    held = st.reference
    now += 80 * MS  # stalled: no tick ran; meanwhile the leader moved 12 mm
    st, out = follower_tick(P, st, leader_msg(200, -0.012), (0.0, 0.0, 0.0), now)
    assert out is not None and st.drops == 1 and out.position == pytest.approx(held)
    lead = LeaderState()
    for seq in range(1, 400):
        now += MS
        lead = leader_take(lead, follower_msg(seq, 2.0), now)
        lead, out_l = leader_tick(P, lead, (0.0, 0.0, 0.0), now)
    assert out_l.force[2] == pytest.approx(2.0)
    now += 80 * MS
    lead = leader_take(lead, follower_msg(500, 2.0), now)
    lead, out_l = leader_tick(P, lead, (0.0, 0.0, 0.0), now)
    assert out_l.came_up and abs(out_l.force[2]) < 0.02 and lead.drops == 1


def test_the_follower_reference_catches_up_at_most_at_max_speed() -> None:
    st = FollowerState()
    now = 0
    for seq in range(1, 22):
        now += MS
        st, _ = follower_tick(P, st, leader_msg(seq, 0.0), (0.0, 0.0, 0.0), now)
    zs = []
    for seq in range(100, 140):  # the leader is 12 mm away (free space: energy is no limit)
        now += MS
        st, out = follower_tick(P, st, leader_msg(seq, -0.012), (0.0, 0.0, 0.0), now)
        assert out is not None
        zs.append(out.position[2])
    steps = [a - b for a, b in itertools.pairwise([0.0, *zs])]
    assert max(steps) <= P.max_speed_m_per_s * P.dt_s + 1e-12
    assert zs[-1] == pytest.approx(-0.012)  # and it gets there
