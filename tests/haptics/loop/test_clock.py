import time

from hypothesis import given
from hypothesis import strategies as st

from haptics.loop.clock import next_deadline, sleep_until

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


def test_phase_correction_moves_toward_the_target_lag() -> None:
    from haptics.loop.clock import phase_correction

    # ticking 200 µs after publish, target 40 µs: move earlier, bounded
    assert phase_correction(200_000, 40_000, P, 0.1, 5_000) == -5_000
    assert phase_correction(60_000, 40_000, P, 0.1, 5_000) == -2_000
    assert phase_correction(40_000, 40_000, P, 0.1, 5_000) == 0
    # no new sample yet: we are early, move later
    assert phase_correction(None, 40_000, P, 0.1, 5_000) == 5_000
    # the newest sample arrived just after the previous tick (lag ≈ a period): slightly early
    assert phase_correction(P + 10_000, 40_000, P, 0.1, 5_000) == 3_000


def test_arrival_step_tracks_arrivals_and_takes_the_short_way_back_to_them() -> None:
    from haptics.loop.clock import arrival_step

    def step(lag: int | None, waiting: bool = False, age: int = 100_000) -> int:
        return arrival_step(lag, waiting, age, 60_000, P, 0.05, 5_000, 25_000)

    # seen in the window: steer toward 60 µs after the arrivals, at most 5 µs a tick
    assert step(60_000) == 0
    assert step(100_000) == -2_000  # arrived 100 µs before the deadline: a little earlier
    assert step(400_000) == -5_000
    assert step(-200_000) == 5_000  # arrived after the deadline, within the grace: later
    assert step(None) == 5_000  # none came at all: later
    # already waiting as the window opened: the arrival is unknown, only the way to go
    assert step(210_000, waiting=True, age=120_000) == -25_000  # fresh: it came just before
    # stale: it came just after the previous tick; the next one is still to come: later,
    # although its lag alone (210 µs, the window's width) says earlier
    assert step(210_000, waiting=True, age=700_000) == 25_000
    assert step(210_000, waiting=False, age=700_000) == -5_000
