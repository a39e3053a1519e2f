import math

from hypothesis import given
from hypothesis import strategies as st

from haptics.device import clamp_force
from haptics.safety import limit_force, stale_gain

anything = st.floats(allow_nan=True, allow_infinity=True)


@given(st.tuples(anything, anything, anything), st.floats(0.01, 100), st.floats(0.0, 1.0))
def test_limited_force_is_finite_and_within_max(
    force: tuple[float, float, float], max_n: float, gain: float
) -> None:
    out, _ = limit_force(force, max_n, gain)
    assert all(math.isfinite(v) for v in out)
    assert math.sqrt(sum(v * v for v in out)) <= max_n * (1 + 1e-9)


@given(st.tuples(anything, anything, anything), st.floats(0.01, 100))
def test_device_clamp_is_finite_and_within_max(
    force: tuple[float, float, float], max_n: float
) -> None:
    out, _ = clamp_force(force, max_n)
    assert all(math.isfinite(v) for v in out)
    assert math.sqrt(sum(v * v for v in out)) <= max_n * (1 + 1e-9)


def test_nan_force_becomes_zero() -> None:
    assert limit_force((math.nan, 0.0, 1.0), 5.0) == ((0.0, 0.0, 0.0), True)


def test_direction_kept_when_clamped() -> None:
    (fx, fy, fz), limited = limit_force((0.0, 30.0, 40.0), 5.0)
    assert limited and math.isclose(fy, 3.0) and math.isclose(fz, 4.0) and fx == 0.0


def test_stale_input_holds_then_fades_to_zero() -> None:
    hold, fade = 5_000_000, 20_000_000
    assert stale_gain(0, hold, fade) == 1.0
    assert stale_gain(hold, hold, fade) == 1.0
    assert math.isclose(stale_gain(hold + fade // 2, hold, fade), 0.5)
    assert stale_gain(hold + fade, hold, fade) == 0.0
    assert stale_gain(10**12, hold, fade) == 0.0
