"""The labeling walk-through of the README, with the real CLI on real sessions, on SQLite and
on PostgreSQL: three simulated needle sessions, pre-labels, two blind annotators who
disagree, a reviewer who accepts, corrects and sends back; alpha equals the `krippendorff`
package's on the same data; every answer is still in the log after review."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest

from tests.integration.conftest import haptics
from tests.pg_server import fresh_postgres_url, postgres_server

__all__ = ["postgres_server"]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PHASES = ["approach", "contact", "insertion", "puncture", "retraction"]
# (t0 s, t1 s, phase) per annotator; bob disagrees on boundaries and, in session 1, a label
ALICE = [
    (0.0, 0.5, "approach"),
    (0.5, 0.8, "contact"),
    (0.8, 1.5, "insertion"),
    (1.5, 2.0, "retraction"),
]
BOB = [
    [
        (0.0, 0.6, "approach"),
        (0.6, 0.8, "contact"),
        (0.8, 1.5, "insertion"),
        (1.5, 2.0, "retraction"),
    ],
    [
        (0.0, 0.5, "approach"),
        (0.5, 1.0, "contact"),
        (1.0, 1.4, "puncture"),
        (1.4, 2.0, "retraction"),
    ],
    [
        (0.0, 0.5, "approach"),
        (0.5, 0.8, "contact"),
        (0.8, 1.6, "insertion"),
        (1.6, 2.0, "retraction"),
    ],
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 2 s simulated needle sessions, recorded once for both back-ends."""
    root = tmp_path_factory.mktemp("recorded")
    for seed in range(3):
        r = haptics(
            "run",
            "--scene",
            "needle",
            "--duration",
            "2",
            "--quiet",
            "--seed",
            str(seed),
            "--record",
            str(root),
            cwd=root,
            timeout=180,
        )
        assert r.returncode == 0, r.stderr
    assert len([p for p in root.iterdir() if (p / "manifest.json").exists()]) == 3
    return root


def ok(*args: str, cwd: Path, stdin: str | None = None) -> Any:
    """Run `haptics ARGS --json`, require success, return the parsed JSON."""
    r = subprocess.run(
        [str(Path(__import__("sys").executable).with_name("haptics")), *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        input=stdin,
    )
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return json.loads(r.stdout)


def expected_alpha(spans: list[tuple[int, int]]) -> float:
    """Alpha of alice and bob on the 10 ms grid, built here from the intervals above."""
    rows: list[list[float]] = [[], []]
    for (start, end), bob in zip(spans, BOB, strict=True):
        n = math.ceil((end - start) / 10_000_000)
        centres = start + 5_000_000 + 10_000_000 * np.arange(n)
        for r, intervals in enumerate((ALICE, bob)):
            row = np.full(n, np.nan)
            for t0, t1, phase in intervals:
                a, b = start + round(t0 * 1e9), start + round(t1 * 1e9)
                row[(centres >= a) & (centres < b)] = PHASES.index(phase)
            rows[r] += row.tolist()
    return float(
        krippendorff.alpha(reliability_data=np.array(rows), level_of_measurement="nominal")
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_labeling_walkthrough(
    backend: str, recorded: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ds = tmp_path / "needle-study"
    db = (
        []
        if backend == "sqlite"
        else ["--db", fresh_postgres_url(request.getfixturevalue("postgres_server"))]
    )
    init = ok("dataset", "init", str(ds), *db, cwd=tmp_path)
    assert init["revision"] == "0001"
    for s in recorded.iterdir():
        shutil.copytree(s, ds / "sessions" / s.name)
    catalog = ok("dataset", "index", str(ds), cwd=tmp_path)["sessions"]
    assert len(catalog) == 3 and {c["provenance"] for c in catalog} == {"simulated"}
    catalog.sort(key=lambda c: c["start_ns"])
    sids = [c["session_id"] for c in catalog]
    spans = [(c["start_ns"], c["end_ns"]) for c in catalog]
    assert all(c["duration_s"] > 2.0 for c in catalog)

    written = ok("labels", "prelabel", str(ds), cwd=tmp_path)["written"]
    assert written["ground-truth"] > 0 and written["force"] > 0
    assert ok("labels", "prelabel", str(ds), cwd=tmp_path)["written"] == {
        "ground-truth": 0,
        "force": 0,
    }  # idempotent
    for person, role in [("alice", "annotator"), ("bob", "annotator"), ("carol", "reviewer")]:
        ok("labels", "people", "add", str(ds), person, "--role", role, cwd=tmp_path)
    assigned = ok(
        "labels",
        "assign",
        str(ds),
        "--as",
        "carol",
        "--annotators",
        "alice,bob",
        "--taxonomy",
        "needle-phases",
        cwd=tmp_path,
    )["assigned"]
    assert len(assigned) == 6
    assert len(ok("labels", "queue", str(ds), "--as", "bob", cwd=tmp_path)) == 3

    # alice imports her answers from a file; bob adds his one by one
    lines = [
        json.dumps(
            {
                "session_id": sid,
                "taxonomy": "needle-phases",
                "key": "phase",
                "value": v,
                "t0_s": t0,
                "t1_s": t1,
            }
        )
        for sid in sids
        for t0, t1, v in ALICE
    ]
    (tmp_path / "alice.jsonl").write_text("\n".join(lines) + "\n")
    alice_ids = ok(
        "labels", "import", str(ds), str(tmp_path / "alice.jsonl"), "--as", "alice", cwd=tmp_path
    )["ids"]
    assert len(alice_ids) == 12

    # blind: before answering, nothing bob can call shows alice's answers
    seen = ok("labels", "show", str(ds), "--as", "bob", cwd=tmp_path)["answers"]
    assert seen and {a["role"] for a in seen} == {"model"}
    assert "alice" not in {
        a["annotator_id"] for a in ok("labels", "log", str(ds), "--as", "bob", cwd=tmp_path)
    }

    # bad input: a clear error and nothing written
    before = len(ok("labels", "log", str(ds), "--as", "carol", cwd=tmp_path))
    for bad, message in [
        (["--value", "approach", "--t0", "1.5", "--t1", "9.0"], "outside"),
        (["--value", "approach", "--t0", "1.5", "--t1", "1.0"], "reversed"),
        (["--value", "sideways", "--t0", "0", "--t1", "1"], "not a value"),
    ]:
        r = haptics(
            "labels",
            "add",
            str(ds),
            "--as",
            "bob",
            "--session",
            sids[0],
            "--taxonomy",
            "needle-phases",
            "--key",
            "phase",
            *bad,
            cwd=tmp_path,
        )
        assert r.returncode == 2 and message in r.stderr, r.stderr
    r = haptics(
        "labels",
        "add",
        str(ds),
        "--as",
        "mallory",
        "--session",
        sids[0],
        "--taxonomy",
        "needle-phases",
        "--key",
        "phase",
        "--value",
        "approach",
        "--t0",
        "0",
        "--t1",
        "1",
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "unknown annotator" in r.stderr
    assert len(ok("labels", "log", str(ds), "--as", "carol", cwd=tmp_path)) == before

    bob_ids: list[list[int]] = []
    for sid, intervals in zip(sids, BOB, strict=True):
        bob_ids.append(
            [
                ok(
                    "labels",
                    "add",
                    str(ds),
                    "--as",
                    "bob",
                    "--session",
                    sid,
                    "--taxonomy",
                    "needle-phases",
                    "--key",
                    "phase",
                    "--value",
                    v,
                    "--t0",
                    str(t0),
                    "--t1",
                    str(t1),
                    cwd=tmp_path,
                )["id"]
                for t0, t1, v in intervals
            ]
        )
    seen = ok("labels", "show", str(ds), "--as", "bob", "--session", sids[0], cwd=tmp_path)
    assert "alice" in {a["annotator_id"] for a in seen["answers"]}  # answered: unblinded

    stats = ok("labels", "stats", str(ds), "--as", "carol", cwd=tmp_path)
    (phase,) = [k for k in stats["keys"] if k["key"] == "phase"]
    assert phase["annotators"] == ["alice", "bob"]
    assert phase["alpha"] == pytest.approx(expected_alpha(spans), rel=1e-9)
    assert phase["pairwise"][0]["alpha"] == pytest.approx(expected_alpha(spans), rel=1e-9)
    assert phase["low_agreement_windows"] >= 1

    queue = ok("labels", "queue", str(ds), "--as", "carol", cwd=tmp_path)
    assert queue[0]["item"] == {
        "session_id": sids[1],
        "taxonomy": "needle-phases",
        "key": "phase",
    }  # the worst disagreement first
    assert any("low agreement" in why for why in queue[0]["reasons"])

    # review: accept in the terminal, correct and send back from flags
    out = ok(
        "labels",
        "review",
        str(ds),
        "--as",
        "carol",
        cwd=tmp_path,
        stdin=f"a {alice_ids[0]} matches the force trace\nq\n",
    )
    assert [d["decision"] for d in out["decisions"]] == ["accepted"]
    corr = ok(
        "labels",
        "review",
        str(ds),
        "--as",
        "carol",
        "--correct",
        str(bob_ids[1][2]),
        "--value",
        "insertion",
        "--rationale",
        "no force drop: still inserting",
        cwd=tmp_path,
    )
    back = ok(
        "labels",
        "review",
        str(ds),
        "--as",
        "carol",
        "--send-back",
        f"{sids[2]}/needle-phases/phase",
        "--annotator",
        "bob",
        "--rationale",
        "retraction starts at 1.5 s",
        cwd=tmp_path,
    )
    assert back["decision"] == "rework"
    r = haptics(
        "labels", "review", str(ds), "--as", "alice", "--accept", str(bob_ids[0][0]), cwd=tmp_path
    )
    assert r.returncode == 2 and "only reviewers" in r.stderr
    bob_queue = ok("labels", "queue", str(ds), "--as", "bob", cwd=tmp_path)
    assert [q["item"]["session_id"] for q in bob_queue] == [sids[2]]
    assert "retraction starts at 1.5 s" in bob_queue[0]["reasons"]

    shown = ok("labels", "show", str(ds), "--as", "carol", cwd=tmp_path)
    gold = {a["id"]: a for a in shown["gold"]}
    assert alice_ids[0] in gold and corr["answer_id"] in gold
    assert gold[corr["answer_id"]]["value"] == "insertion"
    assert gold[corr["answer_id"]]["supersedes"] == bob_ids[1][2]

    # nothing anyone said is gone: every answer is in the log, with three reviews
    log = ok("labels", "log", str(ds), "--as", "carol", cwd=tmp_path)
    answer_ids = {e["id"] for e in log if e["kind"] == "answer"}
    every = set(alice_ids) | {i for ids in bob_ids for i in ids} | {corr["answer_id"]}
    assert every <= answer_ids
    assert len(answer_ids) == sum(written.values()) + len(every)
    assert [e["decision"] for e in log if e["kind"] == "review"] == [
        "accepted",
        "corrected",
        "rework",
    ]
    # agreement still counts bob's own answer, not the reviewer's correction
    again = ok("labels", "stats", str(ds), "--as", "carol", cwd=tmp_path)
    (phase2,) = [k for k in again["keys"] if k["key"] == "phase"]
    assert phase2["alpha"] == pytest.approx(phase["alpha"], rel=1e-12)
