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
