import time

from hypothesis import given
from hypothesis import strategies as st

from haptics.clock import next_deadline, sleep_until

P = 1_000_000


def test_next_deadline_on_time() -> None:
    assert next_deadline(10 * P, P, 10 * P + 5) == (11 * P, 0)


def test_next_deadline_skips_missed_ticks_without_burst() -> None:
    # a 3.5 ms stall after the tick at 10 ms: ticks at 11, 12, 13 ms are skipped, next is 14 ms
    nxt, missed = next_deadline(10 * P, P, 13 * P + P // 2)
    assert (nxt, missed) == (14 * P, 3)


@given(st.integers(0, 10**12), st.integers(1, 10**7), st.integers(0, 10**9))
def test_next_deadline_is_in_the_future_and_on_the_grid(d: int, period: int, late: int) -> None:
    now = d + late
    nxt, missed = next_deadline(d, period, now)
    assert nxt > now or (missed == 0 and nxt == d + period and now < nxt)
    assert (nxt - d) % period == 0
    assert nxt - d == (missed + 1) * period


def test_sleep_until_never_wakes_early() -> None:
    for _ in range(20):
        deadline = time.monotonic_ns() + 700_000
        assert sleep_until(deadline) >= deadline
