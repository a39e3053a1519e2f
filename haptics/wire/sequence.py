"""Sequence numbers: one definition of a gap, counted as messages arrive or over a recording.

A gap is a sequence number missing inside the received range (first..last). A sample that
arrives late fills the gap it left, so the streaming `SeqTracker` (the recorder, as messages
arrive) and `count_gaps` (readers, QA and repair, over a whole column) agree on any input
order, as long as the tracker has not had to forget gaps (more than `MAX_OPEN_GAPS` open).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Final

import numpy as np

MAX_OPEN_GAPS: Final = 100_000  # remembered gap intervals; beyond, late fills are not matched


def count_gaps(seq: np.ndarray) -> int:
    """Sequence numbers missing inside the received range of `seq` (any order, duplicates
    allowed); 0 for an empty array. Pure."""
    if seq.size == 0:
        return 0
    u = np.unique(seq)
    return int(u[-1]) - int(u[0]) + 1 - int(u.size)


@dataclass
class SeqTracker:
    """Counts loss on one topic from its sequence numbers, one message at a time.

    gaps: numbers missing inside first..last (a late arrival fills its gap again).
    reordered: arrivals not above the last number seen (late samples and duplicates).
    duplicates: arrivals of a number already received (or of one whose gap was forgotten).
    """

    received: int = 0
    gaps: int = 0
    reordered: int = 0
    duplicates: int = 0
    first: int | None = None
    last: int | None = None
    # open gaps as sorted, disjoint inclusive intervals (lo, hi)
    _open: list[tuple[int, int]] = field(default_factory=list, repr=False)

    def update(self, seq: int) -> None:
        """Account for one received sequence number."""
        self.received += 1
        if self.last is None or self.first is None:
            self.first = self.last = seq
            return
        if seq > self.last:
            missing = seq - self.last - 1
            if missing:
                self.gaps += missing
                if len(self._open) < MAX_OPEN_GAPS:
                    self._open.append((self.last + 1, seq - 1))
            self.last = seq
            return
        self.reordered += 1
        if seq < self.first:  # older than anything seen: widens the range
            self.gaps += self.first - seq - 1
            if self.first - seq > 1 and len(self._open) < MAX_OPEN_GAPS:
                self._open.insert(0, (seq + 1, self.first - 1))
            self.first = seq
            return
        self._fill(seq)

    def _fill(self, seq: int) -> None:
        i = bisect.bisect_right(self._open, (seq, 2**64)) - 1
        if i < 0 or not (self._open[i][0] <= seq <= self._open[i][1]):
            self.duplicates += 1
            return
        lo, hi = self._open.pop(i)
        parts = [(a, b) for a, b in ((lo, seq - 1), (seq + 1, hi)) if a <= b]
        self._open[i:i] = parts
        self.gaps -= 1

    @property
    def open_gaps(self) -> list[tuple[int, int]]:
        """The missing ranges still open, oldest first (at most `MAX_OPEN_GAPS`)."""
        return list(self._open)
