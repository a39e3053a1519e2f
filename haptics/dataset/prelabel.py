"""Pre-labels: answers with role `model` that people confirm or correct.

Two sources:
- the simulator's ground truth (`ground-truth`): tissue events from the loop's telemetry,
  needle phases from contact, depth and puncture, palpation findings from the scene's
  recorded inclusion;
- signal detectors on force alone (`force`), so they work on sessions from a real device
  too: contact onset (force rising out of the noise floor) and puncture (a sharp force drop).

Detectors are pure functions of (host time, |F|) arrays; each hit carries a confidence in
[0, 1] so that unsure pre-labels go to the top of the review queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import haptics
from haptics.dataset.catalog import Dataset, force_magnitude
from haptics.dataset.store import Item, NewAnswer, SessionRecord
from haptics.errors import LabelError
from haptics.session.reading import Session
from haptics.wire.messages import (
    EVENT_CONTACT_START,
    EVENT_CUT_END,
    EVENT_CUT_START,
    EVENT_PUNCTURE,
)

GROUND_TRUTH = "model:ground-truth"
FORCE_DETECTOR = "model:force-detector"
DETECTOR_VERSION = haptics.__version__
SOURCES = {"ground-truth": GROUND_TRUTH, "force": FORCE_DETECTOR}
EVENT_VALUES = {
    EVENT_CONTACT_START: "contact",
    EVENT_PUNCTURE: "puncture",
    EVENT_CUT_START: "cut_start",
    EVENT_CUT_END: "cut_end",
}
PUNCTURE_PHASE_S = 0.03  # how long after a puncture the phase reads "puncture"


@dataclass(frozen=True)
class Hit:
    """A detector's finding: an instant (t1_ns None) or an interval, a value, a confidence."""

    t0_ns: int
    value: str
    confidence: float
    t1_ns: int | None = None


# -- detectors on force only ---------------------------------------------------------------------
def detect_contact_onsets(
    t_ns: np.ndarray, force_n: np.ndarray, threshold_n: float = 0.05, release_n: float = 0.02
) -> list[Hit]:
    """Where force rises out of the noise floor: a Schmitt trigger (on at `threshold_n`, off
    below `release_n`), the onset placed at the last sample at or below `release_n` before
    the crossing. Confidence grows with the force reached in the next 100 ms (1 at 4×
    threshold)."""
    hits: list[Hit] = []
    on = False
    last_quiet = 0
    for i in range(force_n.size):  # a state machine; sessions are ~1e4-1e6 samples
        f = force_n[i]
        if not on:
            if f <= release_n:
                last_quiet = i
            elif f >= threshold_n:
                on = True
                ahead = force_n[i : np.searchsorted(t_ns, t_ns[i] + 100_000_000)]
                peak = float(ahead.max()) if ahead.size else float(f)
                conf = float(np.clip(peak / (4 * threshold_n), 0.0, 1.0))
                hits.append(Hit(int(t_ns[last_quiet]), "contact", round(conf, 3)))
        elif f < release_n:
            on = False
            last_quiet = i
    return hits


def detect_punctures(
    t_ns: np.ndarray,
    force_n: np.ndarray,
    window_s: float = 0.015,
    min_peak_n: float = 0.3,
    min_drop_n: float = 0.15,
    min_drop_fraction: float = 0.25,
) -> list[Hit]:
    """Punctures as sharp force drops: from a peak of at least `min_peak_n`, force falls by
    at least `min_drop_n` and `min_drop_fraction` of the peak within `window_s` (on a 5-sample
    running median, so single-sample spikes do not count). The hit is at the peak; confidence
    is the drop fraction over 0.5 (a halving is certain)."""
    n = force_n.size
    if n < 5:
        return []
    # a 5-sample running median first: a one-sample spike is not a puncture
    force_n = np.median(sliding_window_view(np.pad(force_n, 2, mode="edge"), 5), axis=1)
    dt = float(np.median(np.diff(t_ns))) if n > 1 else 1e6
    w = max(2, round(window_s * 1e9 / max(dt, 1.0)))
    padded = np.concatenate([force_n[1:], np.full(w, np.inf)])
    future_min = sliding_window_view(padded, w)[:n].min(axis=1)
    drop = force_n - future_min
    cand = (force_n >= min_peak_n) & (drop >= min_drop_n) & (drop >= min_drop_fraction * force_n)
    idx = np.nonzero(cand)[0]
    hits: list[Hit] = []
    if idx.size == 0:
        return hits
    groups = np.split(idx, np.nonzero(np.diff(idx) > w)[0] + 1)
    for g in groups:
        peak = int(g[np.argmax(force_n[g])])
        frac = float(drop[g].max() / force_n[peak]) if force_n[peak] > 0 else 0.0
        hits.append(Hit(int(t_ns[peak]), "puncture", round(min(1.0, frac / 0.5), 3)))
    return hits


# -- ground truth ---------------------------------------------------------------------------------
def ground_truth_events(session: Session) -> list[Hit]:
    """Tissue events the loop flagged (contact start, puncture, cut start and end)."""
    tel = session.arrays("telemetry")
    hits = []
    for bit, value in EVENT_VALUES.items():
        for i in np.nonzero(tel["events"] & bit)[0]:
            hits.append(Hit(int(tel["wake_ns"][i]), value, 1.0))
    return sorted(hits, key=lambda h: h.t0_ns)


def needle_phases(
    wake_ns: np.ndarray, contact: np.ndarray, depth_m: np.ndarray, events: np.ndarray
) -> list[Hit]:
    """Needle phases as consecutive intervals from the loop's ground truth: approach until
    first contact, contact until the first puncture, insertion to the deepest point (with
    `puncture` for 30 ms after each puncture), retraction after it."""
    n = wake_ns.size
    if n < 2:
        return []
    labels = np.array(["approach"] * n, dtype=object)
    touched = np.nonzero(contact > 0)[0]
    if touched.size:
        first = int(touched[0])
        deepest = int(np.argmax(depth_m))
        punct = np.nonzero(events & EVENT_PUNCTURE)[0]
        first_p = int(punct[0]) if punct.size else deepest
        labels[first:] = "contact"
        labels[first_p:deepest] = "insertion"
        for p in punct:
            end = int(np.searchsorted(wake_ns, wake_ns[p] + int(PUNCTURE_PHASE_S * 1e9)))
            labels[int(p) : min(end, deepest)] = "puncture"
        if deepest > first:
            labels[deepest:] = "retraction"
    cuts = np.nonzero(labels[1:] != labels[:-1])[0] + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [n - 1]])
    return [
        Hit(int(wake_ns[a]), str(labels[a]), 1.0, int(wake_ns[b]))
        for a, b in zip(starts, ends, strict=True)
        if wake_ns[b] > wake_ns[a]
    ]


def _answers(
    rec: SessionRecord, taxonomy: str, key: str, hits: Iterable[Hit], detector: str
) -> list[NewAnswer]:
    out = []
    for h in hits:
        t0 = min(max(h.t0_ns, rec.start_ns), rec.end_ns)
        t1 = None if h.t1_ns is None else min(max(h.t1_ns, rec.start_ns), rec.end_ns)
        if t1 is not None and t1 <= t0:
            continue
        out.append(
            NewAnswer(
                rec.session_id,
                taxonomy,
                key,
                h.value,
                t0_ns=t0,
                t1_ns=t1,
                detector=detector,
                detector_version=DETECTOR_VERSION,
                confidence=h.confidence,
            )
        )
    return out


def ground_truth_answers(session: Session, rec: SessionRecord, in_use: set[str]) -> list[NewAnswer]:
    """Pre-labels from a simulated session's ground truth, for the taxonomies in use."""
    if session.manifest.provenance != "simulated":
        return []
    out: list[NewAnswer] = []
    scene = session.manifest.scene
    if "tissue-events" in in_use:
        out += _answers(rec, "tissue-events", "event", ground_truth_events(session), "ground-truth")
    if "needle-phases" in in_use and scene.get("scene") == "needle":
        tel = session.arrays("telemetry")
        hits = needle_phases(tel["wake_ns"], tel["contact"], tel["depth_m"], tel["events"])
        out += _answers(rec, "needle-phases", "phase", hits, "ground-truth")
    inclusion = scene.get("ground_truth", {}).get("inclusion")
    if "palpation-findings" in in_use and scene.get("scene") == "palpation":
        present = inclusion is not None
        out.append(
            NewAnswer(
                rec.session_id,
                "palpation-findings",
                "inclusion_present",
                present,
                detector="ground-truth",
                detector_version=DETECTOR_VERSION,
                confidence=1.0,
            )
        )
        if present:
            size_mm = 2000.0 * float(inclusion["radius_m"])
            out.append(
                NewAnswer(
                    rec.session_id,
                    "palpation-findings",
                    "inclusion_size_mm",
                    round(size_mm, 3),
                    detector="ground-truth",
                    detector_version=DETECTOR_VERSION,
                    confidence=1.0,
                )
            )
    return out


def force_answers(session: Session, rec: SessionRecord, in_use: set[str]) -> list[NewAnswer]:
    """Pre-labels from the force detectors (any provenance), for the taxonomies in use."""
    if "tissue-events" not in in_use:
        return []
    t, f = force_magnitude(session)
    hits = detect_contact_onsets(t, f) + detect_punctures(t, f)
    return _answers(rec, "tissue-events", "event", sorted(hits, key=lambda h: h.t0_ns), "force")


def prelabel(
    dataset: Dataset,
    session_ids: list[str] | None = None,
    sources: Iterable[str] = ("ground-truth", "force"),
) -> dict[str, int]:
    """Write pre-labels for the catalogued sessions (all, or those named); returns answers
    written per source. A session and key a model already labeled is skipped, so running it
    twice writes nothing new. Raises LabelError for an unknown source or session."""
    store = dataset.store
    sources = list(sources)
    for src in sources:
        if src not in SOURCES:
            raise LabelError(f"unknown pre-label source '{src}'; sources: {', '.join(SOURCES)}")
        store.add_person(SOURCES[src], "model")
    recs = {r.session_id: r for r in store.sessions()}
    ids = session_ids if session_ids is not None else sorted(recs)
    for sid in ids:
        if sid not in recs:
            store.session(sid)  # raises with what to do
    in_use = set(store.taxonomy_names())
    done: set[tuple[Item, str]] = {
        (a.item, a.annotator_id) for a in store.log_tables()[0] if a.role == "model"
    }
    written = dict.fromkeys(sources, 0)
    for sid in ids:
        session = dataset.session(sid)
        for src in sources:
            make = ground_truth_answers if src == "ground-truth" else force_answers
            model = SOURCES[src]
            new = [a for a in make(session, recs[sid], in_use) if (a.item, model) not in done]
            if new:
                store.add_answers(new, model)
                written[src] += len(new)
    return written
