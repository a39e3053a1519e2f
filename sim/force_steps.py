"""Force steps between ticks that no tissue event explains: the measure of a buzz.

A user feels a force that jumps from one tick to the next and back as a buzz. Genuine tissue
events (a puncture, a cut starting or ending, the tool meeting or leaving the surface) may
change the force at once; nothing else should. `unexplained_steps` counts the tick-to-tick
changes of a force trace larger than a threshold that do not lie within a few ticks of such
an event; `session_force_steps` applies it to a recorded session, to the force commanded to
the device (after the loop's passivity and safety stages) or to the force the scene rendered
(before them), so a step can be traced to the stage that made it.

Run on sessions: `python -m sim.force_steps SESSION [SESSION ...] [--threshold-n 0.05]
[--rendered]`.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from haptics.errors import ConfigError
from haptics.wire.messages import (
    EVENT_CONTACT_END,
    EVENT_CONTACT_START,
    EVENT_CUT_END,
    EVENT_CUT_START,
    EVENT_PUNCTURE,
    FLAG_ENGAGING,
    FLAG_STOPPING,
)

TISSUE_EVENTS = (
    EVENT_PUNCTURE | EVENT_CUT_START | EVENT_CUT_END | EVENT_CONTACT_START | EVENT_CONTACT_END
)


@dataclass(frozen=True)
class StepCount:
    """What `unexplained_steps` found in one force trace.

    ticks: length of the trace.
    steps: tick-to-tick changes larger than the threshold.
    explained: those within `window` ticks of a tissue event (or an excluded tick).
    unexplained: the rest, the buzz.
    largest_unexplained_n: the largest unexplained change (0 if none).
    first_unexplained: tick indices of the first few unexplained steps, for a look at a plot.
    """

    ticks: int
    steps: int
    explained: int
    unexplained: int
    largest_unexplained_n: float
    first_unexplained: tuple[int, ...]


def unexplained_steps(
    force_n: ArrayLike,
    events: ArrayLike,
    threshold_n: float = 0.05,
    window: int = 2,
    event_mask: int = TISSUE_EVENTS,
    excluded: ArrayLike | None = None,
) -> StepCount:
    """Count force changes between consecutive ticks above `threshold_n` not near an event.

    force_n: one row per tick, a scalar or a vector (N × 3) force; the step is the norm of
        the difference between consecutive rows.
    events: event bits per tick; a step at tick k (from k−1 to k) is explained if any tick
        within ±`window` of k raised a bit of `event_mask`.
    excluded: optional booleans per tick; a step touching an excluded tick counts as
        explained (e.g. the loop's engage ramp or the final zero-force tick).

    Raises ConfigError if the arrays differ in length or the threshold or window is negative.
    """
    force = np.asarray(force_n, dtype=np.float64)
    if force.ndim == 1:
        force = force[:, None]
    bits = np.asarray(events, dtype=np.int64).reshape(-1)
    n = force.shape[0]
    if bits.size != n:
        raise ConfigError(f"force has {n} ticks but events has {bits.size}; pass one per tick")
    if threshold_n < 0.0 or window < 0:
        raise ConfigError(
            f"threshold_n and window must be >= 0, got {threshold_n} N and {window} ticks"
        )
    if n < 2:
        return StepCount(n, 0, 0, 0, 0.0, ())
    delta = np.sqrt(np.sum(np.diff(force, axis=0) ** 2, axis=1))  # delta[k-1]: k−1 → k
    near = widen((bits & event_mask) != 0, window)
    if excluded is not None:
        skip = np.asarray(excluded, dtype=bool).reshape(-1)
        if skip.size != n:
            raise ConfigError(f"excluded has {skip.size} ticks, force has {n}; pass one per tick")
        near |= skip
        near[1:] |= skip[:-1]
    big = delta > threshold_n
    explained = big & near[1:]
    loose: NDArray[np.intp] = np.flatnonzero(big & ~near[1:]) + 1
    return StepCount(
        ticks=n,
        steps=int(big.sum()),
        explained=int(explained.sum()),
        unexplained=int(loose.size),
        largest_unexplained_n=float(delta[loose - 1].max()) if loose.size else 0.0,
        first_unexplained=tuple(int(k) for k in loose[:10]),
    )


def widen(mask: NDArray[np.bool_], window: int) -> NDArray[np.bool_]:
    """`mask` (one boolean per tick) widened by `window` ticks on each side."""
    out = mask.copy()
    for shift in range(1, window + 1):
        out[shift:] |= mask[:-shift]
        out[:-shift] |= mask[shift:]
    return out


def session_force_steps(
    path: str | Path, threshold_n: float = 0.05, window: int = 2, rendered: bool = False
) -> StepCount:
    """`unexplained_steps` of the force commanded to the device in a recorded session, or
    with `rendered` of the force the scene rendered before passivity and safety.

    Reads the `telemetry` stream (fx, fy, fz or rx, ry, rz; events, flags) with
    `haptics.open_session`.
    Ticks the loop flags as engaging (force ramping in) or stopping (the final zero-force
    tick) are excluded: their steps are the loop's, by design.

    Raises whatever `haptics.open_session` raises for a missing or unreadable session.
    """
    import haptics  # the session reader sits above sim's layer of haptics; load it on use

    session = haptics.open_session(str(path))
    tel = session.arrays("telemetry")
    x, y, z = ("rx", "ry", "rz") if rendered else ("fx", "fy", "fz")
    force = np.stack([tel[x], tel[y], tel[z]], axis=1)
    flags = np.asarray(tel["flags"], dtype=np.int64)
    excluded = (flags & (FLAG_ENGAGING | FLAG_STOPPING)) != 0
    return unexplained_steps(force, tel["events"], threshold_n, window, excluded=excluded)


def main(argv: list[str] | None = None) -> int:
    """Print the step count of each session given on the command line."""
    parser = argparse.ArgumentParser(prog="python -m sim.force_steps", description=__doc__)
    parser.add_argument("sessions", nargs="+", help="session directories")
    parser.add_argument("--threshold-n", type=float, default=0.05)
    parser.add_argument("--window", type=int, default=2, help="ticks either side of an event")
    parser.add_argument(
        "--rendered", action="store_true", help="the scene's force, before passivity and safety"
    )
    args = parser.parse_args(argv)
    for path in args.sessions:
        found = session_force_steps(path, args.threshold_n, args.window, args.rendered)
        print(path, asdict(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
