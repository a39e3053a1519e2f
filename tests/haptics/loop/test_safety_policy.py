"""The safety policy as data (TOML → SafetyPolicy → SafetyLimits) and the safety_step rules.

The property test drives safety_step with arbitrary sequences (non-finite and huge values,
negative and huge ages, clocks going backwards, e-stop toggles and resets) and checks every
limit of the policy on every tick. The example tests pin each rule down on its own.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from haptics.errors import ConfigError
from haptics.loop.safety import (
    CLOCK_SKEW_NS,
    RATE_WINDOW_NS,
    SAFETY_BAD_INPUT,
    SAFETY_CLAMPED,
    SAFETY_CUTS,
    SAFETY_ENGAGING,
    SAFETY_ESTOP,
    SAFETY_FENCE,
    SAFETY_INPUT_LOST,
    SAFETY_RATE_LIMITED,
    SAFETY_STALE,
    SAFETY_VELOCITY,
    SafetyLimits,
    SafetyPolicy,
    SafetyState,
    command_flags,
    describe_flags,
    load_policy,
    reset_estop,
    safety_step,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "safety-simulated.toml"
MS = 1_000_000
ORIGIN = (0.0, 0.0, 0.0)
STILL = (0.0, 0.0, 0.0)


def norm(v: tuple[float, float, float]) -> float:
    return math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)


def finite3(v: tuple[float, float, float]) -> bool:
    return all(math.isfinite(c) for c in v)


# -- policy loading ---------------------------------------------------------------------------
def test_example_policy_loads() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.max_force_n == 8.0
    assert policy.fence_min_m == (-0.08, -0.06, -0.06)
    assert policy.engage_below_n == 0.2
    assert policy.driver_watchdog_ms == 30.0


def test_defaults_keep_the_existing_fields() -> None:
    p = SafetyPolicy()
    assert (p.max_force_n, p.stale_hold_ms, p.stale_fade_ms) == (8.0, 5.0, 20.0)
    assert p.fence_min_m is None and p.fence_max_m is None


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read safety policy .*nope\.toml"):
        load_policy(tmp_path / "nope.toml")


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("max_force_n = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(f)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("max_forse_n = 3.0\n", "max_forse_n"),  # misspelt: not silently ignored
        ("max_force_n = -1.0\n", "max_force_n"),
        ("ramp_in_s = 'slow'\n", "ramp_in_s"),
        ("fence_min_m = [0.0, 0.0, 0.0]\n", "fence_max_m"),
        ("fence_min_m = [0.1, 0, 0]\nfence_max_m = [0.0, 1, 1]\n", "fence x"),
    ],
)
def test_invalid_values_are_config_errors_naming_the_key(
    tmp_path: Path, text: str, names: str
) -> None:
    f = tmp_path / "p.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=names) as info:
        load_policy(f)
    assert str(f) in str(info.value)


def test_limits_are_precomputed_plain_numbers() -> None:
    lim = SafetyLimits.from_policy(load_policy(EXAMPLE))
    assert lim.rate_n_per_ns == pytest.approx(2000.0e-9)
    assert lim.max_velocity_sq == pytest.approx(1.0)
    assert lim.fence and lim.fence_min_x == -0.08 and lim.fence_max_z == 0.06
    assert lim.ramp_ns == 500 * MS and lim.stale_hold_ns == 5 * MS
    assert lim.input_watchdog_ns == 50 * MS and lim.driver_watchdog_ns == 30 * MS
    assert all(isinstance(v, (int, float, bool)) for v in lim)
    off = SafetyLimits.from_policy(SafetyPolicy())
    assert not off.fence and off.fence_min_x == -math.inf and off.fence_max_x == math.inf


# -- helpers for the rule tests ---------------------------------------------------------------
def limits(**kw: object) -> SafetyLimits:
    return SafetyLimits.from_policy(SafetyPolicy.model_validate(kw))


def run(
    lim: SafetyLimits,
    forces: list[tuple[float, float, float]],
    *,
    state: SafetyState | None = None,
    t0: int | None = None,
    dt: int = MS,
    position: tuple[float, float, float] = ORIGIN,
    velocity: tuple[float, float, float] = STILL,
    age: int = 0,
) -> tuple[SafetyState, list[tuple[tuple[float, float, float], int]]]:
    s = state or SafetyState()
    if t0 is None:  # carry on one tick after the state's last call
        t0 = 0 if s.last_ns is None else s.last_ns + dt
    out = []
    for i, f in enumerate(forces):
        s, force, flags = safety_step(lim, s, f, position, velocity, age, t0 + i * dt, False)
        out.append((force, flags))
    return s, out


def engaged_state(lim: SafetyLimits) -> SafetyState:
    """Engage with zero force and ramp fully in."""
    s, _ = run(lim, [ORIGIN] * (lim.ramp_ns // MS + 3))
    assert s.engaged and s.ramp == 1.0
    return s


# -- the rules, one at a time -----------------------------------------------------------------
def test_engages_only_below_threshold_then_ramps_in() -> None:
    lim = limits(ramp_in_s=0.01, max_force_rate_n_per_s=1e6)
    # a 5 N force at start-up: never engages, output stays zero
    s, out = run(lim, [(0.0, 0.0, 5.0)] * 20)
    assert not s.engaged
    assert all(f == ORIGIN and flags & SAFETY_ENGAGING for f, flags in out)
    # the force drops below 0.2 N: engages, then ramps 0 → 1 over 10 ms
    s, out = run(lim, [(0.0, 0.0, 0.1)] + [(0.0, 0.0, 5.0)] * 15, state=s)
    assert s.engaged
    zs = [f[2] for f, _ in out]
    assert zs[0] == 0.0  # the engaging tick itself outputs zero (ramp at 0)
    for i in range(1, 11):
        assert zs[i] == pytest.approx(5.0 * i / 10)
        assert out[i][1] & SAFETY_ENGAGING
    assert zs[12] == pytest.approx(5.0) and not out[12][1] & SAFETY_ENGAGING


def test_a_fade_hiding_a_large_force_does_not_engage() -> None:
    lim = limits(ramp_in_s=0.0, max_velocity_m_s=0.5)
    # 5 N rendered while the stylus moves too fast (target faded to zero): stays disengaged
    s, out = run(lim, [(0.0, 0.0, 5.0)] * 5, velocity=(0.0, 0.0, 1.0))
    assert not s.engaged and all(f == ORIGIN for f, _ in out)
    # same with stale input fading it out
    s, out = run(lim, [(0.0, 0.0, 5.0)] * 5, state=s, age=30 * MS)
    assert not s.engaged


def test_magnitude_is_clamped_with_direction_kept() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1e6, max_force_n=5.0)
    s = engaged_state(lim)
    _, out = run(lim, [(0.0, 30.0, 40.0)], state=s)
    (fx, fy, fz), flags = out[0]
    assert flags & SAFETY_CLAMPED
    assert fx == 0.0 and fy == pytest.approx(3.0) and fz == pytest.approx(4.0)


def test_huge_force_is_clamped_not_zeroed() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1e6, max_force_n=5.0)
    s = engaged_state(lim)
    _, out = run(lim, [(1e308, 1e308, 0.0)], state=s)
    (fx, fy, fz), flags = out[0]
    assert flags & SAFETY_CLAMPED
    assert fx == pytest.approx(5.0 / math.sqrt(2)) and fy == pytest.approx(fx) and fz == 0.0


def test_rate_limit_ramps_a_step() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1000.0)  # 1 N per ms
    s = engaged_state(lim)
    _, out = run(lim, [(0.0, 0.0, 3.5)] * 5, state=s)
    assert [f[2] for f, _ in out] == pytest.approx([1.0, 2.0, 3.0, 3.5, 3.5])
    assert [bool(fl & SAFETY_RATE_LIMITED) for _, fl in out] == [True, True, True, False, False]


def test_rate_limit_after_a_stall_and_a_clock_going_backwards() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1000.0)
    s = engaged_state(lim)
    t = s.last_ns or 0
    # 50 ms stall: still only RATE_WINDOW_NS worth of change
    s, f, _ = safety_step(lim, s, (0.0, 0.0, 8.0), ORIGIN, STILL, 0, t + 50 * MS, False)
    assert f[2] == pytest.approx(RATE_WINDOW_NS * 1e-6)
    # the clock goes backwards: no time passed, no change
    s, f2, _ = safety_step(lim, s, (0.0, 0.0, 8.0), ORIGIN, STILL, 0, t, False)
    assert f2 == f


def test_velocity_limit_fades_force_to_zero() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1000.0, max_velocity_m_s=0.5)
    s = engaged_state(lim)
    s, _ = run(lim, [(0.0, 0.0, 3.0)] * 5, state=s)
    _, out = run(lim, [(0.0, 0.0, 3.0)] * 5, state=s, velocity=(0.0, 0.6, 0.0))
    assert [f[2] for f, _ in out] == pytest.approx([2.0, 1.0, 0.0, 0.0, 0.0])
    assert all(fl & SAFETY_VELOCITY for _, fl in out)


def test_fence_keeps_only_restoring_components() -> None:
    lim = limits(
        ramp_in_s=0.0,
        max_force_rate_n_per_s=1e6,
        fence_min_m=(-0.1, -0.1, -0.1),
        fence_max_m=(0.1, 0.1, 0.1),
    )
    s = engaged_state(lim)
    s, _ = run(lim, [(1.0, 1.0, 1.0)], state=s)
    # beyond +x: +x force (pushing further out) and the y, z components are cut at once
    _, out = run(lim, [(1.0, 1.0, 1.0)], state=s, position=(0.2, 0.0, 0.0))
    assert out[0] == (ORIGIN, SAFETY_FENCE)
    # a force toward the box is kept
    _, out = run(lim, [(-2.0, 1.0, 0.0)], state=s, position=(0.2, 0.0, 0.0))
    assert out[0][0] == (-2.0, 0.0, 0.0) and out[0][1] & SAFETY_FENCE
    # below −z and beyond +y at once: each outside axis keeps its restoring sign only
    _, out = run(lim, [(-1.0, -1.0, 1.0)], state=s, position=(0.0, 0.2, -0.2))
    assert out[0][0] == (0.0, -1.0, 1.0)


def test_stale_input_fades_then_input_loss_cuts() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1e6, input_watchdog_ms=40.0)
    s = engaged_state(lim)
    s, _ = run(lim, [(0.0, 0.0, 4.0)], state=s)
    s2, out = run(lim, [(0.0, 0.0, 4.0)], state=s, age=15 * MS)  # 10 ms into fade
    assert out[0][0][2] == pytest.approx(2.0) and out[0][1] & SAFETY_STALE
    s3, out = run(lim, [(0.0, 0.0, 4.0)], state=s2, age=41 * MS)
    assert out[0] == (ORIGIN, SAFETY_INPUT_LOST | SAFETY_STALE)
    assert not s3.engaged  # fresh input again must re-engage through the ramp


@pytest.mark.parametrize(
    ("force", "position", "velocity", "age"),
    [
        ((math.nan, 0.0, 0.0), ORIGIN, STILL, 0),
        ((0.0, math.inf, 0.0), ORIGIN, STILL, 0),
        ((0.0, 0.0, 1.0), (0.0, -math.inf, 0.0), STILL, 0),
        ((0.0, 0.0, 1.0), ORIGIN, (math.nan, 0.0, 0.0), 0),
        ((0.0, 0.0, 1.0), ORIGIN, STILL, -(10**18)),
    ],
)
def test_bad_input_cuts_to_zero_and_disengages(
    force: tuple[float, float, float],
    position: tuple[float, float, float],
    velocity: tuple[float, float, float],
    age: int,
) -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1e6)
    s = engaged_state(lim)
    s, _ = run(lim, [(0.0, 0.0, 4.0)], state=s)
    t = (s.last_ns or 0) + MS
    s, f, flags = safety_step(lim, s, force, position, velocity, age, t, False)
    assert f == ORIGIN and flags == SAFETY_BAD_INPUT and not s.engaged


def test_small_negative_age_is_fresh() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1e6)
    s = engaged_state(lim)
    t = (s.last_ns or 0) + MS
    _, f, flags = safety_step(lim, s, (0.0, 0.0, 1.0), ORIGIN, STILL, -50_000, t, False)
    assert f == (0.0, 0.0, 1.0) and flags == 0


def test_estop_latches_until_reset_then_reengages() -> None:
    lim = limits(ramp_in_s=0.0, max_force_rate_n_per_s=1e6)
    s = engaged_state(lim)
    s, _ = run(lim, [(0.0, 0.0, 4.0)], state=s)
    t = (s.last_ns or 0) + MS
    s, f, flags = safety_step(lim, s, (0.0, 0.0, 4.0), ORIGIN, STILL, 0, t, True)
    assert f == ORIGIN and flags == SAFETY_ESTOP and s.estop
    s, out = run(lim, [(0.0, 0.0, 0.0)] * 5, state=s)  # input released: latched
    assert all(o == (ORIGIN, SAFETY_ESTOP) for o in out)
    s = reset_estop(s)
    assert not s.estop and not s.engaged
    s, out = run(lim, [(0.0, 0.0, 4.0)] * 3, state=s)  # 4 N: must not engage
    assert all(f == ORIGIN for f, _ in out) and not s.engaged
    s, out = run(lim, [ORIGIN, (0.0, 0.0, 4.0)], state=s)
    assert s.engaged and out[1][0] == (0.0, 0.0, 4.0)


def test_flag_helpers() -> None:
    assert describe_flags(SAFETY_CLAMPED | SAFETY_ESTOP) == ["clamped", "estop"]
    from haptics.wire.messages import (
        FLAG_BAD_INPUT,
        FLAG_CLAMPED,
        FLAG_ENGAGING,
        FLAG_ESTOP,
        FLAG_STALE_INPUT,
    )

    assert command_flags(SAFETY_RATE_LIMITED) == FLAG_CLAMPED
    assert command_flags(SAFETY_INPUT_LOST) == FLAG_STALE_INPUT
    assert command_flags(SAFETY_BAD_INPUT | SAFETY_FENCE) == FLAG_BAD_INPUT | FLAG_CLAMPED
    assert command_flags(SAFETY_ENGAGING) == FLAG_ENGAGING
    assert command_flags(SAFETY_ESTOP) == FLAG_ESTOP


# -- the property: any input sequence, every limit, every tick --------------------------------
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e308, 0.0, -0.0])


def component(lo: float, hi: float, small: float) -> st.SearchStrategy[float]:
    return st.one_of(st.floats(-small, small), st.floats(lo, hi), SPECIAL)


def vec(lo: float, hi: float, small: float) -> st.SearchStrategy[tuple[float, float, float]]:
    c = component(lo, hi, small)
    return st.tuples(c, c, c)


@dataclass
class Tick:
    force: tuple[float, float, float]
    position: tuple[float, float, float]
    velocity: tuple[float, float, float]
    age_ns: int
    dt_ns: int
    estop: bool
    reset: bool


@st.composite
def ticks(draw: st.DrawFn) -> Tick:
    """Mostly plausible ticks (so force engages and limits bind), one in 15 hostile."""
    if draw(st.integers(0, 14)) == 0:  # hostile: anything at all
        return Tick(
            force=draw(vec(-1e3, 1e3, 0.1)),
            position=draw(vec(-0.3, 0.3, 0.05)),
            velocity=draw(vec(-3.0, 3.0, 0.1)),
            age_ns=draw(
                st.one_of(st.integers(-(10**19), 10**19), st.sampled_from([-(2**63), 2**63 - 1]))
            ),
            dt_ns=draw(
                st.one_of(st.integers(-5 * MS, 20 * MS), st.sampled_from([-(10**15), 10**15]))
            ),
            estop=draw(st.integers(0, 3).map(lambda i: i == 0)),
            reset=draw(st.integers(0, 3).map(lambda i: i == 0)),
        )
    small = draw(st.booleans())
    f = st.floats(-0.1, 0.1) if small else st.floats(-12.0, 12.0)
    return Tick(
        force=draw(st.tuples(f, f, f)),
        position=draw(st.tuples(*[st.floats(-0.11, 0.11)] * 3)),
        velocity=draw(st.tuples(*[st.floats(-0.3, 0.3) | st.floats(-2.0, 2.0)] * 3)),
        age_ns=draw(st.integers(-MS // 2, MS // 2) | st.integers(0, 60 * MS)),
        dt_ns=draw(st.sampled_from([MS, MS, MS, 0, 2 * MS, 5 * MS, -MS])),
        estop=draw(st.integers(0, 40).map(lambda i: i == 0)),
        reset=draw(st.integers(0, 10).map(lambda i: i == 0)),
    )


@st.composite
def policies(draw: st.DrawFn) -> SafetyPolicy:
    fence = draw(st.booleans())
    return SafetyPolicy(
        max_force_n=draw(st.floats(0.5, 20.0)),
        max_force_rate_n_per_s=draw(st.floats(10.0, 1e5)),
        max_velocity_m_s=draw(st.floats(0.05, 2.0)),
        fence_min_m=(-0.1, -0.1, -0.1) if fence else None,
        fence_max_m=(0.1, 0.1, 0.1) if fence else None,
        engage_below_n=draw(st.floats(0.01, 1.0)),
        ramp_in_s=draw(st.sampled_from([0.0, 0.002, 0.01, 0.05])),
        stale_hold_ms=draw(st.floats(0.0, 5.0)),
        stale_fade_ms=draw(st.floats(0.5, 20.0)),
        input_watchdog_ms=draw(st.floats(1.0, 50.0)),
    )


def diff(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return norm((a[0] - b[0], a[1] - b[1], a[2] - b[2]))


SPECIALS = (math.nan, math.inf, -math.inf, 1e300, -1e300, 1e308, 0.0, -0.0)


def random_tick(rng: random.Random) -> Tick:
    """The same mix as `ticks()`, drawn from a seeded Random (fast for long sequences)."""

    def wild(lo: float, hi: float) -> float:
        r = rng.random()
        return rng.choice(SPECIALS) if r < 0.3 else rng.uniform(lo, hi)

    if rng.random() < 1 / 15:
        return Tick(
            force=(wild(-1e3, 1e3), wild(-1e3, 1e3), wild(-1e3, 1e3)),
            position=(wild(-0.3, 0.3), wild(-0.3, 0.3), wild(-0.3, 0.3)),
            velocity=(wild(-3.0, 3.0), wild(-3.0, 3.0), wild(-3.0, 3.0)),
            age_ns=rng.choice([-(2**63), 2**63 - 1, rng.randint(-(10**19), 10**19)]),
            dt_ns=rng.choice([-(10**15), 10**15, rng.randint(-5 * MS, 20 * MS)]),
            estop=rng.random() < 0.25,
            reset=rng.random() < 0.25,
        )
    fmax = 0.1 if rng.random() < 0.5 else 12.0
    vmax = 0.3 if rng.random() < 0.5 else 2.0
    return Tick(
        force=(rng.uniform(-fmax, fmax), rng.uniform(-fmax, fmax), rng.uniform(-fmax, fmax)),
        position=(rng.uniform(-0.11, 0.11), rng.uniform(-0.11, 0.11), rng.uniform(-0.11, 0.11)),
        velocity=(rng.uniform(-vmax, vmax), rng.uniform(-vmax, vmax), rng.uniform(-vmax, vmax)),
        age_ns=rng.randint(-MS // 2, MS // 2) if rng.random() < 0.5 else rng.randint(0, 60 * MS),
        dt_ns=rng.choice([MS, MS, MS, 0, 2 * MS, 5 * MS, -MS]),
        estop=rng.random() < 1 / 40,
        reset=rng.random() < 1 / 10,
    )


@settings(max_examples=100, deadline=None)
@given(policies(), st.lists(ticks(), min_size=1, max_size=40), st.integers(-MS, MS))
def test_any_sequence_respects_every_limit(
    policy: SafetyPolicy, sequence: list[Tick], t0: int
) -> None:
    check_sequence(policy, sequence, t0)


@settings(max_examples=200, deadline=None)
@given(policies(), st.integers(0, 2**32), st.integers(-MS, MS))
def test_long_random_sequences_respect_every_limit(
    policy: SafetyPolicy, seed: int, t0: int
) -> None:
    rng = random.Random(seed)
    check_sequence(policy, [random_tick(rng) for _ in range(400)], t0)


def check_sequence(policy: SafetyPolicy, sequence: list[Tick], t0: int) -> None:
    """Drive safety_step through `sequence` and check every limit of `policy` on every tick."""
    lim = SafetyLimits.from_policy(policy)
    tol = 1e-9 * policy.max_force_n
    state = SafetyState()
    now = t0
    prev_now: int | None = None
    latched = False
    for tick in sequence:
        if tick.reset:
            state = reset_estop(state)
            latched = False
        now += tick.dt_ns
        last = state.force
        state, out, flags = safety_step(
            lim, state, tick.force, tick.position, tick.velocity, tick.age_ns, now, tick.estop
        )
        latched = latched or tick.estop
        n_out = norm(out)
        for bit in (SAFETY_RATE_LIMITED, SAFETY_FENCE, SAFETY_STALE, SAFETY_VELOCITY):
            if flags & bit and n_out > 0:
                event(f"non-zero output with {describe_flags(bit)[0]}")
        if state.engaged and 0 < state.ramp < 1 and n_out > 0:
            event("non-zero output while ramping")
        if n_out >= policy.max_force_n * (1 - 1e-9):
            event("output at max force")
        # finite, within the magnitude limit, and what the state remembers
        assert finite3(out)
        assert n_out <= policy.max_force_n + tol
        assert state.force == out
        # rate limit: components that are not cut to zero moved by at most rate × dt
        dt = 0 if prev_now is None else min(max(now - prev_now, 0), RATE_WINDOW_NS)
        allowed = policy.max_force_rate_n_per_s * dt * 1e-9
        kept = math.sqrt(sum((o - p) ** 2 for o, p in zip(out, last, strict=True) if o != 0.0))
        assert kept <= allowed + tol
        if diff(out, last) > allowed + tol:
            assert flags & SAFETY_CUTS  # only a safety cut may jump (to zero)
        # e-stop: zero while latched
        if latched:
            assert out == ORIGIN and flags == SAFETY_ESTOP and state.estop
            prev_now = now
            continue
        # bad input: zero
        if (
            not (finite3(tick.force) and finite3(tick.position) and finite3(tick.velocity))
            or tick.age_ns < -CLOCK_SKEW_NS
        ):
            assert out == ORIGIN and flags == SAFETY_BAD_INPUT
        # lost input: zero
        if tick.age_ns > lim.input_watchdog_ns:
            assert out == ORIGIN
        # zero before engaged; never more than the ramp allows
        if not state.engaged:
            assert out == ORIGIN
        assert n_out <= state.ramp * policy.max_force_n + tol
        # stale: no growth beyond the fade gain
        if tick.age_ns > lim.stale_hold_ns and flags & SAFETY_STALE:
            g = max(0.0, 1.0 - (tick.age_ns - lim.stale_hold_ns) / lim.stale_fade_ns)
            assert n_out <= max(norm(last), g * policy.max_force_n) + tol
        # velocity: the force only fades
        if flags & SAFETY_VELOCITY:
            assert n_out <= norm(last) + tol
        # fence: outside the box only restoring components (or zero)
        if policy.fence_min_m is not None and finite3(tick.position):
            lo, hi = policy.fence_min_m, policy.fence_max_m
            assert hi is not None
            if any(p < a or p > b for p, a, b in zip(tick.position, lo, hi, strict=True)):
                assert flags & SAFETY_FENCE or out == ORIGIN
                for f, p, a, b in zip(out, tick.position, lo, hi, strict=True):
                    assert f == 0.0 or (p > b and f < 0.0) or (p < a and f > 0.0)
        prev_now = now


def test_a_device_that_holds_zero_force_disengages_and_force_returns_through_the_ramp() -> None:
    from haptics.loop.safety import SAFETY_DEVICE_OFF, SAFETY_WAITING

    limits = SafetyLimits.from_policy(SafetyPolicy(ramp_in_s=0.01))
    engaged = SafetyState(1.0, 0.0, 2.0, True, 1.0, False, 0)
    still: tuple[float, float, float] = (0.0, 0.0, 0.0)
    s, out, flags = safety_step(
        limits, engaged, (0.0, 0.0, 3.0), still, still, 0, 1_000_000, False, device_off=True
    )
    assert out == (0.0, 0.0, 0.0) and flags & SAFETY_DEVICE_OFF and not s.engaged
    # the device is back: 3 N rendered is above engage_below, so force stays zero
    s, out, flags = safety_step(limits, s, (0.0, 0.0, 3.0), still, still, 0, 2_000_000, False)
    assert out == (0.0, 0.0, 0.0) and flags & SAFETY_ENGAGING
    s, out, _ = safety_step(limits, s, (0.0, 0.0, 0.1), still, still, 0, 3_000_000, False)
    assert not s.estop and s.engaged and abs(out[2]) < 0.1
    _, out, flags = safety_step(
        limits, engaged, (0.0, 0.0, 1.0), still, still, 0, 1_000_000, False, waiting=True
    )
    assert out == (0.0, 0.0, 0.0) and flags & SAFETY_WAITING


def test_a_latched_estop_stays_latched_when_the_device_drops_force() -> None:
    latched = SafetyState(0.0, 0.0, 0.0, False, 0.0, True, 1)
    still: tuple[float, float, float] = (0.0, 0.0, 0.0)
    s, _, flags = safety_step(
        SafetyLimits.from_policy(SafetyPolicy()), latched, still, still, still, 0, 2, False,
        device_off=True,
    )
    assert s.estop and flags & SAFETY_ESTOP
