"""The label store on both back-ends: append-only log, roles, blindness, review, bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from haptics.dataset import views
from haptics.dataset.store import Item, LabelStore, NewAnswer
from haptics.errors import LabelError, StoreError

PHASE = Item("s1", "needle-phases", "phase")
EVENT = Item("s1", "tissue-events", "event")
S = 1_000_000_000  # ns per s; session s1 spans [1 s, 4 s]


def phase(value: str, t0: float, t1: float, **kw: object) -> NewAnswer:
    return NewAnswer("s1", "needle-phases", "phase", value, int(t0 * S), int(t1 * S), **kw)  # type: ignore[arg-type]


def count(store: LabelStore, table: str) -> int:
    with store.engine.connect() as c:
        return int(c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_schema_is_at_the_newest_migration(store: LabelStore) -> None:
    assert store.revision() == "0001"
    # opening again migrates nothing and keeps the data
    again = LabelStore(store.url)
    assert again.revision() == "0001"
    assert [p["person_id"] for p in again.people()] == ["alice", "bob", "carol", "dave", "root"]
    again.close()


def test_a_store_that_is_not_migrated_is_refused(store_url: str) -> None:
    with pytest.raises(StoreError, match="haptics dataset init"):
        LabelStore(store_url, migrate=False)


@pytest.mark.parametrize("table", ["answers", "reviews", "assignments", "people"])
def test_the_database_refuses_update_and_delete(store: LabelStore, table: str) -> None:
    aid = store.add_answer(phase("approach", 1.0, 2.0), "alice")
    store.accept(aid, "carol")
    assert count(store, table) >= 1
    for sql in (f"UPDATE {table} SET created_at = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.execute(sa.text(sql))
    with store.engine.connect() as c:
        assert "x" not in c.execute(sa.text(f"SELECT created_at FROM {table}")).scalars().all()


def test_one_row_per_answer_with_every_field(store: LabelStore) -> None:
    aid = store.add_answer(phase("approach", 1.0, 1.5), "alice")
    store.add_person("model:x", "model")
    mid = store.add_answer(
        NewAnswer(
            "s1",
            "tissue-events",
            "event",
            "puncture",
            int(2.5 * S),
            detector="x",
            detector_version="1.2",
            confidence=0.4,
        ),
        "model:x",
    )
    a, m = store.answers("carol")
    assert (a.id, m.id) == (aid, mid)
    assert (a.session_id, a.target, a.t0_ns, a.t1_ns) == ("s1", "interval", S, int(1.5 * S))
    assert (a.taxonomy, a.key, a.value, a.annotator_id, a.role) == (
        "needle-phases",
        "phase",
        "approach",
        "alice",
        "annotator",
    )
    assert a.created_at and a.supersedes is None and a.detector is None
    assert (m.target, m.t0_ns, m.t1_ns, m.role) == ("instant", int(2.5 * S), None, "model")
    assert (m.detector, m.detector_version, m.confidence) == ("x", "1.2", 0.4)


BAD = [
    ("outside the taxonomy", lambda: phase("sideways", 1.0, 2.0), "alice", "not a value"),
    (
        "unknown key",
        lambda: NewAnswer("s1", "needle-phases", "speed", "x", S, 2 * S),
        "alice",
        "no key 'speed'",
    ),
    ("interval past the end", lambda: phase("approach", 3.0, 4.5), "alice", "outside"),
    ("interval before the start", lambda: phase("approach", 0.5, 2.0), "alice", "outside"),
    ("reversed interval", lambda: phase("approach", 2.0, 1.5), "alice", "reversed"),
    (
        "instant given for an interval key",
        lambda: NewAnswer("s1", "needle-phases", "phase", "approach", S),
        "alice",
        "t0 and t1",
    ),
    ("unknown annotator", lambda: phase("approach", 1.0, 2.0), "zoe", "unknown annotator"),
    ("not assigned", lambda: phase("approach", 1.0, 2.0), "dave", "not assigned"),
    (
        "unknown session",
        lambda: NewAnswer("nope", "needle-phases", "phase", "approach", S, 2 * S),
        "alice",
        "not in the dataset's catalog",
    ),
    (
        "a person giving a model's confidence",
        lambda: phase("approach", 1.0, 2.0, confidence=0.5),
        "alice",
        "only a model",
    ),
]


@pytest.mark.parametrize(("case", "make", "who", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_answers_are_refused_and_nothing_is_written(
    store: LabelStore, case: str, make: object, who: str, message: str
) -> None:
    good = phase("approach", 1.0, 2.0)
    with pytest.raises(LabelError, match=message):
        store.add_answers([good, make()], who)  # type: ignore[operator]
    assert count(store, "answers") == 0


def test_only_reviewers_review_and_only_reviewers_or_admins_assign(store: LabelStore) -> None:
    aid = store.add_answer(phase("approach", 1.0, 2.0), "alice")
    with pytest.raises(LabelError, match="only reviewers"):
        store.accept(aid, "bob")
    with pytest.raises(LabelError, match="only reviewers"):
        store.correct(aid, "contact", "looks like contact", "alice")
    with pytest.raises(LabelError, match="only reviewers"):
        store.send_back(PHASE, "alice", "redo", "bob")
    with pytest.raises(LabelError, match="reviewers and admins assign"):
        store.assign([PHASE], ["alice", "bob"], "alice")
    with pytest.raises(LabelError, match="needs a rationale"):
        store.correct(aid, "contact", "", "carol")
    assert count(store, "reviews") == 0 and count(store, "answers") == 1


def test_assign_gives_each_item_as_many_annotators_as_the_key_asks(store: LabelStore) -> None:
    skill = Item("s1", "skill-ratings", "overall_performance")  # 3 per item
    with pytest.raises(LabelError, match="needs 3 annotators"):
        store.assign([skill], ["alice", "bob"], "carol")
    new = store.assign([skill], ["alice", "bob", "dave"], "carol")
    assert sorted(a for _, a in new) == ["alice", "bob", "dave"]
    assert store.assign([skill], ["alice", "bob", "dave"], "carol") == []  # idempotent
    # least loaded first: dave has the fewest items
    extra = Item("s1", "palpation-findings", "confidence")  # 2 per item
    new = store.assign([extra], ["alice", "bob", "dave"], "carol")
    assert "dave" in [a for _, a in new]
    assert [q["item"] for q in store.queue("dave")] == [skill, extra]


def test_blind_until_answered(store: LabelStore) -> None:
    store.add_person("model:gt", "model")
    store.add_answer(
        NewAnswer(
            "s1", "needle-phases", "phase", "approach", S, 2 * S, detector="gt", confidence=1.0
        ),
        "model:gt",
    )
    store.add_answer(phase("contact", 1.0, 2.0), "alice")
    # bob has not answered: he sees the pre-label, never alice's answer, by any call
    assert [a.annotator_id for a in store.answers("bob")] == ["model:gt"]
    assert [a.annotator_id for a in store.answers("bob", item=PHASE)] == ["model:gt"]
    assert [a.annotator_id for a in store.answers("bob", session_id="s1")] == ["model:gt"]
    assert {a.annotator_id for a in store.answers("carol")} == {"model:gt", "alice"}
    store.add_answer(phase("approach", 1.0, 2.0), "bob")
    assert {a.annotator_id for a in store.answers("bob")} == {"model:gt", "alice", "bob"}
    # alice answered first, so she now sees bob's too; dave (not answered) still sees none
    assert {a.annotator_id for a in store.answers("alice", item=PHASE)} == {
        "model:gt",
        "alice",
        "bob",
    }
    assert {a.annotator_id for a in store.answers("dave")} == {"model:gt"}
    # answering another item does not unblind this one
    other = Item("s1", "skill-ratings", "overall_performance")
    store.assign([other], ["alice", "bob", "dave"], "carol")
    store.add_answer(NewAnswer("s1", "skill-ratings", "overall_performance", 4), "dave")
    assert {a.annotator_id for a in store.answers("dave", item=PHASE)} == {"model:gt"}


def test_review_accept_correct_send_back_and_views(store: LabelStore) -> None:
    a1 = store.add_answer(phase("approach", 1.0, 2.0), "alice")
    b1 = store.add_answer(phase("contact", 1.0, 2.0), "bob")
    e1 = store.add_answer(
        NewAnswer("s1", "tissue-events", "event", "contact", int(1.5 * S)), "alice"
    )
    store.add_answer(NewAnswer("s1", "tissue-events", "event", "puncture", int(1.5 * S)), "bob")
    store.accept(a1, "carol")
    new_id, _ = store.correct(e1, "puncture", "force drops sharply there", "carol")
    store.send_back(PHASE, "bob", "the needle is not touching yet", "carol")
    # rework returns to bob's queue (not alice's), until he answers again
    assert [(q["item"], q["reason"]) for q in store.queue("bob")] == [(PHASE, "rework")]
    assert store.queue("alice") == []
    b2 = store.add_answer(phase("approach", 1.0, 2.0, supersedes=b1), "bob")
    assert store.queue("bob") == []
    with pytest.raises(LabelError, match="only its author or a reviewer"):
        store.add_answer(phase("approach", 1.0, 2.0, supersedes=b1), "alice")
    answers, reviews = store.log_tables()
    assert [r.decision for r in reviews] == ["accepted", "corrected", "rework"]
    gold = views.gold(answers, reviews)
    assert [(g.id, g.value) for g in gold] == [(a1, "approach"), (new_id, "puncture")]
    corr = next(a for a in answers if a.id == new_id)
    assert (corr.role, corr.supersedes, corr.rationale) == (
        "reviewer",
        e1,
        "force drops sharply there",
    )
    dist = views.distribution(answers)
    assert dist[PHASE] == {'"approach"': 2}  # bob's reworked answer replaced his first
    assert dist[EVENT] == {'"contact"': 1, '"puncture"': 1}  # a correction is not a vote
    assert {a.id for a in answers} >= {a1, b1, b2, e1, new_id}  # nothing lost
    # an annotator sees the send-back addressed to them
    assert [r.decision for r in store.reviews("bob")] == ["accepted", "corrected", "rework"]


def test_a_reviewer_cannot_be_registered_twice_with_another_role(store: LabelStore) -> None:
    with pytest.raises(LabelError, match="already registered as annotator"):
        store.add_person("alice", "reviewer")
    with pytest.raises(LabelError, match="unknown role"):
        store.add_person("eve", "boss")
