"""Exports: every format read back with its own library, skips, failures, --validated, and
the CLI on a Dask LocalCluster. Sessions are synthetic in the recorder's exact format
(`haptics.bench.export.synthetic_session`)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from mcap.reader import make_reader

from haptics.bench.export import synthetic_session
from haptics.dataset.agreement import key_agreement
from haptics.dataset.catalog import Dataset, init_dataset
from haptics.dataset.curation import ensure_validation
from haptics.dataset.export import parquet as parquet_format
from haptics.dataset.export.card import agreement_for_card, build_card, write_card
from haptics.dataset.export.runner import plan_dataset, plan_folders, run_jobs
from haptics.dataset.store import Item, NewAnswer
from haptics.errors import ExportError
from haptics.session.reading import open_session

HAPTICS = str(Path(sys.executable).parent / "haptics")
ROWS = 1500  # 1.5 s at 1 kHz per stream


def make(root: Path, n: int = 2, provenance: str = "simulated") -> Dataset:
    ds = init_dataset(root)
    for i in range(n):
        synthetic_session(root / "sessions" / f"s{i}", ROWS / 1000, seed=i,
                          provenance=provenance, session_id=f"s{i}")
    ds.index()
    return ds


def add_labels(ds: Dataset) -> None:
    for who, role in (("alice", "annotator"), ("bob", "annotator"), ("root", "admin")):
        ds.store.add_person(who, role)
    ds.store.assign([Item("s0", "needle-phases", "phase")], ["alice", "bob"], "root")
    for who in ("alice", "bob"):
        ds.store.add_answer(NewAnswer("s0", "needle-phases", "phase", "contact",
                                      t0_ns=1_100_000_000, t1_ns=1_400_000_000), who)


def read_back_rows(fmt: str, folder: Path) -> dict[str, int]:
    """Rows per stream (and labels) as the format's own library reads them."""
    if fmt == "parquet":
        return {p.stem: pq.read_table(p).num_rows for p in folder.glob("*.parquet")}
    if fmt == "csv":
        return {p.stem: pcsv.read_csv(p).num_rows for p in folder.glob("*.csv")}
    if fmt == "hdf5":
        with h5py.File(folder / "episode.hdf5", "r") as f:
            assert f["observations/qpos"].shape == (ROWS, 3)
            assert f["action"].shape == (ROWS, 3)
            assert f["data/demo_0/actions"].shape == (ROWS, 3)
            assert bool(f.attrs["sim"]) is True
            out = {k: f[f"haptics/{k}/host_time_ns" if k != "telemetry"
                        else "haptics/telemetry/wake_ns"].shape[0]
                   for k in ("state", "command", "telemetry")}
            out["labels"] = f["haptics/labels"].shape[0]
            return out
    with open(folder / "session.mcap", "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        names = {a.name for a in reader.iter_attachments()}
        assert "manifest.json" in names and "loop.json" in names
        counts = summary.statistics.channel_message_counts
        return {ch.topic.lstrip("/"): counts.get(c, 0) for c, ch in summary.channels.items()}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "hdf5", "mcap"])
def test_each_format_reads_back_with_its_own_library(tmp_path: Path, fmt: str) -> None:
    ds = make(tmp_path / "ds")
    add_labels(ds)
    jobs, left_out = plan_dataset(ds)
    out = tmp_path / "out"
    results = run_jobs(jobs, fmt, out)
    assert [r["status"] for r in results] == ["exported", "exported"], results
    want = {"state": ROWS, "command": ROWS, "telemetry": ROWS}
    assert read_back_rows(fmt, out / "sessions" / "s0") == {**want, "labels": 2}
    assert read_back_rows(fmt, out / "sessions" / "s1") == {**want, "labels": 0}
    if fmt == "parquet":  # values, not just counts
        s = open_session(tmp_path / "ds" / "sessions" / "s0").arrays("state")
        back = pq.read_table(out / "sessions" / "s0" / "state.parquet")
        assert back.column("fz").to_numpy().tolist() == s["fz"].tolist()
    card = build_card(out, parquet_format.FORMAT if fmt == "parquet" else
                      __import__(f"haptics.dataset.export.{fmt}", fromlist=["F"]).FORMAT,
                      str(tmp_path / "ds"), left_out, {})
    write_card(out, card)
    c = json.loads((out / "card.json").read_text())
    assert c["sessions"] == 2 and c["label_rows"] == 2 and c["sessions_labeled"] == 1
    assert c["rows"]["state"] == 2 * ROWS and "pyarrow" in c["software"]
    assert not (out / ".partial").exists()


def test_rerun_skips_unchanged_and_redoes_what_changed(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds", 3)
    out = tmp_path / "out"
    jobs, _ = plan_dataset(ds)
    run_jobs(jobs, "parquet", out)
    f = tmp_path / "ds" / "sessions" / "s1" / "state.arrows"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    add_labels(ds)  # s0's labels changed
    jobs, _ = plan_dataset(ds)
    status = {r["session_id"]: r["status"] for r in run_jobs(jobs, "parquet", out)}
    assert status == {"s0": "exported", "s1": "exported", "s2": "skipped"}
    assert pq.read_table(out / "sessions" / "s0" / "labels.parquet").num_rows == 2


def test_a_session_that_does_not_read_back_is_never_moved_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = make(tmp_path / "ds", 1)

    def bad_check(data: object, out: Path) -> None:
        raise ExportError("read-back mismatch in state rows")

    monkeypatch.setattr(parquet_format, "FORMAT",
                        dataclasses.replace(parquet_format.FORMAT, check=bad_check))
    (r,) = run_jobs(plan_dataset(ds)[0], "parquet", tmp_path / "out")
    assert r["status"] == "failed" and "read-back mismatch" in r["reason"]
    assert not (tmp_path / "out" / "sessions" / "s0").exists()
    assert not (tmp_path / "out" / ".partial").exists()


def test_validated_leaves_out_simulated_sessions_no_person_validated(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds", 3)
    synthetic_session(tmp_path / "ds" / "sessions" / "hw", 1, provenance="recorded",
                      session_id="hw")
    ds.index()
    ensure_validation(ds.store)
    ds.store.add_person("carol", "reviewer")
    ds.store.add_answer(NewAnswer("s0", "provenance", "validated", True), "carol")
    ds.store.add_answer(NewAnswer("s1", "provenance", "validated", False), "carol")
    jobs, left_out = plan_dataset(ds, validated=True)
    assert sorted(j.session_id for j in jobs) == ["hw", "s0"]
    assert set(left_out) == {"s1", "s2"}
    assert len(plan_dataset(ds)[0]) == 4  # without --validated, everything
    folders, lo = plan_folders([tmp_path / "ds" / "sessions" / s for s in ("s0", "hw")],
                               validated=True)
    assert [j.session_id for j in folders] == ["hw"] and "s0" in lo


def test_cli_batch_of_20_with_a_corrupt_session_on_a_local_cluster(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds", 20)
    ds.close()
    (tmp_path / "ds" / "sessions" / "s7" / "telemetry.arrows").write_bytes(b"\x00" * 64)
    out = tmp_path / "out"
    cmd = [HAPTICS, "export", str(tmp_path / "ds"), "--format", "parquet", "-o", str(out),
           "--workers", "2", "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr  # a failure is an error exit
    r = json.loads(p.stdout)
    assert r["exported"] == 19 and r["skipped"] == 0 and list(r["failed"]) == ["s7"]
    assert "telemetry" in r["failed"]["s7"]
    assert sorted(x.name for x in (out / "sessions").iterdir()) == sorted(
        f"s{i}" for i in range(20) if i != 7)
    card = json.loads((out / "card.json").read_text())
    assert card["sessions"] == 19 and "s7" in card["failed"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    r = json.loads(p.stdout)
    assert r["skipped"] == 19 and r["exported"] == 0


def test_the_card_carries_agreement_over_the_exported_sessions_only(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds", 3)
    for who, role in (("alice", "annotator"), ("bob", "annotator"), ("root", "admin")):
        ds.store.add_person(who, role)
    items = [Item(f"s{i}", "needle-phases", "phase") for i in range(3)]
    ds.store.assign(items, ["alice", "bob"], "root")
    # s0, s1: both say "contact" over the same interval; s2: they disagree
    for sid, bob_says in (("s0", "contact"), ("s1", "contact"), ("s2", "approach")):
        for who, value in (("alice", "contact"), ("bob", bob_says)):
            ds.store.add_answer(NewAnswer(sid, "needle-phases", "phase", value,
                                          t0_ns=1_100_000_000, t1_ns=1_400_000_000), who)
    card_all = agreement_for_card(ds, {"s0", "s1", "s2"})["needle-phases/phase"]
    card_two = agreement_for_card(ds, {"s0", "s2"})["needle-phases/phase"]
    answers = ds.store.log_tables()[0]
    sessions = {r.session_id: r for r in ds.store.sessions()}
    tax = ds.store.taxonomy("needle-phases")
    want = key_agreement(tax, "phase", answers, sessions)
    assert card_all["alpha"] == pytest.approx(want.alpha) and card_all["alpha"] < 1.0
    assert card_all["annotators"] == ["alice", "bob"] and card_all["units"] == want.units
    assert card_two["units"] < card_all["units"]  # s1 left out of the export: out of alpha
    ds.close()
    out = tmp_path / "out"
    p = subprocess.run([HAPTICS, "export", str(tmp_path / "ds"), "--format", "csv", "-o",
                        str(out), "--local", "--json"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["agreement"]["needle-phases/phase"]["alpha"] == pytest.approx(want.alpha)
    assert "needle-phases/phase: alpha" in (out / "card.md").read_text()
