"""Curation: which sessions are worth a person's time, which are near-duplicates, and which
simulated sessions a person has validated.

Features (`haptics.dataset.features`) are scaled with scikit-learn's RobustScaler (median and
interquartile range, so one odd session does not squash the others) and searched with its
NearestNeighbors. `rank` orders sessions for labeling by novelty: the distance to the nearest
session already labeled by a person (or, before anyone has labeled, to the nearest other
session), with the features that make it different as the reason. `duplicates` flags pairs
closer than a threshold and deletes nothing.

Validation of simulated sessions is an answer in the label store like any other: the
`provenance` taxonomy's session key `validated` (boolean), added with `ensure_validation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import RobustScaler

from haptics.dataset.catalog import Dataset
from haptics.dataset.features import NAMES, FeatureCache, fingerprint, session_features
from haptics.dataset.store import Answer, LabelStore
from haptics.dataset.views import effective
from haptics.errors import HapticsError
from haptics.session.reading import open_session

VALIDATION_TAXONOMY = "provenance"
VALIDATION_KEY = "validated"
VALIDATION_TOML = f"""name = "{VALIDATION_TAXONOMY}"
version = 1
description = "Whether a person checked that a simulated session is realistic enough to train on."

[keys.{VALIDATION_KEY}]
target = "session"
value_type = "boolean"
level = "nominal"
annotators = 1
blind = false
"""
DUPLICATE_DISTANCE = 0.05  # in scaled units: a copy with sensor noise is well below this


def ensure_validation(store: LabelStore) -> None:
    """Add the `provenance` taxonomy to a store (idempotent)."""
    if VALIDATION_TAXONOMY not in store.taxonomy_names():
        store.add_taxonomy(VALIDATION_TOML)


def validated_sessions(answers: list[Answer]) -> set[str]:
    """Sessions whose current `provenance/validated` answer by a person is true."""
    latest: dict[str, tuple[int, bool]] = {}
    for a in effective(answers):
        if a.taxonomy != VALIDATION_TAXONOMY or a.key != VALIDATION_KEY or a.role == "model":
            continue
        if a.session_id not in latest or a.id > latest[a.session_id][0]:
            latest[a.session_id] = (a.id, bool(a.value))
    return {s for s, (_, ok) in latest.items() if ok}


def is_simulated(provenance: str | None) -> bool:
    """True for sessions the recorder marked as simulated (the manifest's default)."""
    return (provenance or "simulated").startswith("sim")


def features_task(path: str) -> dict[str, Any]:
    """One session's features (a Dask task): {"features": {...}} or {"error": reason}."""
    try:
        return {"features": session_features(open_session(path))}
    except HapticsError as exc:
        return {"error": str(exc)}


@dataclass
class FeatureTable:
    """Features of the catalogued sessions that could be read."""

    ids: list[str]
    provenance: list[str | None]
    matrix: np.ndarray  # sessions × NAMES
    problems: dict[str, str]  # session_id → why it has no features
    computed: int  # how many were (re)computed this time


def _session_dir(ds: Dataset, rec_path: str) -> Path:
    p = Path(rec_path)
    return p if p.is_absolute() else ds.path / p


def needs_features(ds: Dataset) -> bool:
    """True if some catalogued session has no features yet or changed since."""
    rows = FeatureCache.of(ds.path).load()
    for rec in ds.store.sessions():
        p = _session_dir(ds, rec.path)
        if rec.session_id not in rows or (
            p.is_dir() and rows[rec.session_id]["fingerprint"] != fingerprint(p)
        ):
            return True
    return False


def update_features(ds: Dataset, client: Any | None = None) -> FeatureTable:
    """Features of every catalogued session, computing only new or changed ones (as Dask
    tasks on `client` when given, else here) and keeping them in the dataset folder."""
    cache = FeatureCache.of(ds.path)
    rows = cache.load()
    todo: dict[str, tuple[str, str, str | None]] = {}
    problems: dict[str, str] = {}
    recs = ds.store.sessions()
    for rec in recs:
        p = _session_dir(ds, rec.path)
        if not p.is_dir():
            problems[rec.session_id] = f"{p} is missing; re-run `haptics dataset index`"
            continue
        fp = fingerprint(p)
        if rows.get(rec.session_id, {}).get("fingerprint") != fp:
            todo[rec.session_id] = (str(p), fp, rec.provenance)
    ids = list(todo)
    if client is not None and ids:
        results = client.gather(client.map(features_task, [todo[i][0] for i in ids], pure=False))
    else:
        results = [features_task(todo[i][0]) for i in ids]
    for sid, res in zip(ids, results, strict=True):
        if "error" in res:
            problems[sid] = res["error"]
            rows.pop(sid, None)
            continue
        _, fp, prov = todo[sid]
        rows[sid] = {"session_id": sid, "fingerprint": fp, "provenance": prov, **res["features"]}
    known = {r.session_id for r in recs}
    rows = {k: v for k, v in rows.items() if k in known and k not in problems}
    cache.save(rows)
    order = sorted(rows)
    matrix = (
        np.array([[rows[s][n] for n in NAMES] for s in order], dtype=np.float64)
        if order
        else np.zeros((0, len(NAMES)))
    )
    return FeatureTable(order, [rows[s]["provenance"] for s in order], matrix, problems, len(ids))


def scale(matrix: np.ndarray) -> np.ndarray:
    """Features on a common scale: RobustScaler's median and interquartile range, the range
    floored at a tenth of the median's size so a feature that differs between sessions only
    by sensor noise is not blown up into a difference."""
    if matrix.shape[0] == 0:
        return matrix
    sc = RobustScaler(quantile_range=(25.0, 75.0)).fit(matrix)
    iqr = np.percentile(matrix, 75, axis=0) - np.percentile(matrix, 25, axis=0)
    sc.scale_ = np.maximum(iqr, np.maximum(0.1 * np.abs(sc.center_), 1e-9))
    scaled: np.ndarray = sc.transform(matrix)
    return scaled


def _reason(z_row: np.ndarray, z_ref: np.ndarray, what: str, dist: float) -> str:
    diff = z_row - z_ref
    top = np.argsort(-np.abs(diff))[:2]
    parts = [f"{NAMES[i]} {'higher' if diff[i] > 0 else 'lower'}" for i in top if diff[i]]
    return f"{dist:.2f} from {what}" + (f"; most different: {', '.join(parts)}" if parts else "")


def rank(
    ids: list[str], matrix: np.ndarray, labeled: set[str], provenance: list[str | None]
) -> list[dict[str, Any]]:
    """Unlabeled sessions, most novel first: per session its distance to the nearest
    labeled session (or nearest other session when none is labeled) and why."""
    z = scale(matrix)
    lab = [i for i, s in enumerate(ids) if s in labeled]
    pool = [i for i, s in enumerate(ids) if s not in labeled]
    if not pool:
        return []
    out: list[dict[str, Any]] = []
    if lab:
        nn = NearestNeighbors(n_neighbors=1).fit(z[lab])
        dist, idx = nn.kneighbors(z[pool])
        for k, i in enumerate(pool):
            j = lab[int(idx[k, 0])]
            d = float(dist[k, 0])
            out.append({"session_id": ids[i], "novelty": d, "nearest": ids[j],
                        "reason": _reason(z[i], z[j], f"labeled {ids[j]}", d)})
    elif len(pool) == 1:
        out.append({"session_id": ids[pool[0]], "novelty": 0.0, "nearest": None,
                    "reason": "the only session"})
    else:
        nn = NearestNeighbors(n_neighbors=2).fit(z[pool])
        dist, idx = nn.kneighbors(z[pool])
        for k, i in enumerate(pool):
            j = pool[int(idx[k, 1])]
            d = float(dist[k, 1])
            out.append({"session_id": ids[i], "novelty": d, "nearest": ids[j],
                        "reason": _reason(z[i], z[j], f"nearest session {ids[j]} "
                                          "(nothing labeled yet)", d)})
    prov = dict(zip(ids, provenance, strict=True))
    for r in out:
        r["simulated"] = is_simulated(prov[r["session_id"]])
    out.sort(key=lambda r: -r["novelty"])
    for n, r in enumerate(out, 1):
        r["rank"] = n
    return out


def duplicates(
    ids: list[str], matrix: np.ndarray, threshold: float = DUPLICATE_DISTANCE
) -> list[dict[str, Any]]:
    """Pairs of sessions closer than `threshold` (scaled units), closest first. Flags only:
    nothing is deleted."""
    if len(ids) < 2:
        return []
    z = scale(matrix)
    nn = NearestNeighbors(radius=threshold).fit(z)
    dist, idx = nn.radius_neighbors(z, sort_results=True)
    pairs: list[dict[str, Any]] = []
    for i in range(len(ids)):
        for d, j in zip(dist[i], idx[i], strict=True):
            if j > i:
                pairs.append({"session_id": ids[i], "duplicate_of": ids[int(j)],
                              "distance": float(d)})
    pairs.sort(key=lambda p: float(p["distance"]))
    return pairs


def labeled_sessions(ds: Dataset) -> set[str]:
    """Sessions with at least one answer by a person (annotator or reviewer), validation
    answers not counted."""
    answers, _ = ds.store.log_tables()
    return {a.session_id for a in answers
            if a.role != "model" and a.taxonomy != VALIDATION_TAXONOMY}
