"""Time-domain passivity on both ports: whatever the inputs, a port never lets out more
energy than the other side put in (as far as it knows)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from haptics.loop.bilateral import (
    PortEnergy,
    account,
    follower_step,
    leader_step,
    network_energy,
    send,
)

DT = 1e-3
finite = st.floats(-50.0, 50.0, allow_nan=False)
speeds = st.floats(-2.0, 2.0, allow_nan=False)
steps = st.lists(st.tuples(finite, speeds, st.floats(0.0, 0.01)), min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_the_leader_never_lets_out_more_than_arrived(seq: list[tuple[float, float, float]]) -> None:
    port = PortEnergy()
    remote = 0.0
    for force, velocity, arrived in seq:
        remote += arrived  # the follower's e_in only grows
        port, out_force, alpha = leader_step(port, remote, force, velocity, DT)
        assert math.isfinite(out_force) and alpha >= 0.0
        assert port.e_out <= remote + 1e-12
        assert port.e_in >= 0.0


@settings(max_examples=200, deadline=None)
@given(steps, st.floats(0.0, 200.0))
def test_the_follower_never_lets_out_more_than_arrived(
    seq: list[tuple[float, float, float]], kd: float
) -> None:
    port = PortEnergy()
    remote = 0.0
    for offset, v_ref, arrived in seq:
        remote += arrived
        port, v, force = follower_step(port, remote, v_ref, DT, offset, kd)
        assert v * v_ref >= 0.0 and abs(v) <= abs(v_ref) + 1e-12  # shrunk, never reversed
        assert math.isclose(force, offset + kd * v, abs_tol=1e-9)
        assert port.e_out <= remote + 1e-9


def test_no_correction_while_energy_is_there() -> None:
    port, force, alpha = leader_step(PortEnergy(), 10.0, 2.0, 0.1, DT)
    assert force == 2.0 and alpha == 0.0 and math.isclose(port.e_out, 2e-4)
    port2, v, f = follower_step(PortEnergy(), 10.0, 0.1, DT, 2.0)
    assert v == 0.1 and f == 2.0 and math.isclose(port2.e_out, 2e-4)


def test_with_no_energy_the_leader_damps_and_the_follower_holds() -> None:
    port, force, alpha = leader_step(PortEnergy(), 0.0, 2.0, 0.1, DT)
    assert alpha > 0.0 and abs(force * 0.1) < 1e-9
    port, v, _ = follower_step(PortEnergy(), 0.0, 0.1, DT, 2.0)
    assert v == 0.0 and port.e_out == 0.0


def test_energy_flowing_in_is_counted_and_the_network_balance() -> None:
    lead = account(PortEnergy(), -3.0, 1.0)  # 3 W into the network for 1 s
    foll = account(PortEnergy(), 1.0, 1.0)  # 1 W out of it
    assert lead == PortEnergy(3.0, 0.0) and foll == PortEnergy(0.0, 1.0)
    assert network_energy(lead, foll) == -2.0


ticks = st.lists(
    st.tuples(finite, speeds, finite, speeds, st.integers(0, 40), st.integers(0, 40)),
    min_size=1,
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(ticks, st.floats(0.0, 0.999), st.floats(0.0, 0.999), st.sampled_from([math.inf, 20.0, 0.0]))
def test_the_two_ports_together_never_generate_energy(
    seq: list[tuple[float, float, float, float, int, int]],
    keep_leader: float,
    keep_follower: float,
    bound: float,
) -> None:
    """Any forces, velocities and (varying, reordering) delays, any share kept back, any
    bound on the leader's damper: out of both ports never exceeds into both."""
    lead = foll = PortEnergy()
    sent_lead, sent_foll = [0.0], [0.0]
    for force, v_m, effort, v_ref, delay_l, delay_f in seq:
        remote_foll = sent_foll[max(0, len(sent_foll) - 1 - delay_f)]
        lead, shown, _ = leader_step(lead, remote_foll, force, v_m, DT, bound, keep_leader)
        remote_lead = sent_lead[max(0, len(sent_lead) - 1 - delay_l)]
        foll, _, _ = follower_step(foll, remote_lead, v_ref, DT, effort, 0.0, keep_follower)
        sent_lead.append(lead.sent)
        sent_foll.append(foll.sent)
        assert math.isfinite(shown) and (shown * force >= 0.0 or shown * v_m <= 0.0)
        assert network_energy(lead, foll) <= 1e-12
        assert lead.sent <= lead.e_in + 1e-15 and foll.sent <= foll.e_in + 1e-15


def test_send_passes_everything_on_at_once_without_a_keep_and_slowly_with_one() -> None:
    port = account(PortEnergy(), -2.0, 1.0)  # 2 J in
    assert send(port, 0.0, 0.0).sent == 2.0  # the classic two-port TDPA
    kept = send(port, 0.0, 0.9)
    assert math.isclose(kept.sent, 0.2) and math.isclose(send(kept, 0.0, 0.9).sent, 0.38)
    # energy this port has let out itself (its reserve, reflected) is never sent as well
    spent = account(PortEnergy(2.0, 0.0, 0.2), 1.5, 1.0)  # 1.5 J back out here
    assert send(spent, 0.0, 0.0).sent == 0.5
    assert send(spent, 0.0, 0.0).sent <= spent.e_in - spent.e_out


def test_a_bounded_damper_then_shrinks_the_force_never_past_zero() -> None:
    # 5 N along 0.05 m/s with no energy: α at its 20 N·s/m bound leaves 4 N, which would
    # still let 0.2 W out, so the force itself goes to zero (not to a pull the other way)
    port, force, alpha = leader_step(PortEnergy(), 0.0, 5.0, 0.05, DT, 20.0)
    assert alpha == 20.0 and abs(force) < 1e-12 and port.e_out < 1e-18
    # a little energy available: the force shrinks just enough
    port, force, _ = leader_step(PortEnergy(), 1e-4, 5.0, 0.05, DT, 20.0)
    assert 0.0 < force < 4.0 and math.isclose(port.e_out, 1e-4)
