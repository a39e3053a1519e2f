"""The passivity observer's energy bookkeeping and the controller's guarantee."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haptics.loop.passivity import PassivityState, passivity_step

DT = 1e-3
OFF = 0.0  # max_damping 0: observer only


def x_of(t: float) -> float:
    """A smooth press and release, 0 → 4 mm → 0 over 0.2 s."""
    return 0.002 * (1.0 - math.cos(2 * math.pi * t / 0.2))


def test_observer_matches_the_integral_of_force_times_velocity() -> None:
    # f(t) = F cos(ωt) acting while v(t) = V cos(ωt): energy into the environment is
    # −∫ f v dt = −F V (t/2 + sin(2ωt)/(4ω)). Feed the midpoint of each period.
    f0, v0, w = 3.0, 0.2, 2 * math.pi * 5
    s = PassivityState()
    energy = 0.0
    for n in range(1, 1001):
        tm = (n - 0.5) * DT
        fm, vm = f0 * math.cos(w * tm), v0 * math.cos(w * tm)
        s, _, alpha, energy, _ = passivity_step(
            s, (0.0, fm, 0.0), (0.0, vm, 0.0), DT, applied=(0.0, fm, 0.0), max_damping_ns_per_m=OFF
        )
        assert alpha == 0.0
    t = 1000 * DT
    expected = -f0 * v0 * (t / 2 + math.sin(2 * w * t) / (4 * w))
    assert energy == pytest.approx(expected, rel=1e-6)
    assert s.energy_j == energy


def test_sign_convention_pressing_into_a_spring_stores_positive_energy() -> None:
    # the stylus moves +z into a spring that pushes back (−z): energy flows into the environment
    s = PassivityState()
    for n in range(1, 50):
        x = n * 1e-5
        s, *_ = passivity_step(
            s, (0.0, 0.0, -1000.0 * x), (0.0, 0.0, 1e-2), DT, max_damping_ns_per_m=OFF
        )
    assert s.energy_j > 0


def test_held_spring_is_observed_exactly_and_is_slightly_active() -> None:
    # A spring sampled and held (ZOH): the force computed at x_k acts until x_{k+1}. The energy
    # into it is Σ K·x_k·(x_{k+1} − x_k) = ½K(x_N² − x_0²) − ½K·Σ(Δx)²: the hold generates
    # ½K·Σ(Δx)² (Colgate's effect). The observer (default pairing) must see exactly that.
    k = 5000.0
    xs = [x_of(n * DT) for n in range(201)]
    s = PassivityState()
    for n in range(1, 201):
        v = (xs[n] - xs[n - 1]) / DT  # backward difference, as a loop measures it
        s, *_ = passivity_step(
            s, (-k * xs[n], 0.0, 0.0), (v, 0.0, 0.0), DT, max_damping_ns_per_m=OFF
        )
    # the first step has no earlier force; step n observes −K·x_{n−1} acting over (x_{n−1}, x_n]
    generated = 0.5 * k * sum((xs[n] - xs[n - 1]) ** 2 for n in range(2, 201))
    expected = 0.5 * k * (xs[200] ** 2 - xs[1] ** 2) - generated
    assert s.energy_j == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert s.energy_j < 0  # active, if only a little


def test_passive_spring_damper_gets_no_damping() -> None:
    # A held spring with enough damping (B ≥ K·T/2, the sampled-wall condition) is passive:
    # over a smooth press and release the controller never acts.
    k = 5000.0
    b = k * DT  # 2× the minimum
    s = PassivityState()
    x_prev = x_of(0.0)
    for n in range(1, 401):
        x = x_of(n * DT)
        v = (x - x_prev) / DT
        f = -k * x - b * v
        s, out, alpha, energy, dissipated = passivity_step(s, (f, 0.0, 0.0), (v, 0.0, 0.0), DT)
        assert alpha == 0.0 and dissipated == 0.0 and out == (f, 0.0, 0.0)
        assert energy >= 0.0
        x_prev = x
    assert s.dissipated_j == 0.0


def test_pure_spring_gets_at_most_what_the_hold_generates() -> None:
    # Without damping the held spring is active by ½K·Σ(Δx)²: the controller acts, but
    # dissipates no more than that (it is not a blanket damper).
    k = 5000.0
    s = PassivityState()
    x_prev = x_of(0.0)
    for n in range(1, 201):
        x = x_of(n * DT)
        v = (x - x_prev) / DT
        s, *_ = passivity_step(s, (-k * x, 0.0, 0.0), (v, 0.0, 0.0), DT)
        x_prev = x
    generated = 0.5 * k * sum((x_of(n * DT) - x_of((n - 1) * DT)) ** 2 for n in range(1, 201))
    assert 0.0 < s.dissipated_j <= 1.5 * generated


forces = st.floats(-20.0, 20.0)
gains = st.floats(0.5, 50.0)
moving = st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)).filter(
    lambda v: math.hypot(*v) > 1e-3
)


@settings(max_examples=200, deadline=None)
@given(moving, st.lists(st.tuples(gains, forces, forces, forces), min_size=1, max_size=200))
def test_controller_keeps_the_port_passive_at_constant_velocity(
    v: tuple[float, float, float], seq: list[tuple[float, float, float, float]]
) -> None:
    # An active environment: each force has a component c·v along the motion (power −c·|v|²
    # < 0: it pushes energy out), plus arbitrary noise. With the controller unbounded, the
    # observed energy never goes below −ε; without it, it does.
    on, off = PassivityState(), PassivityState()
    eps = 1e-12
    lowest_off = 0.0
    for c, nx, ny, nz in seq:
        f = (c * v[0] + nx, c * v[1] + ny, c * v[2] + nz)
        on, out, _, e_on, _ = passivity_step(on, f, v, DT, max_damping_ns_per_m=math.inf)
        off, _, _, e_off, _ = passivity_step(off, f, v, DT, max_damping_ns_per_m=OFF)
        assert all(math.isfinite(c) for c in out)
        assert e_on >= -eps
        lowest_off = min(lowest_off, e_off)
    # the same sequence, unchecked, generates energy whenever its noise does not hide it
    if all(abs(nx) + abs(ny) + abs(nz) < 1e-9 for _, nx, ny, nz in seq) and len(seq) > 1:
        assert lowest_off < 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(gains, moving),
        min_size=2,
        max_size=200,
    )
)
def test_with_changing_velocity_the_dip_is_one_tick_of_prediction_error(
    seq: list[tuple[float, tuple[float, float, float]]],
) -> None:
    # When v changes between ticks the controller's prediction is off by
    # f_out·(v(n+1) − v(n))·dt; the observed energy never dips below that (documented bound).
    s = PassivityState()
    prev_out = (0.0, 0.0, 0.0)
    prev_v: tuple[float, float, float] | None = None
    for c, v in seq:
        f = (c * v[0], c * v[1], c * v[2])
        s, out, _, energy, _ = passivity_step(s, f, v, DT, max_damping_ns_per_m=math.inf)
        if prev_v is not None:
            dv = math.dist(v, prev_v)
            bound = math.hypot(*prev_out) * dv * DT
            assert energy >= -bound - 1e-12
        prev_out, prev_v = out, v


def test_bounded_damping_carries_the_deficit_over_until_repaid() -> None:
    v = (0.1, 0.0, 0.0)
    bound = 5.0
    per_tick = bound * 0.1**2 * DT  # what the bounded damper dissipates per tick at v
    s = PassivityState()
    # 20 ticks of a strongly active force (3 N along the motion), α bounded: a deficit builds
    for _ in range(20):
        s, out, alpha, energy, _ = passivity_step(
            s, (3.0, 0.0, 0.0), v, DT, max_damping_ns_per_m=bound
        )
        assert alpha == bound and out[0] == pytest.approx(3.0 - bound * 0.1)
    # the environment turns passive (zero force); this tick still observes the last active one
    s, *_ = passivity_step(s, (0.0, 0.0, 0.0), v, DT, max_damping_ns_per_m=bound)
    deficit = s.energy_j
    assert deficit < -100 * per_tick
    # never forgiven: the PC damps at its bound and the energy rises by exactly what the
    # damper dissipated, tick after tick, until repaid; then it stops
    ticks = 0
    while True:
        prev = s.energy_j
        s, out, alpha, energy, dissipated = passivity_step(
            s, (0.0, 0.0, 0.0), v, DT, max_damping_ns_per_m=bound
        )
        ticks += 1
        assert energy == pytest.approx(prev + per_tick, rel=1e-9)
        if alpha < bound:
            break
        assert out[0] == pytest.approx(-bound * 0.1) and dissipated == pytest.approx(per_tick)
        assert ticks < 10_000
    assert ticks == pytest.approx(-deficit / per_tick, abs=2)
    for _ in range(3):
        s, out, alpha, energy, _ = passivity_step(
            s, (0.0, 0.0, 0.0), v, DT, max_damping_ns_per_m=bound
        )
    assert alpha == 0.0 and out == (0.0, 0.0, 0.0) and energy >= -1e-15


@pytest.mark.parametrize(
    ("force", "velocity"),
    [
        ((math.nan, 0.0, 0.0), (0.1, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (math.inf, 0.0, 0.0)),
        ((math.inf, 0.0, 0.0), (-math.inf, 0.0, 0.0)),
    ],
)
def test_non_finite_input_never_poisons_the_energy(
    force: tuple[float, float, float], velocity: tuple[float, float, float]
) -> None:
    s = PassivityState(energy_j=0.25)
    s, _, _, energy, _ = passivity_step(s, force, velocity, DT)
    # the energy is unchanged, and a finite tick afterwards works normally
    assert energy == 0.25
    s2, _, alpha, energy, _ = passivity_step(
        s, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), DT, applied=(0.0, 0.0, 0.0)
    )
    assert math.isfinite(s2.energy_j) and math.isfinite(alpha)


def test_zero_velocity_means_no_damping_force() -> None:
    s = PassivityState(energy_j=-1.0)
    s, out, alpha, energy, dissipated = passivity_step(s, (1.0, 2.0, 3.0), (0.0, 0.0, 0.0), DT)
    assert out == (1.0, 2.0, 3.0) and alpha == 0.0 and dissipated == 0.0 and energy == -1.0
