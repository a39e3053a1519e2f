import math

from hypothesis import given
from hypothesis import strategies as st

from haptics.devices.device import clamp_force

anything = st.floats(allow_nan=True, allow_infinity=True)


@given(st.tuples(anything, anything, anything), st.floats(0.01, 100))
def test_device_clamp_is_finite_and_within_max(
    force: tuple[float, float, float], max_n: float
) -> None:
    out, _ = clamp_force(force, max_n)
    assert all(math.isfinite(v) for v in out)
    assert math.sqrt(sum(v * v for v in out)) <= max_n * (1 + 1e-9)


def test_nan_force_becomes_zero() -> None:
    assert clamp_force((math.nan, 0.0, 1.0), 5.0) == ((0.0, 0.0, 0.0), True)


def test_direction_kept_when_clamped() -> None:
    (fx, fy, fz), limited = clamp_force((0.0, 30.0, 40.0), 5.0)
    assert limited and math.isclose(fy, 3.0) and math.isclose(fz, 4.0) and fx == 0.0
