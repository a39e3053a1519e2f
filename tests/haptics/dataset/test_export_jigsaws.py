"""The `jigsaws` export: kinematics at the kinematics rate, gold and per-annotator transcripts,
the meta file of skill ratings, read-back checks, and the finish hook run by `run_jobs`.
Sessions are synthetic in the recorder's exact format (`haptics.bench.export.synthetic_session`):
1.5 s at 1 kHz from host time 1 s, so frame k (from 1) is the sample of millisecond
floor((k - 1) × 1000 / rate)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import haptics.dataset.export as export_pkg
from haptics.bench.export import synthetic_session
from haptics.dataset.catalog import init_dataset
from haptics.dataset.export import jigsaws, runner
from haptics.dataset.export.base import SessionData
from haptics.dataset.export.runner import Job, plan_dataset, run_jobs
from haptics.dataset.store import Item, LabelStore, NewAnswer
from haptics.errors import ExportError
from haptics.session.manifest import read_manifest, write_manifest
from haptics.session.reading import open_session

S = 1_000_000_000  # ns
ROWS = 1500  # 1.5 s at 1 kHz
TASK = "Needle_Insertion"
KIN = Path("kinematics") / "AllGestures"
SKILL = "skill-ratings"


def _label(store: LabelStore, who: str, value: str, t0: float, t1: float,
           supersedes: int | None = None) -> int:
    """A needle phase of s0 over [t0, t1] seconds of host time."""
    answer = NewAnswer("s0", "needle-phases", "phase", value, t0_ns=round(t0 * S),
                       t1_ns=round(t1 * S), supersedes=supersedes)
    return store.add_answer(answer, who)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> list[Job]:
    """Two needle sessions; s0 labeled by alice and bob (phases: alice revised one), a
    reviewer's accept and correction (gold), and skill ratings by three annotators."""
    root = tmp_path_factory.mktemp("ds")
    ds = init_dataset(root)
    for i in range(2):
        folder = synthetic_session(root / "sessions" / f"s{i}", ROWS / 1000, seed=i,
                                   session_id=f"s{i}")
        m = read_manifest(folder)
        m.scene = {"scene": "needle"}
        write_manifest(folder, m)
    ds.index()
    st = ds.store
    for who, role in (("alice", "annotator"), ("bob", "annotator"), ("dave", "annotator"),
                      ("carol", "reviewer"), ("root", "admin")):
        st.add_person(who, role)
    st.assign([Item("s0", "needle-phases", "phase")], ["alice", "bob"], "root")
    keys = [k for k in jigsaws.GRS_KEYS if k]
    st.assign([Item("s0", SKILL, k) for k in keys], ["alice", "bob", "dave"], "root")
    approach = _label(st, "alice", "approach", 1.0, 1.1)
    first = _label(st, "alice", "contact", 1.1, 1.3)
    _label(st, "alice", "contact", 1.1, 1.4, supersedes=first)  # her own revision
    insertion = _label(st, "bob", "insertion", 1.2, 1.44)
    st.accept(approach, "carol")
    st.correct(insertion, "puncture", "the needle is through", "carol")
    ratings = {  # key: (alice, bob, dave); None: no answer
        "respect_for_tissue": (4, 2, 3),  # lower median 3
        "instrument_handling": (2, 5, 5),  # alice's accepted: gold 2
        "time_and_motion": (5, 4, 4),  # 4
        "overall_performance": (1, 5, 2),  # alice revises 1 → 5 below: 5, not 2
    }
    ids = {}
    for key, values in ratings.items():
        for who, v in zip(("alice", "bob", "dave"), values, strict=True):
            ids[key, who] = st.add_answer(NewAnswer("s0", SKILL, key, v), who)
    st.accept(ids["instrument_handling", "alice"], "carol")
    st.add_answer(NewAnswer("s0", SKILL, "overall_performance", 5,
                            supersedes=ids["overall_performance", "alice"]), "alice")
    planned, _ = plan_dataset(ds)
    ds.close()
    return planned


def session_data(job: Job, rate_hz: float | None = None) -> SessionData:
    """As runner.export_task builds it."""
    return runner.session_data(replace(job, rate_hz=rate_hz))


def export(jobs: list[Job], out: Path, rate_hz: float | None = None) -> dict[str, SessionData]:
    data = {}
    for job in jobs:
        d = session_data(job, rate_hz)
        folder = out / "sessions" / job.session_id
        folder.mkdir(parents=True)
        jigsaws.write(d, folder)
        jigsaws.check(d, folder)
        data[job.session_id] = d
    jigsaws.finish(out)
    return data


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()]


@pytest.mark.parametrize("rate", [None, 10.0])
def test_kinematics_are_the_session_at_the_kinematics_rate(
    jobs: list[Job], tmp_path: Path, rate: float | None
) -> None:
    export(jobs, tmp_path, rate)
    hz = rate or 30.0
    state = open_session(jobs[0].path).arrays("state")
    command = open_session(jobs[0].path).arrays("command")
    kin = np.loadtxt(tmp_path / "sessions" / "s0" / KIN / "s0.txt")
    assert kin.shape == (round(ROWS / 1000 * hz), 25)  # duration × rate frames
    names = (tmp_path / "sessions" / "s0" / "kinematics" / "columns.txt").read_text().split()
    assert names == list(jigsaws.COLUMNS) and len(names) == 25
    for k in (1, 2, 4, kin.shape[0] // 2 + 1, kin.shape[0]):  # frame k, counted from 1
        i = int(np.floor((k - 1) * 1000 / hz))  # the sample at or before the frame's time
        row = kin[k - 1]
        want = [state[c][i] for c in ("px", "py", "pz")]
        assert np.allclose(row[0:3], want, rtol=1e-8, atol=0)
        assert row[3:12].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]  # identity: no orientation
        assert np.allclose(row[12:15], [state[c][i] for c in ("vx", "vy", "vz")], rtol=1e-8)
        assert row[15:19].tolist() == [0, 0, 0, 0]  # rotational velocity, gripper
        assert np.allclose(row[19:22], [state[c][i] for c in ("fx", "fy", "fz")], rtol=1e-8)
        assert np.allclose(row[22:25], [command[c][i] for c in ("fx", "fy", "fz")], rtol=1e-8)
    assert np.ptp(kin[:, 21]) > 0.5  # the presses are there, not a constant


def test_transcripts_gold_and_one_per_annotator(jobs: list[Job], tmp_path: Path) -> None:
    export(jobs, tmp_path)
    s0 = tmp_path / "sessions" / "s0"
    # gold: alice's accepted approach [1.0, 1.1) s, carol's correction of bob [1.2, 1.44) s;
    # frames from 1 at 30 Hz from the session start (1 s): round(t × 30) + 1 .. round(t × 30)
    assert lines(s0 / "transcriptions" / "s0.txt") == [
        ["1", "3", "approach"], ["7", "13", "puncture"]]
    by = s0 / "transcriptions_by_annotator"
    assert sorted(p.name for p in by.iterdir()) == ["alice", "bob"]  # no reviewer's folder
    assert lines(by / "alice" / "s0.txt") == [["1", "3", "approach"], ["4", "12", "contact"]]
    assert lines(by / "bob" / "s0.txt") == [["7", "13", "insertion"]]  # his, not the fix
    s1 = tmp_path / "sessions" / "s1"
    assert not (s1 / "transcriptions").exists()
    assert not (s1 / "transcriptions_by_annotator").exists()


def test_meta_file_holds_the_skill_ratings(jobs: list[Job], tmp_path: Path) -> None:
    export(jobs, tmp_path)
    meta = tmp_path / f"meta_file_{TASK}.txt"
    rows = [line.split("\t") for line in meta.read_text().splitlines()]
    # trial, level, GRS total, tissue, suture/needle (instrument), time, flow, overall, quality
    assert rows == [["s0", "-", "14", "3", "2", "4", "-", "5", "-"],
                    ["s1", "-", "-", "-", "-", "-", "-", "-", "-"]]
    assert [p.name for p in tmp_path.glob("meta_file_*.txt")] == [meta.name]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("tamper", ["kinematics", "frames", "transcript", "annotator", "meta"])
def test_check_raises_on_a_tampered_file(jobs: list[Job], tmp_path: Path, tamper: str) -> None:
    data = export(jobs[:1], tmp_path)["s0"]
    s0 = tmp_path / "sessions" / "s0"
    kin = s0 / KIN / "s0.txt"
    if tamper == "kinematics":  # one value of the middle frame
        text = kin.read_text().splitlines()
        mid = text[len(text) // 2].split()
        mid[0] = repr(float(mid[0]) + 0.001)
        text[len(text) // 2] = " ".join(mid)
        kin.write_text("\n".join(text) + "\n")
    elif tamper == "frames":  # the last frame lost
        kin.write_text("\n".join(kin.read_text().splitlines()[:-1]) + "\n")
    elif tamper == "transcript":
        (s0 / "transcriptions" / "s0.txt").write_text("1 3 approach\n7 14 puncture\n")
    elif tamper == "annotator":
        (s0 / "transcriptions_by_annotator" / "bob" / "s0.txt").unlink()
    else:
        (s0 / f"meta_file_{TASK}.txt").write_text("s0\t-\t15\t3\t2\t4\t-\t5\t-\n")
    with pytest.raises(ExportError, match="read-back mismatch"):
        jigsaws.check(data, s0)


def test_run_jobs_exports_with_the_finish_hook(jobs: list[Job], tmp_path: Path) -> None:
    assert "jigsaws" in export_pkg.FORMAT_MODULES
    out = tmp_path / "out"
    results = run_jobs(jobs[:1], "jigsaws", out)
    assert [r["status"] for r in results] == ["exported"], results
    meta = out / f"meta_file_{TASK}.txt"
    assert [line.split("\t")[0] for line in meta.read_text().splitlines()] == ["s0"]
    (out / "meta_file_Old_Task.txt").write_text("gone\t-\n")  # a task no trial has now
    results = run_jobs(jobs, "jigsaws", out)
    assert sorted((r["session_id"], r["status"]) for r in results) == [
        ("s0", "skipped"), ("s1", "exported")]
    assert [line.split("\t")[0] for line in meta.read_text().splitlines()] == ["s0", "s1"]
    assert not (out / "meta_file_Old_Task.txt").exists()
    assert (out / "sessions" / "s0" / "transcriptions" / "s0.txt").is_file()
    assert not (out / ".partial").exists()
