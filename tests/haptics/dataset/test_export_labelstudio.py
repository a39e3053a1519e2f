"""The `labelstudio` export and `haptics labels import --from labelstudio`: model answers as
predictions with their scores, people's answers as annotations, a label config with every
label, the signals read back with pyarrow; then a Label Studio export with a new
annotator's regions comes back into the store through the real CLI (all or none).
Sessions are synthetic in the recorder's format (`haptics.bench.export.synthetic_session`)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from haptics.bench.export import synthetic_session
from haptics.cli.main import main
from haptics.dataset import labelstudio as ls
from haptics.dataset.catalog import Dataset, init_dataset, open_dataset
from haptics.dataset.export import labelstudio as fmt
from haptics.dataset.export import runner
from haptics.dataset.export.base import SessionData
from haptics.dataset.export.runner import plan_dataset, run_jobs
from haptics.dataset.store import Item, NewAnswer
from haptics.dataset.taxonomy import builtin_taxonomies, parse_taxonomy
from haptics.errors import ExportError, LabelError
from haptics.session.reading import open_session

HAPTICS = str(Path(sys.executable).parent / "haptics")
ROWS = 1500  # 1.5 s at 1 kHz per stream
T0 = 1_000_000_000  # synthetic sessions start here (host ns): the time origin
MODEL = "model:force-detector"
# the fields a model answer carries beyond the label table's (see EXTRA_FIELDS' use)
def s(seconds: float) -> int:
    """Seconds after the origin as host ns."""
    return T0 + round(seconds * 1e9)


def make(root: Path) -> Dataset:
    """Two 1.5 s sessions; on s0 a model's interval and instant (scores 0.8 and 0.6),
    alice's phase (her first answer superseded by her second) and bob's event."""
    ds = init_dataset(root)
    for i in range(2):
        synthetic_session(root / "sessions" / f"s{i}", ROWS / 1000, seed=i, session_id=f"s{i}")
    ds.index()
    st = ds.store
    for who, role in (("alice", "annotator"), ("bob", "annotator"), ("carol", "reviewer"),
                      ("root", "admin"), (MODEL, "model")):
        st.add_person(who, role)
    items = [Item(sid, tax, key) for sid in ("s0", "s1")
             for tax, key in (("needle-phases", "phase"), ("tissue-events", "event"))]
    st.assign(items, ["alice", "bob"], "root")
    st.add_answers([
        NewAnswer("s0", "needle-phases", "phase", "contact", t0_ns=s(0.1), t1_ns=s(0.4),
                  detector="force", detector_version="1.0", confidence=0.8),
        NewAnswer("s0", "tissue-events", "event", "contact", t0_ns=s(0.1),
                  detector="force", detector_version="1.0", confidence=0.6),
    ], MODEL)
    first = st.add_answer(NewAnswer("s0", "needle-phases", "phase", "approach",
                                    t0_ns=s(0.0), t1_ns=s(0.2)), "alice")
    st.add_answer(NewAnswer("s0", "needle-phases", "phase", "contact", t0_ns=s(0.123456789),
                            t1_ns=s(0.4), supersedes=first), "alice")
    st.add_answer(NewAnswer("s0", "tissue-events", "event", "puncture", t0_ns=s(0.9)), "bob")
    return ds


def session_data(ds: Dataset, sid: str) -> SessionData:
    """A session as runner.export_task builds it, model fields included."""
    return runner.session_data(next(j for j in plan_dataset(ds)[0] if j.session_id == sid))


def export_directly(ds: Dataset, out: Path) -> None:
    for sid in ("s0", "s1"):
        folder = out / "sessions" / sid
        folder.mkdir(parents=True)
        data = session_data(ds, sid)
        fmt.write(data, folder)
        fmt.check(data, folder)
    fmt.finish(out)


def every_label() -> dict[str, list[str]]:
    """Control → labels of every interval and instant key of the built-in taxonomies."""
    out = {}
    for name, text in builtin_taxonomies().items():
        tax = parse_taxonomy(text, name)
        for key in tax.keys.values():
            if key.target != "session" and key.values:
                out[f"{tax.name}__{key.name}"] = list(key.values)
    return out


def test_tasks_signals_and_label_config_read_back(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds")
    out = tmp_path / "out"
    export_directly(ds, out)
    answers = {(a.annotator_id, a.key, a.value): a for a in ds.store.log_tables()[0]}
    ds.close()

    folder = out / "sessions" / "s0"
    csv = pcsv.read_csv(folder / "signals.csv")
    assert csv.num_rows == ROWS // 10  # 1 kHz → 100 Hz, block means
    assert csv.column_names == ["time", *fmt.CHANNELS]
    assert csv.column("time")[0].as_py() == pytest.approx(0.0045)  # the first block's centre
    full = pq.read_table(folder / "signals.parquet")
    assert full.num_rows == ROWS and full.column("host_time_ns")[0].as_py() == T0
    state = open_session(tmp_path / "ds" / "sessions" / "s0").arrays("state")
    assert full.column("fz").to_numpy().tolist() == state["fz"].tolist()

    task = json.loads((folder / "task.json").read_text())
    assert task["data"] == {"csv": "/data/local-files/?d=sessions/s0/signals.csv",
                            "session_id": "s0", "time_origin_ns": T0}
    (pred,) = task["predictions"]
    assert pred["model_version"] == "force@1.0" and pred["score"] == pytest.approx(0.7)
    got = {r["from_name"]: r for r in pred["result"]}
    phase, event = got["needle-phases__phase"], got["tissue-events__event"]
    assert phase["score"] == 0.8 and event["score"] == 0.6
    assert phase["id"] == f"haptics-{answers[(MODEL, 'phase', 'contact')].id}"
    assert phase["value"] == {"start": 0.1, "end": 0.4, "instant": False,
                              "timeserieslabels": ["contact"]}
    assert event["value"] == {"start": 0.1, "end": 0.1, "instant": True,
                              "timeserieslabels": ["contact"]}
    assert all(r["type"] == "timeserieslabels" and r["to_name"] == "ts" for r in pred["result"])
    # people's current answers only: alice's superseded "approach" is not shown
    shown = [r["value"]["timeserieslabels"] for a in task["annotations"] for r in a["result"]]
    assert sorted(shown) == [["contact"], ["puncture"]]
    alice = next(r for a in task["annotations"] for r in a["result"]
                 if r["from_name"] == "needle-phases__phase")
    assert ls.to_ns(alice["value"]["start"], T0) == s(0.123456789)  # exact on the ns clock

    assert [t["data"]["session_id"] for t in json.loads((out / "tasks.json").read_text())] == [
        "s0", "s1"]
    view = ET.fromstring((out / "label_config.xml").read_text())
    controls = {c.get("name"): [lb.get("value") for lb in c.iter("Label")]
                for c in view.iter("TimeSeriesLabels")}
    for name, values in every_label().items():
        assert controls[name] == values, name
    assert {c.get("toName") for c in view.iter("TimeSeriesLabels")} == {"ts"}
    (series,) = view.iter("TimeSeries")
    assert (series.get("valueType"), series.get("value"), series.get("timeColumn")) == (
        "url", "$csv", "time")
    assert [c.get("column") for c in series.iter("Channel")] == list(fmt.CHANNELS)
    assert not list(out.glob(".labelstudio-*"))


def test_check_refuses_a_task_that_moved_an_answer(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds")
    data = session_data(ds, "s0")
    ds.close()
    fmt.write(data, tmp_path)
    task = json.loads((tmp_path / "task.json").read_text())
    task["predictions"][0]["result"][0]["value"]["start"] += 1e-9  # one ns later
    (tmp_path / "task.json").write_text(json.dumps(task))
    with pytest.raises(ExportError, match="t0_ns"):
        fmt.check(data, tmp_path)


def test_run_jobs_with_the_format_registered(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds")
    out = tmp_path / "out"
    results = run_jobs(plan_dataset(ds)[0], "labelstudio", out)
    ds.close()
    assert [r["status"] for r in results] == ["exported", "exported"], results
    tasks = json.loads((out / "tasks.json").read_text())
    scores = sorted(r["score"] for t in tasks for p in t["predictions"] for r in p["result"])
    assert scores == [0.6, 0.8]
    assert (out / "label_config.xml").is_file() and (out / "sessions" / "s1" / "task.json")
    with open_dataset(tmp_path / "ds") as ds2:
        again = run_jobs(plan_dataset(ds2)[0], "labelstudio", out)
    assert [r["status"] for r in again] == ["skipped", "skipped"]
    assert json.loads((out / "tasks.json").read_text()) == tasks


# -- back from Label Studio ----------------------------------------------------------------------
def as_exported_by_label_studio(tasks: list[dict[str, Any]],
                                extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks as Label Studio's JSON export returns them: ids, our annotations now by the
    user who imported them, and `extra` (annotations) on s0's task."""
    back = copy.deepcopy(tasks)
    for i, t in enumerate(back, 1):
        t["id"] = i
        for j, a in enumerate(t["annotations"], 1):
            a.update(id=100 * i + j, completed_by=1, created_username=" carol@lab.org, 1",
                     was_cancelled=False)
        if t["data"]["session_id"] == "s0":
            t["annotations"] += extra
    return back


def bob_regions(completed_by: Any) -> dict[str, Any]:
    return {
        "id": 900, "completed_by": completed_by, "was_cancelled": False,
        "result": [
            {"id": "Xk1", "from_name": "needle-phases__phase", "to_name": "ts",
             "type": "timeserieslabels", "origin": "manual",
             "value": {"start": 0.25, "end": 0.5, "instant": False,
                       "timeserieslabels": ["insertion"]}},
            {"id": "Xk2", "from_name": "tissue-events__event", "to_name": "ts",
             "type": "timeserieslabels", "origin": "manual",
             "value": {"start": 0.75, "end": 0.75, "instant": True,
                       "timeserieslabels": ["puncture"]}},
        ],
    }


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    return subprocess.run([HAPTICS, "labels", "import", *args], capture_output=True,
                          text=True, timeout=120)


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same command through `haptics.cli.main.main` here (no interpreter start-up)."""
    capsys.readouterr()
    code = main(["labels", "import", *args])
    got = capsys.readouterr()
    return code, got.out, got.err


def test_a_label_studio_export_comes_back_into_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = make(tmp_path / "ds")
    out = tmp_path / "out"
    export_directly(ds, out)
    before = ds.store.log_tables()[0]
    ds.close()
    tasks = json.loads((out / "tasks.json").read_text())
    export = as_exported_by_label_studio(
        tasks, [bob_regions({"id": 2, "email": "bob@lab.org", "first_name": "Bob"})])
    (tmp_path / "ls.json").write_text(json.dumps(export))
    db = str(tmp_path / "ds")

    p = cli(db, str(tmp_path / "ls.json"), "--from", "labelstudio", "--as", "carol", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert len(r["ids"]) == 2 and r["by_person"] == {"bob": 2}
    assert r["skipped"]["exported unchanged"] == 2  # alice's and bob's own, from the store

    with open_dataset(tmp_path / "ds") as ds2:
        after = ds2.store.log_tables()[0]
    assert [a.as_dict() for a in after[: len(before)]] == [a.as_dict() for a in before]
    new = {a.key: a for a in after[len(before):]}
    assert set(new) == {"phase", "event"} and {a.annotator_id for a in new.values()} == {"bob"}
    assert (new["phase"].session_id, new["phase"].value) == ("s0", "insertion")
    assert (new["phase"].t0_ns, new["phase"].t1_ns) == (s(0.25), s(0.5))
    assert (new["event"].value, new["event"].t0_ns, new["event"].t1_ns) == (
        "puncture", s(0.75), None)
    assert {a.role for a in new.values()} == {"annotator"}

    # an annotator Label Studio knows and we do not: refused by name, nothing written
    stranger = bob_regions({"id": 7, "email": "mallory@elsewhere.org"})
    stranger["result"][0]["value"]["timeserieslabels"] = ["retraction"]
    (tmp_path / "ls2.json").write_text(json.dumps(as_exported_by_label_studio(
        tasks, [bob_regions(3), stranger])))
    p = cli(db, str(tmp_path / "ls2.json"), "--from", "labelstudio", "--as", "carol")
    assert p.returncode != 0 and "mallory@elsewhere.org" in p.stderr and "user id 3" in p.stderr
    with open_dataset(tmp_path / "ds") as ds3:
        assert len(ds3.store.log_tables()[0]) == len(after)

    # the first file again: nothing new (the store already has bob's answers)
    code, stdout, err = in_process(capsys, db, str(tmp_path / "ls.json"), "--from",
                                   "labelstudio", "--as", "carol", "--json")
    assert code == 0, err
    assert json.loads(stdout)["ids"] == []
    # users mapped by id and email: the second file goes in (bob's answers are there)
    code, stdout, err = in_process(capsys, db, str(tmp_path / "ls2.json"), "--from",
                                   "labelstudio", "--as", "carol", "--user", "3=bob",
                                   "--user", "mallory@elsewhere.org=alice", "--json")
    assert code == 0, err
    r = json.loads(stdout)
    assert r["by_person"] == {"alice": 2} and r["skipped"]["already in the store"] == 2


def test_an_annotator_imports_only_their_own_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = make(tmp_path / "ds")
    out = tmp_path / "out"
    export_directly(ds, out)
    n = len(ds.store.log_tables()[0])
    ds.close()
    tasks = json.loads((out / "tasks.json").read_text())
    (tmp_path / "ls.json").write_text(json.dumps(as_exported_by_label_studio(
        tasks, [bob_regions({"id": 2, "email": "bob@lab.org"})])))
    args = (str(tmp_path / "ds"), str(tmp_path / "ls.json"), "--from", "labelstudio")
    code, _, err = in_process(capsys, *args, "--as", "alice")
    assert code != 0 and "takes a reviewer or an admin" in err
    code, stdout, err = in_process(capsys, *args, "--as", "bob", "--json")
    assert code == 0, err
    assert len(json.loads(stdout)["ids"]) == 2
    with open_dataset(tmp_path / "ds") as ds2:
        assert len(ds2.store.log_tables()[0]) == n + 2


def test_conversions_are_exact_and_refuse_what_they_cannot_read() -> None:
    for ns in (T0, s(0.000000001), s(3599.999999999)):
        assert ls.to_ns(ls.to_seconds(ns, T0), T0) == ns
    assert ls.split_control_name("needle-phases__phase") == ("needle-phases", "phase")
    with pytest.raises(LabelError, match="not a control"):
        ls.split_control_name("label")
    with pytest.raises(LabelError, match="session_id"):
        ls.regions([{"data": {"csv": "x"}, "annotations": [{"result": []}]}], {})
    with pytest.raises(LabelError, match="exactly one label"):
        ls.regions([{"data": {"session_id": "s0", "time_origin_ns": T0},
                     "annotations": [{"completed_by": 1, "result": [
                         {"type": "timeserieslabels", "from_name": "a__b",
                          "value": {"start": 0, "end": 1, "timeserieslabels": []}}]}]}], {})
    users = [ls.LsUser("1", "Alice@Lab.org"), ls.LsUser("2", None, "bob"), ls.LsUser("3")]
    with pytest.raises(LabelError, match="user id 3"):
        ls.resolve_people(users, {"alice", "bob"}, {})
    got = ls.resolve_people(users, {"alice", "bob", "carol"},
                            {"Alice@Lab.org": "alice", "3": "carol"})
    assert list(got.values()) == ["alice", "bob", "carol"]
