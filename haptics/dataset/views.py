"""Views computed from the answer log: effective answers, "gold" and "distribution".

Nothing here writes; every view is a pure function of the log's rows, so it can be rebuilt
at any time and never replaces what anyone said.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from haptics.dataset.store import Answer, Item, Review

ANSWER_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("session_id", pa.string()),
        ("taxonomy", pa.string()),
        ("key", pa.string()),
        ("target", pa.string()),
        ("t0_ns", pa.int64()),
        ("t1_ns", pa.int64()),
        ("value", pa.string()),  # JSON
        ("annotator_id", pa.string()),
        ("role", pa.string()),
        ("created_at", pa.string()),
        ("supersedes", pa.int64()),
        ("rationale", pa.string()),
        ("detector", pa.string()),
        ("detector_version", pa.string()),
        ("confidence", pa.float64()),
    ]
)


def effective(answers: Iterable[Answer]) -> list[Answer]:
    """The answers no later answer supersedes (the current word of each author)."""
    rows = list(answers)
    superseded = {a.supersedes for a in rows if a.supersedes is not None}
    return [a for a in rows if a.id not in superseded]


def human_votes(answers: Iterable[Answer]) -> list[Answer]:
    """Each annotator's current answers: what agreement and the distribution count. A model's
    or a reviewer's answer is never a vote, and a reviewer's correction does not take the
    annotator's vote away; only the annotator's own later answer replaces it."""
    rows = list(answers)
    author = {a.id: a.annotator_id for a in rows}
    revised = {
        a.supersedes
        for a in rows
        if a.supersedes is not None and author.get(a.supersedes) == a.annotator_id
    }
    return [a for a in rows if a.role == "annotator" and a.id not in revised]


def gold(answers: Sequence[Answer], reviews: Sequence[Review]) -> list[Answer]:
    """The reviewed answer(s) per item: answers a reviewer accepted and corrections a
    reviewer made, less any of them superseded since. Items never reviewed have none."""
    by_id = {a.id: a for a in answers}
    chosen: dict[int, Answer] = {}
    for r in reviews:
        if r.decision in ("accepted", "corrected") and r.answer_id in by_id:
            chosen[r.answer_id] = by_id[r.answer_id]
    superseded = {a.supersedes for a in answers if a.supersedes is not None}
    return sorted((a for a in chosen.values() if a.id not in superseded), key=lambda a: a.id)


def distribution(answers: Sequence[Answer]) -> dict[Item, dict[str, int]]:
    """Per item, how many annotators gave each value (session-level and instant keys count
    values; interval keys count their labels' values too)."""
    out: dict[Item, dict[str, int]] = {}
    for a in human_votes(answers):
        counts = out.setdefault(a.item, {})
        v = json.dumps(a.value)
        counts[v] = counts.get(v, 0) + 1
    return out


def answers_table(answers: Iterable[Answer]) -> pa.Table:
    """Answers as an Arrow table (value as JSON text)."""
    cols: dict[str, list[Any]] = {name: [] for name in ANSWER_SCHEMA.names}
    for a in answers:
        d = a.as_dict()
        d["value"] = json.dumps(d["value"])
        for name in cols:
            cols[name].append(d[name])
    return pa.table(cols, schema=ANSWER_SCHEMA)


def reviews_table(reviews: Iterable[Review]) -> pa.Table:
    """Review decisions as an Arrow table."""
    rows = [r.as_dict() for r in reviews]
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("session_id", pa.string()),
            ("taxonomy", pa.string()),
            ("key", pa.string()),
            ("reviewer_id", pa.string()),
            ("decision", pa.string()),
            ("answer_id", pa.int64()),
            ("annotator_id", pa.string()),
            ("rationale", pa.string()),
            ("created_at", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
