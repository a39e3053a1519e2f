"""Curation on synthetic sessions written in the recorder's exact format
(`haptics.bench.export.synthetic_session`: the same Arrow layouts and batches as a recording;
recording dozens of real sessions here would take minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from haptics.bench.export import synthetic_session
from haptics.dataset.catalog import Dataset, init_dataset
from haptics.dataset.curation import (
    duplicates,
    ensure_validation,
    labeled_sessions,
    needs_features,
    rank,
    update_features,
    validated_sessions,
)
from haptics.dataset.features import NAMES, compute_features, tactile_features
from haptics.dataset.store import Item, NewAnswer

HAPTICS = str(Path(sys.executable).parent / "haptics")


def cli(*args: str) -> str:
    """Run `haptics ARGS...`; its stdout (fails with its stderr if it exits non-zero)."""
    env = {**os.environ, "COLUMNS": "250"}
    out = subprocess.run([HAPTICS, *args], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def make_dataset(root: Path) -> Dataset:
    """Six ordinary sessions (presses of 1 to 2 N), a near-duplicate of s0 (same motion,
    other sensor noise), a novel one (5 N, nine presses) and one recorded on hardware."""
    ds = init_dataset(root)
    for i in range(6):
        synthetic_session(root / "sessions" / f"s{i}", 2, seed=i, press_n=1 + 0.2 * i,
                          presses=3 + i % 3, session_id=f"s{i}")
    synthetic_session(root / "sessions" / "dup", 2, seed=99, press_n=1.0, presses=3,
                      session_id="dup")
    synthetic_session(root / "sessions" / "novel", 2, seed=7, press_n=5.0, presses=9,
                      session_id="novel")
    synthetic_session(root / "sessions" / "real", 2, seed=8, press_n=1.5, presses=4,
                      provenance="recorded", session_id="real")
    ds.index()
    return ds


def label(ds: Dataset, sessions: list[str]) -> None:
    ds.store.add_person("alice", "annotator")
    ds.store.add_person("bob", "annotator")
    ds.store.add_person("root", "admin")
    ds.store.assign([Item(s, "needle-phases", "phase") for s in sessions], ["alice", "bob"],
                    "root")
    for s in sessions:
        ds.store.add_answer(NewAnswer(s, "needle-phases", "phase", "contact",
                                      t0_ns=1_100_000_000, t1_ns=1_400_000_000), "alice")


def test_features_of_a_press() -> None:
    n = 2000
    press = np.clip(np.sin(np.linspace(0, 2 * np.pi, n)), 0, None)
    cols = ("px", "py", "pz", "vx", "vy", "vz", "fx", "fy", "fz")
    state: dict[str, np.ndarray] = {c: np.zeros(n) for c in cols}
    state["host_time_ns"] = np.arange(n, dtype=np.int64) * 1_000_000
    state["fz"] = 2.0 * press
    state["px"] = np.linspace(0, 0.1, n)  # 10 cm straight
    tel: dict[str, np.ndarray] = {"contact": (press > 0).astype(np.uint8), "depth_m": 0.01 * press,
           "tissue_force_n": 2.0 * press}
    f = compute_features(state, tel)
    assert list(f) == NAMES
    assert abs(f["force_max_n"] - 2.0) < 1e-3
    assert abs(f["path_m"] - 0.1) < 1e-6
    assert abs(f["force_peaks_per_s"] - 0.5) < 1e-3  # one press in 2 s
    assert 0.45 < f["contact_fraction"] < 0.55
    assert compute_features(state, None)["contact_fraction"] == 0.0
    assert compute_features(state, None)["tactile_contrast_max_kpa"] == 0.0  # no tactile stream


def test_tactile_features_see_a_stiff_bump_and_ignore_a_plain_press() -> None:
    rng = np.random.default_rng(0)
    free = rng.normal(0.0, 0.02, (20, 16, 16))  # not touching: noise around 0 kPa
    plain = 2.0 + rng.normal(0.0, 0.02, (40, 16, 16))  # pressing, nothing underneath
    yy, xx = np.mgrid[0:16, 0:16]
    bump = 1.5 * np.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / 8.0)
    felt = plain.copy()
    felt[10:20] += bump  # a quarter of the pressing frames pass over an inclusion
    without = tactile_features(np.concatenate([free, plain]))
    with_bump = tactile_features(np.concatenate([free, felt]))
    assert abs(without["tactile_contact_fraction"] - 40 / 60) < 1e-9
    assert without["tactile_contrast_max_kpa"] < 0.2
    assert with_bump["tactile_contrast_max_kpa"] > 1.0
    assert 2.0 < with_bump["tactile_pressure_max_kpa"] < 4.0


def test_planted_duplicate_is_flagged_and_novel_session_ranks_first(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    label(ds, ["s1", "s2", "s4"])
    ft = update_features(ds)
    assert ft.problems == {} and ft.computed == 9
    pairs = duplicates(ft.ids, ft.matrix)
    assert [(p["session_id"], p["duplicate_of"]) for p in pairs] == [("dup", "s0")]
    assert pairs[0]["distance"] < 0.05
    assert (tmp_path / "ds" / "sessions" / "dup").is_dir()  # flagged, never deleted
    labeled = labeled_sessions(ds)
    assert labeled == {"s1", "s2", "s4"}
    ranked = rank(ft.ids, ft.matrix, labeled, ft.provenance)
    assert ranked[0]["session_id"] == "novel"
    assert {r["session_id"] for r in ranked} == set(ft.ids) - labeled
    assert "from labeled" in ranked[0]["reason"] and "force" in ranked[0]["reason"]
    assert ranked[0]["novelty"] > 3 * ranked[1]["novelty"]
    sim = {r["session_id"]: r["simulated"] for r in ranked}
    assert sim["real"] is False and sim["novel"] is True


def test_features_are_computed_once_and_again_when_a_session_changes(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    assert needs_features(ds)
    assert update_features(ds).computed == 9
    assert not needs_features(ds)
    assert update_features(ds).computed == 0  # kept in the dataset folder
    assert (tmp_path / "ds" / "catalog" / "features.parquet").is_file()
    f = tmp_path / "ds" / "sessions" / "s3" / "state.arrows"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    assert needs_features(ds)
    assert update_features(ds).computed == 1


def test_a_corrupt_session_is_reported_and_the_others_ranked(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "sessions" / "s5" / "state.arrows").write_bytes(b"not arrow")
    ft = update_features(ds)
    assert set(ft.problems) == {"s5"} and "state" in ft.problems["s5"]
    assert "s5" not in ft.ids and len(ft.ids) == 8


def test_validation_is_an_answer_and_the_latest_counts(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    ensure_validation(ds.store)
    ensure_validation(ds.store)  # idempotent
    ds.store.add_person("carol", "reviewer")
    ds.store.add_answer(NewAnswer("s0", "provenance", "validated", True), "carol")
    ds.store.add_answer(NewAnswer("s1", "provenance", "validated", True), "carol")
    ds.store.add_answer(NewAnswer("s1", "provenance", "validated", False,
                                  rationale="forces too smooth"), "carol")
    assert validated_sessions(ds.store.log_tables()[0]) == {"s0"}
    assert labeled_sessions(ds) == set()  # validating is not labeling


def test_curate_cli_on_a_local_dask_cluster(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds")
    label(ds, ["s1", "s2"])
    ds.close()
    r = json.loads(cli("curate", "rank", str(tmp_path / "ds"), "--json"))
    assert r["features_computed"] == 9  # on the cluster
    assert r["ranked"][0]["session_id"] == "novel"
    pairs = json.loads(cli("curate", "duplicates", str(tmp_path / "ds"), "--json"))["duplicates"]
    assert [(p["session_id"], p["duplicate_of"]) for p in pairs] == [("dup", "s0")]
    text = cli("curate", "rank", str(tmp_path / "ds"))
    assert "novel" in text and "most different" in text
