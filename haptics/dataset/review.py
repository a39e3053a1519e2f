"""The reviewers' queue: which items wait for review, the least certain first.

An item waits for review when it has answers (people's or a model's) newer than its last
review decision; an item sent back waits for its annotator instead (their queue), until they
answer again. Order: items with windows of low agreement (alpha below 0.667, lowest first)
or, for session-level keys, annotators who disagree; then items with low-confidence
pre-labels (lowest first); then the rest, oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from haptics.dataset.agreement import GRID_S, LOW_ALPHA, WINDOW_S, KeyAgreement, agreement
from haptics.dataset.store import Answer, Item, LabelStore, Review
from haptics.dataset.views import human_votes

LOW_CONFIDENCE = 0.5


def pending_items(answers: Sequence[Answer], reviews: Sequence[Review]) -> list[Item]:
    """Items with an answer newer than their last review decision, in order of first answer;
    an item whose last decision sent work back is pending only once that annotator answered
    again."""
    last_review: dict[Item, Review] = {}
    for rv in reviews:
        last_review[rv.item] = rv
    order: dict[Item, None] = {}
    for a in answers:
        r = last_review.get(a.item)
        if r is None or a.created_at > r.created_at:
            if r is not None and r.decision == "rework" and a.annotator_id != r.annotator_id:
                continue
            order.setdefault(a.item, None)
    return list(order)


def rank(
    items: Sequence[Item],
    answers: Sequence[Answer],
    stats: Sequence[KeyAgreement],
    low_alpha: float = LOW_ALPHA,
    low_confidence: float = LOW_CONFIDENCE,
) -> list[dict[str, Any]]:
    """Queue entries (item, priority tier, reasons), the most urgent first."""
    low_windows: dict[Item, list[dict[str, Any]]] = {}
    for ka in stats:
        for w in ka.windows:
            if w["alpha"] is not None and w["alpha"] < low_alpha:
                low_windows.setdefault(Item(w["session_id"], ka.taxonomy, ka.key), []).append(w)
    votes: dict[Item, set[str]] = {}
    targets: dict[Item, str] = {}
    for a in human_votes(answers):
        targets[a.item] = a.target
        if a.target == "session":
            votes.setdefault(a.item, set()).add(json.dumps(a.value))
    min_conf: dict[Item, float] = {}
    for a in answers:
        if a.role == "model" and a.confidence is not None:
            min_conf[a.item] = min(min_conf.get(a.item, 1.0), a.confidence)
    entries = []
    for pos, item in enumerate(items):
        reasons: list[str] = []
        score = 1.0
        tier = 2
        if item in low_windows:
            ws = sorted(low_windows[item], key=lambda w: w["alpha"])
            tier, score = 0, float(ws[0]["alpha"])
            reasons.append(
                f"{len(ws)} window(s) of low agreement, lowest alpha {ws[0]['alpha']:.3f} "
                f"at {ws[0]['t0_s']:.1f} s"
            )
        elif len(votes.get(item, set())) > 1:
            tier, score = 0, -1.0
            reasons.append(f"annotators disagree: {', '.join(sorted(votes[item]))}")
        conf = min_conf.get(item)
        if conf is not None and conf < low_confidence:
            if tier > 1:
                tier, score = 1, conf
            reasons.append(f"pre-label confidence {conf:.2f}")
        entries.append(
            {
                "item": item,
                "tier": tier,
                "score": score,
                "position": pos,
                "reasons": reasons,
                "low_windows": low_windows.get(item, []),
            }
        )
    entries.sort(key=lambda e: (e["tier"], e["score"], e["position"]))
    return entries


def review_queue(
    store: LabelStore, grid_s: float = GRID_S, window_s: float = WINDOW_S
) -> list[dict[str, Any]]:
    """The reviewers' queue of a store, ranked (see the module docstring)."""
    answers, reviews = store.log_tables()
    items = pending_items(answers, reviews)
    sessions = {r.session_id: r for r in store.sessions()}
    taxes = [store.taxonomy(n) for n in store.taxonomy_names()]
    pending = set(items)
    stats = agreement(taxes, [a for a in answers if a.item in pending], sessions, grid_s, window_s)
    return rank(items, answers, stats)
