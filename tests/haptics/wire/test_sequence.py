"""One definition of a sequence gap: the streaming tracker and the column count agree."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from haptics.wire.sequence import SeqTracker, count_gaps


def test_tracker_counts_gaps_reordering_and_duplicates() -> None:
    t = SeqTracker()
    for s in (1, 2, 3, 6, 7, 7, 5, 10):
        t.update(s)
    assert t.received == 8
    assert t.gaps == 3  # 4, 8, 9: the late 5 filled its gap
    assert t.reordered == 2  # the second 7 and the late 5
    assert t.duplicates == 1
    assert (t.first, t.last) == (1, 10)
    assert t.open_gaps == [(4, 4), (8, 9)]


def test_count_gaps_of_a_column() -> None:
    assert count_gaps(np.array([1, 2, 3, 7, 8], dtype=np.uint64)) == 3
    assert count_gaps(np.array([5, 3, 4], dtype=np.uint64)) == 0
    assert count_gaps(np.zeros(0, dtype=np.uint64)) == 0


def test_an_older_sample_than_the_first_widens_the_range() -> None:
    t = SeqTracker()
    for s in (10, 11, 7):
        t.update(s)
    assert t.gaps == count_gaps(np.array([10, 11, 7])) == 2


@given(st.lists(st.integers(min_value=0, max_value=300), max_size=200))
def test_tracker_and_column_count_agree_on_any_arrival_order(seqs: list[int]) -> None:
    t = SeqTracker()
    for s in seqs:
        t.update(s)
    assert t.gaps == count_gaps(np.array(seqs, dtype=np.uint64))
    assert t.received == len(seqs)
    assert t.duplicates == len(seqs) - len(set(seqs))
