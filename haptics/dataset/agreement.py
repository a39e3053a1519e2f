"""Agreement between annotators: Krippendorff's alpha per key, per time window and per pair.

Only annotators' current answers vote (never a model's or a reviewer's). Session-level keys
have one unit per session. Interval and instant keys are compared on a shared time grid
(10 ms by default): a unit is one grid cell of one session, and an annotator's value there is
the label of their interval covering the cell's centre; for an instant key, cells within a
tolerance of an instant carry its value and every other cell of a session the annotator
labeled carries "none" (so a missed event counts as a disagreement).

Alpha per key is the `krippendorff` package's (`krippendorff.alpha`, from value counts on the
grid). Per window and per pair on a grid, alpha of nominal keys comes from one vectorised pass
over all windows (`nominal_alpha_by_group`, the same formula; the tests check it against the
package); other levels call the package per window or pair.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import krippendorff
import numpy as np

from haptics.dataset.store import Answer, SessionRecord
from haptics.dataset.taxonomy import Key, Level, Taxonomy
from haptics.dataset.views import human_votes

GRID_S = 0.010
WINDOW_S = 1.0
INSTANT_TOLERANCE_S = 0.050
LOW_ALPHA = 0.667  # Krippendorff's lowest acceptable alpha for tentative conclusions


@dataclass(frozen=True)
class Reliability:
    """Annotators × units matrix of value codes (NaN: no value), with where each unit is."""

    annotators: list[str]
    data: np.ndarray  # float64, (A, U)
    n_values: int  # codes are 0..n_values-1 on a grid; raw numbers for numeric session keys
    unit_session: np.ndarray  # int64 (U,): index into `sessions`
    unit_t_ns: np.ndarray  # int64 (U,): cell start (grid keys) or 0
    sessions: list[str]


@dataclass
class KeyAgreement:
    """Agreement figures of one taxonomy key."""

    taxonomy: str
    key: str
    target: str
    level: str
    annotators: list[str]
    units: int  # units with at least two values
    alpha: float | None  # None: undefined (fewer than two values, or no variation)
    pairwise: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "taxonomy": self.taxonomy,
            "key": self.key,
            "target": self.target,
            "level": self.level,
            "annotators": self.annotators,
            "units": self.units,
            "alpha": self.alpha,
            "pairwise": self.pairwise,
            "windows": self.windows,
            "low_agreement_windows": sum(
                1 for w in self.windows if w["alpha"] is not None and w["alpha"] < LOW_ALPHA
            ),
        }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _code(key: Key, value: Any) -> float:
    if key.value_type == "category":
        return float(key.values.index(value))
    if key.value_type == "boolean":
        return float(bool(value))
    return float(value)


def reliability(
    votes: Sequence[Answer],
    key: Key,
    sessions: dict[str, SessionRecord],
    grid_s: float = GRID_S,
    tolerance_s: float = INSTANT_TOLERANCE_S,
) -> Reliability:
    """The reliability matrix of one key from annotators' current answers (`votes`).

    Later answers paint over earlier ones where intervals overlap.
    """
    annotators = sorted({a.annotator_id for a in votes})
    row = {a: i for i, a in enumerate(annotators)}
    by_session: dict[str, list[Answer]] = {}
    for a in votes:
        by_session.setdefault(a.session_id, []).append(a)
    sids = sorted(s for s in by_session if s in sessions)
    if key.target == "session":
        data = np.full((len(annotators), len(sids)), np.nan)
        for j, sid in enumerate(sids):
            for a in sorted(by_session[sid], key=lambda a: a.id):
                data[row[a.annotator_id], j] = _code(key, a.value)
        return Reliability(
            annotators,
            data,
            len(key.domain()),
            np.arange(len(sids), dtype=np.int64),
            np.zeros(len(sids), dtype=np.int64),
            sids,
        )
    grid_ns = round(grid_s * 1e9)
    tol_ns = round(tolerance_s * 1e9)
    none_code = float(len(key.values))
    blocks, unit_sess, unit_t = [], [], []
    for j, sid in enumerate(sids):
        rec = sessions[sid]
        n = max(1, math.ceil((rec.end_ns - rec.start_ns) / grid_ns))
        block = np.full((len(annotators), n), np.nan)
        centre0 = rec.start_ns + grid_ns // 2
        for a in sorted(by_session[sid], key=lambda a: a.id):
            r = row[a.annotator_id]
            if a.t0_ns is None:
                continue
            if key.target == "interval" and a.t1_ns is not None:
                lo = math.ceil((a.t0_ns - centre0) / grid_ns)
                hi = math.ceil((a.t1_ns - centre0) / grid_ns)  # centres in [t0, t1)
            else:
                if np.isnan(block[r]).all():
                    block[r] = none_code
                lo = math.ceil((a.t0_ns - tol_ns - centre0) / grid_ns)
                hi = math.floor((a.t0_ns + tol_ns - centre0) / grid_ns) + 1
            block[r, max(lo, 0) : min(hi, n)] = _code(key, a.value)
        blocks.append(block)
        unit_sess.append(np.full(n, j, dtype=np.int64))
        unit_t.append(rec.start_ns + grid_ns * np.arange(n, dtype=np.int64))
    data = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(annotators), 0))
    n_values = len(key.values) + (1 if key.target == "instant" else 0)
    return Reliability(
        annotators,
        data,
        n_values,
        np.concatenate(unit_sess) if unit_sess else np.zeros(0, np.int64),
        np.concatenate(unit_t) if unit_t else np.zeros(0, np.int64),
        sids,
    )


def value_counts(data: np.ndarray, n_values: int) -> np.ndarray:
    """Units × values: how many annotators gave each value code to each unit."""
    units = data.shape[1]
    flat = np.zeros(units * n_values, dtype=np.int64)
    cols = np.arange(units, dtype=np.int64)
    for r in data:
        ok = ~np.isnan(r)
        flat += np.bincount(
            cols[ok] * n_values + r[ok].astype(np.int64), minlength=units * n_values
        )
    return flat.reshape(units, n_values)


def _agreeing_pairs(data: np.ndarray) -> np.ndarray:
    """Per unit, how many unordered pairs of annotators gave the same value."""
    out = np.zeros(data.shape[1], dtype=np.int64)
    for i, j in itertools.combinations(range(data.shape[0]), 2):
        out += data[i] == data[j]  # NaN never equals anything
    return out


def compact_value_counts(data: np.ndarray, n_values: int) -> np.ndarray:
    """Value counts with the same coincidence matrix as `value_counts(data)`, so the same
    alpha at any level, in far fewer rows: units where every annotator agrees are merged into
    one row per value (a unit of m agreeing values adds m to o_cc and nothing else, so such
    units add up exactly); units with a single value (not pairable) are dropped; units with
    disagreement are kept as they are."""
    m = np.sum(~np.isnan(data), axis=0)
    pairable = m >= 2
    unanimous = pairable & (_agreeing_pairs(data) == m * (m - 1) // 2)
    mixed = value_counts(data[:, pairable & ~unanimous], n_values)
    first = np.where(np.isnan(data), np.inf, data).min(axis=0)  # the value of a unanimous unit
    merged = np.bincount(
        first[unanimous].astype(np.int64), weights=m[unanimous], minlength=n_values
    ).astype(np.int64)
    rows = [np.diag(merged)[merged > 0]] if merged.any() else []
    return np.concatenate([mixed, *rows]) if rows else mixed


def nominal_alpha_by_group(
    data: np.ndarray, n_values: int, group: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Nominal alpha of each group of units at once, from reliability data (annotators ×
    units of value codes): (alpha, NaN where undefined; pairable units per group). The
    coincidence-matrix formula of `krippendorff.alpha`, for nominal data:
    alpha = 1 - (n - 1)(n - Σ o_cc) / (n² - Σ n_c²), with Σ_c o_cc of a unit = 2 × its
    agreeing pairs / (m - 1)."""
    m = np.sum(~np.isnan(data), axis=0)
    keep = m >= 2  # a unit with one value is not pairable: it counts for nothing
    mk = np.where(keep, m, 0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        o_diag = np.where(keep, 2.0 * _agreeing_pairs(data) / (m - 1.0), 0.0)
    n = np.bincount(group, weights=mk, minlength=n_groups)
    sum_o_diag = np.bincount(group, weights=o_diag, minlength=n_groups)
    n_c = np.zeros(n_groups * n_values)
    for r in data:
        ok = keep & ~np.isnan(r)
        n_c += np.bincount(
            group[ok] * n_values + r[ok].astype(np.int64), minlength=n_groups * n_values
        )
    d_e = n * n - (n_c.reshape(n_groups, n_values) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1) * (n - sum_o_diag) / d_e
    alpha[d_e <= 0] = np.nan
    return alpha, np.bincount(group[keep], minlength=n_groups)


def package_alpha(
    data: np.ndarray | None,
    level: Level,
    domain: Sequence[Any] | None = None,
    vc: np.ndarray | None = None,
) -> float | None:
    """`krippendorff.alpha` on reliability data or value counts; None where undefined."""
    try:
        if vc is not None:
            if int((vc.sum(axis=1) >= 2).sum()) == 0:
                return None
            a = krippendorff.alpha(value_counts=vc, level_of_measurement=level)
        else:
            assert data is not None
            if int((np.sum(~np.isnan(data), axis=0) >= 2).sum()) == 0:
                return None
            a = krippendorff.alpha(
                reliability_data=data,
                level_of_measurement=level,
                value_domain=list(domain) if domain else None,
            )
    except (ValueError, ZeroDivisionError):
        return None
    return _finite(float(a))


def _domain(rel: Reliability, key: Key) -> list[Any] | None:
    if key.value_type in ("category", "boolean"):
        return [float(i) for i in range(rel.n_values)]
    if key.value_type == "integer" and key.domain():
        return [float(v) for v in key.domain()]
    return None  # numbers: the values present


def key_agreement(
    taxonomy: Taxonomy,
    key_name: str,
    answers: Sequence[Answer],
    sessions: dict[str, SessionRecord],
    grid_s: float = GRID_S,
    window_s: float = WINDOW_S,
) -> KeyAgreement:
    """Alpha of one key over all its items, per pair of annotators, and (grid keys) per
    window of `window_s` seconds of each session."""
    key = taxonomy.key(key_name)
    votes = [a for a in human_votes(answers) if a.taxonomy == taxonomy.name and a.key == key_name]
    rel = reliability(votes, key, sessions, grid_s)
    level = key.level
    on_grid = key.target != "session"
    data = rel.data
    pairable = int((np.sum(~np.isnan(data), axis=0) >= 2).sum()) if data.size else 0
    if on_grid:
        alpha = package_alpha(None, level, vc=compact_value_counts(data, rel.n_values))
    else:
        alpha = package_alpha(data, level, _domain(rel, key))
    out = KeyAgreement(taxonomy.name, key_name, key.target, level, rel.annotators, pairable, alpha)
    # pairs
    for i, j in itertools.combinations(range(len(rel.annotators)), 2):
        both = ~np.isnan(data[i]) & ~np.isnan(data[j])
        units = int(both.sum())
        sub = np.vstack([data[i][both], data[j][both]])
        if units == 0:
            pa: float | None = None
        elif on_grid and level == "nominal":
            a, _ = nominal_alpha_by_group(sub, rel.n_values, np.zeros(units, np.int64), 1)
            pa = _finite(float(a[0]))
        elif on_grid:
            pa = package_alpha(None, level, vc=compact_value_counts(sub, rel.n_values))
        else:
            pa = package_alpha(sub, level, _domain(rel, key))
        out.pairwise.append(
            {
                "annotators": [rel.annotators[i], rel.annotators[j]],
                "units": units,
                "agreement": round(float(np.mean(sub[0] == sub[1])), 6) if units else None,
                "alpha": pa,
            }
        )
    if on_grid and data.shape[1]:
        out.windows = _windows(rel, sessions, level, window_s)
    return out


def _windows(
    rel: Reliability,
    sessions: dict[str, SessionRecord],
    level: Level,
    window_s: float,
) -> list[dict[str, Any]]:
    window_ns = round(window_s * 1e9)
    starts = np.array([sessions[s].start_ns for s in rel.sessions], dtype=np.int64)
    w_idx = (rel.unit_t_ns - starts[rel.unit_session]) // window_ns
    per_session = int(w_idx.max()) + 1
    group = rel.unit_session * per_session + w_idx
    n_groups = len(rel.sessions) * per_session
    data = rel.data
    m = np.sum(~np.isnan(data), axis=0)
    pair_ok = m >= 2
    agree = pair_ok & (_agreeing_pairs(data) == m * (m - 1) // 2)
    pairable = np.bincount(group[pair_ok], minlength=n_groups)
    agreeing = np.bincount(group[agree], minlength=n_groups)
    if level == "nominal":
        alphas, _ = nominal_alpha_by_group(data, rel.n_values, group, n_groups)
    else:
        alphas = np.full(n_groups, np.nan)
        for g in np.nonzero(pairable)[0]:
            a = package_alpha(
                None, level, vc=compact_value_counts(data[:, group == g], rel.n_values)
            )
            alphas[g] = np.nan if a is None else a
    out = []
    for g in np.nonzero(pairable)[0]:
        s, w = divmod(int(g), per_session)
        rec = sessions[rel.sessions[s]]
        t0 = rec.start_ns + w * window_ns
        out.append(
            {
                "session_id": rec.session_id,
                "t0_ns": t0,
                "t1_ns": min(t0 + window_ns, rec.end_ns),
                "t0_s": w * window_s,
                "units": int(pairable[g]),
                "agreement": round(float(agreeing[g] / pairable[g]), 6),
                "alpha": _finite(float(alphas[g])),
            }
        )
    return out


def agreement(
    taxonomies: Sequence[Taxonomy],
    answers: Sequence[Answer],
    sessions: dict[str, SessionRecord],
    grid_s: float = GRID_S,
    window_s: float = WINDOW_S,
) -> list[KeyAgreement]:
    """Agreement of every key that at least one annotator answered."""
    answered = {(a.taxonomy, a.key) for a in answers if a.role == "annotator"}
    out = []
    for tax in taxonomies:
        for name in tax.keys:
            if (tax.name, name) in answered:
                out.append(key_agreement(tax, name, answers, sessions, grid_s, window_s))
    return out
