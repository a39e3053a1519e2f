"""Time: one clock for every process, and pure scheduling decisions.

Every process stamps `time.monotonic_ns()` (CLOCK_MONOTONIC, shared by all processes on a
host). Scheduling decisions are pure functions of (deadline, period, now) so they are unit
tested faster than real time; only `sleep_until` touches the real clock.
"""

from __future__ import annotations

import time
from typing import Final

now_ns = time.monotonic_ns

DEFAULT_SPIN_NS: Final = 250_000  # sleep until this long before a deadline, then spin


def next_deadline(deadline_ns: int, period_ns: int, now: int) -> tuple[int, int]:
    """The next deadline after `deadline_ns`, skipping any already missed.

    Returns (next_deadline_ns, missed) where `missed` counts whole periods that passed
    without a tick (e.g. a VM stall). Missed ticks are skipped, never caught up in a burst.
    """
    nxt = deadline_ns + period_ns
    if now < nxt:
        return nxt, 0
    missed = (now - nxt) // period_ns + 1
    return nxt + missed * period_ns, int(missed)


def sleep_until(deadline_ns: int, spin_ns: int = DEFAULT_SPIN_NS) -> int:
    """Block until `deadline_ns` (monotonic): sleep until `spin_ns` before, then spin.

    Returns the wake time in ns. Sleeping alone overshoots by 50–110 µs on a VM; the final
    spin brings the wake error to about a microsecond at the cost of `spin_ns` of CPU per tick.
    """
    remaining = deadline_ns - time.monotonic_ns()
    if remaining > spin_ns:
        time.sleep((remaining - spin_ns) / 1e9)
    now = time.monotonic_ns()
    while now < deadline_ns:
        now = time.monotonic_ns()
    return now


def phase_correction(
    lag_ns: int | None, target_ns: int, period_ns: int, gain: float, max_step_ns: int
) -> int:
    """How far to move the next deadline (ns; positive = later) to phase-lock on the device.

    The loop keeps its own precise grid but slides it so each tick lands `target_ns` after
    the device published its sample: fresh input, low latency, and no transport jitter in
    the tick period. `lag_ns` is tick wake − publish time of the newest sample, or None when
    no new sample had arrived (the tick was early: move later). The error is taken modulo the
    period: a sample that arrived just after the previous tick (lag ≈ one period) means
    "slightly early", not "very late". Steps are bounded by `max_step_ns` so the period
    error stays small.
    """
    if lag_ns is None:
        return max_step_ns
    half = period_ns // 2
    error = (lag_ns - target_ns + half) % period_ns - half
    step = -int(error * gain)
    if step > max_step_ns:
        return max_step_ns
    if step < -max_step_ns:
        return -max_step_ns
    return step


def arrival_step(
    lag_ns: int | None,
    waiting: bool,
    sample_age_ns: int,
    target_ns: int,
    period_ns: int,
    gain: float,
    max_step_ns: int,
    catch_up_ns: int,
) -> int:
    """Deadline step for a loop that ticks when the device's sample arrives (positive = later).

    The loop sleeps, then watches its socket in a window before the deadline. `lag_ns`:
    deadline − arrival of the sample seen in the window (None: none came by the deadline).
    `waiting`: a message was already waiting when the window opened. Its arrival time is then
    unknown: it came during the sleep, so the tick started late by an unknown amount.
    `sample_age_ns`: tick wake − host time of the newest sample.

    A sample seen in the window steers the deadline to `target_ns` after the arrivals in
    steps of at most `max_step_ns` (`phase_correction`). A sample that was already waiting
    says which way the window must go, not how far, so the window moves by `catch_up_ns`:
    - fresh (younger than half a period): it came shortly before the window: move earlier;
    - stale (older): it came just after the previous tick and the next one is still to come:
      move later. Moving earlier would also get there, the long way round: a first version
      did that and spent most of a session locked onto the previous period's samples, each
      answered ~0.4 ms late, creeping back at 5 µs a tick after every upset.
    """
    if waiting:
        return catch_up_ns if sample_age_ns > period_ns // 2 else -catch_up_ns
    return phase_correction(lag_ns, target_ns, period_ns, gain, max_step_ns)


def quantile_step(late: bool, up_ns: int, down_ns: int) -> int:
    """Deadline step that tracks a quantile of sample arrival times (positive = later).

    Late sample (arrived after the deadline): move later by `up_ns`; on time: move earlier
    by `down_ns`. At equilibrium the fraction of late samples is down / (up + down).
    """
    return up_ns if late else -down_ns
