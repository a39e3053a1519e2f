"""The reviewers' queue order: low agreement first, then unsure pre-labels, then the rest."""

from __future__ import annotations

from haptics.dataset.agreement import KeyAgreement
from haptics.dataset.review import pending_items, rank
from haptics.dataset.store import Answer, Item, Review

MS = 1_000_000


def answer(
    i: int,
    sid: str,
    who: str,
    role: str = "annotator",
    confidence: float | None = None,
    created: str | None = None,
) -> Answer:
    return Answer(
        i,
        sid,
        "instant",
        5 * MS,
        None,
        "tissue-events",
        "event",
        "contact",
        who,
        role,
        created or f"t{i:04d}",
        None,
        None,
        "force" if role == "model" else None,
        None,
        confidence,
    )


def test_order_low_agreement_then_low_confidence_then_the_rest() -> None:
    answers = [
        answer(1, "plain", "alice"),
        answer(2, "unsure", "model:force", "model", confidence=0.3),
        answer(3, "sure", "model:force", "model", confidence=0.9),
        answer(4, "disputed", "alice"),
    ]
    stats = [
        KeyAgreement(
            "tissue-events",
            "event",
            "instant",
            "nominal",
            ["alice", "bob"],
            10,
            0.2,
            windows=[
                {
                    "session_id": "disputed",
                    "t0_s": 1.0,
                    "alpha": 0.1,
                    "t0_ns": 0,
                    "t1_ns": 1,
                    "units": 10,
                    "agreement": 0.5,
                }
            ],
        )
    ]
    items = pending_items(answers, [])
    order = [e["item"].session_id for e in rank(items, answers, stats)]
    assert order == ["disputed", "unsure", "plain", "sure"]


def test_reviewed_items_leave_the_queue_and_rework_waits_for_the_annotator() -> None:
    item = Item("s", "tissue-events", "event")
    answers = [
        answer(1, "s", "alice", created="2026-01-01T00:00:01"),
        answer(2, "s", "bob", created="2026-01-01T00:00:02"),
    ]
    accepted = Review(
        1,
        "s",
        "tissue-events",
        "event",
        "carol",
        "accepted",
        1,
        "alice",
        None,
        "2026-01-01T00:00:03",
    )
    assert pending_items(answers, []) == [item]
    assert pending_items(answers, [accepted]) == []
    back = Review(
        2,
        "s",
        "tissue-events",
        "event",
        "carol",
        "rework",
        None,
        "bob",
        "redo",
        "2026-01-01T00:00:04",
    )
    assert pending_items(answers, [accepted, back]) == []  # waits for bob
    late_alice = answer(3, "s", "alice", created="2026-01-01T00:00:05")
    assert pending_items([*answers, late_alice], [accepted, back]) == []  # not bob
    redo = answer(4, "s", "bob", created="2026-01-01T00:00:06")
    assert pending_items([*answers, redo], [accepted, back]) == [item]
