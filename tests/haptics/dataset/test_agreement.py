"""Agreement: every alpha is the `krippendorff` package's on the same data."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from haptics.dataset.agreement import (
    compact_value_counts,
    key_agreement,
    nominal_alpha_by_group,
)
from haptics.dataset.store import Answer, SessionRecord
from haptics.dataset.taxonomy import load_taxonomy

MS = 1_000_000


def answer(
    i: int,
    who: str,
    value: object,
    t0: int | None = None,
    t1: int | None = None,
    key: str = "phase",
    tax: str = "needle-phases",
    target: str = "interval",
    sid: str = "s1",
    role: str = "annotator",
) -> Answer:
    return Answer(
        i,
        sid,
        target,
        t0,
        t1,
        tax,
        key,
        value,
        who,
        role,
        f"t{i:04d}",
        None,
        None,
        None,
        None,
        None,
    )


def random_data(seed: int, values: int = 4, units: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.integers(0, values, (3, units)).astype(float)
    d[1, : units // 2] = d[0, : units // 2]  # some agreement
    d[rng.random((3, units)) < 0.25] = np.nan
    return d


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compact_value_counts_give_the_package_alpha(level: str, seed: int) -> None:
    d = random_data(seed)
    domain = [0.0, 1.0, 2.0, 3.0]
    if level == "ratio":
        d, domain = d + 1, [1.0, 2.0, 3.0, 4.0]
    ref = krippendorff.alpha(reliability_data=d, level_of_measurement=level, value_domain=domain)
    codes = d - 1 if level == "ratio" else d
    vc = compact_value_counts(codes, 4)
    assert vc.shape[0] < d.shape[1]  # it really is smaller
    got = krippendorff.alpha(value_counts=vc, level_of_measurement=level, value_domain=domain)
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_grouped_nominal_alpha_is_the_package_alpha_of_each_group() -> None:
    d = random_data(3)
    group = np.repeat(np.arange(6), 500)
    alphas, units = nominal_alpha_by_group(d, 4, group, 6)
    for g in range(6):
        sub = d[:, group == g]
        ref = krippendorff.alpha(reliability_data=sub, level_of_measurement="nominal")
        assert alphas[g] == pytest.approx(ref, rel=1e-12)
        assert units[g] == int((np.sum(~np.isnan(sub), axis=0) >= 2).sum())


def test_interval_answers_on_the_10ms_grid() -> None:
    tax, _ = load_taxonomy("needle-phases")
    sessions = {"s1": SessionRecord("s1", "p", None, None, None, 0, 2000 * MS, 2.0, None)}
    # alice: approach [0, 1 s), contact [1, 2 s); bob: approach [0, 1.2 s), contact after;
    # a model's and a reviewer's answers are not votes
    answers = [
        answer(1, "alice", "approach", 0, 1000 * MS),
        answer(2, "alice", "contact", 1000 * MS, 2000 * MS),
        answer(3, "bob", "approach", 0, 1200 * MS),
        answer(4, "bob", "contact", 1200 * MS, 2000 * MS),
        answer(5, "model:gt", "insertion", 0, 2000 * MS, role="model"),
        answer(6, "carol", "insertion", 0, 2000 * MS, role="reviewer"),
    ]
    ka = key_agreement(tax, "phase", answers, sessions, grid_s=0.010, window_s=1.0)
    a = np.array([0.0] * 100 + [1.0] * 100)
    b = np.array([0.0] * 120 + [1.0] * 80)
    ref = krippendorff.alpha(reliability_data=np.vstack([a, b]), level_of_measurement="nominal")
    assert ka.annotators == ["alice", "bob"]
    assert ka.units == 200
    assert ka.alpha == pytest.approx(ref, rel=1e-12)
    (pair,) = ka.pairwise
    assert pair["agreement"] == pytest.approx(180 / 200)
    assert pair["alpha"] == pytest.approx(ref, rel=1e-12)
    w0, w1 = ka.windows
    assert (w0["t0_s"], w0["agreement"], w0["alpha"]) == (0.0, 1.0, None)  # all "approach"
    ref1 = krippendorff.alpha(
        reliability_data=np.vstack([a[100:], b[100:]]), level_of_measurement="nominal"
    )
    assert w1["alpha"] == pytest.approx(ref1, rel=1e-12) and w1["alpha"] < 0.667


def test_session_level_ordinal_key() -> None:
    tax, _ = load_taxonomy("skill-ratings")
    sessions = {
        f"s{i}": SessionRecord(f"s{i}", "p", None, None, None, 0, MS, 0.001, None) for i in range(4)
    }
    ratings = {"alice": [1, 2, 4, 5], "bob": [2, 2, 5, 4], "dave": [1, 3, 4, None]}
    answers, i = [], 0
    for who, vals in ratings.items():
        for s, v in enumerate(vals):
            if v is not None:
                i += 1
                answers.append(
                    answer(
                        i,
                        who,
                        v,
                        key="overall_performance",
                        tax="skill-ratings",
                        target="session",
                        sid=f"s{s}",
                    )
                )
    ka = key_agreement(tax, "overall_performance", answers, sessions)
    data = np.array([[1, 2, 4, 5], [2, 2, 5, 4], [1, 3, 4, np.nan]], dtype=float)
    ref = krippendorff.alpha(
        reliability_data=data,
        level_of_measurement="ordinal",
        value_domain=[1.0, 2.0, 3.0, 4.0, 5.0],
    )
    assert ka.alpha == pytest.approx(ref, rel=1e-12)
    assert ka.windows == [] and len(ka.pairwise) == 3
