"""The lerobot export (LeRobotDataset v3.0): frames at --rate, the 1 kHz streams whole in
per-frame windows, gold labels as tasks, the camera re-timed, the dataset-level meta/ that
`finish` assembles, and read-back checks that refuse a mismatch. Sessions are synthetic in
the recorder's exact format (`haptics.bench.export.synthetic_session`)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import haptics.dataset.export as export_pkg
from haptics.bench.export import synthetic_session
from haptics.dataset.catalog import Dataset, init_dataset
from haptics.dataset.export import lerobot, runner
from haptics.dataset.export.base import SessionData
from haptics.dataset.export.runner import Job, plan_dataset, run_jobs
from haptics.dataset.store import Item, NewAnswer
from haptics.errors import ExportError
from haptics.session.manifest import StreamInfo, read_manifest, write_manifest
from haptics.session.reading import open_session
from haptics.session.streams import arrow_schema
from haptics.session.video import FRAME_INDEX, FRAMES_FILE, VIDEO_FILE, VideoWriter

ROWS = 1500  # 1.5 s at 1 kHz per stream
T0 = 1_000_000_000  # synthetic sessions start at host time 1 s
CONTACT = "needle-phases/phase: contact"
INSERTION = "needle-phases/phase: insertion"


def frames_at(fps: float) -> int:
    """Frames of a synthetic session at `fps`: the one holding the last sample, plus one."""
    return math.floor((ROWS - 1) / 1000 * fps) + 1


def make(root: Path, n: int = 3) -> Dataset:
    ds = init_dataset(root)
    for i in range(n):
        synthetic_session(root / "sessions" / f"s{i}", ROWS / 1000, seed=i, session_id=f"s{i}")
    ds.index()
    return ds


def bare_jobs(root: Path, n: int) -> list[Job]:
    """Jobs for n synthetic session folders outside a dataset (no labels)."""
    for i in range(n):
        synthetic_session(root / f"s{i}", ROWS / 1000, seed=i, session_id=f"s{i}")
    return [Job(f"s{i}", str(root / f"s{i}"), "simulated") for i in range(n)]


def add_gold(ds: Dataset) -> None:
    """s0: two phases accepted by a reviewer (gold); s1: an answer nobody reviewed."""
    for who, role in (("alice", "annotator"), ("bob", "annotator"), ("carol", "reviewer"),
                      ("root", "admin")):
        ds.store.add_person(who, role)
    ds.store.assign([Item(s, "needle-phases", "phase") for s in ("s0", "s1")],
                    ["alice", "bob"], "root")
    contact = ds.store.add_answer(NewAnswer("s0", "needle-phases", "phase", "contact",
                                            t0_ns=T0 + 100_000_000, t1_ns=T0 + 400_000_000),
                                  "alice")
    insertion = ds.store.add_answer(NewAnswer("s0", "needle-phases", "phase", "insertion",
                                              t0_ns=T0 + 400_000_000, t1_ns=T0 + 900_000_000),
                                    "alice")
    ds.store.add_answer(NewAnswer("s1", "needle-phases", "phase", "approach",
                                  t0_ns=T0, t1_ns=T0 + 500_000_000), "alice")
    for a in (contact, insertion):
        ds.store.accept(a, "carol")


def session_data(job: Job, rate: float | None) -> SessionData:
    """What runner.export_task hands a format."""
    return runner.session_data(replace(job, rate_hz=rate))


def export_direct(jobs: list[Job], out: Path, rate: float | None) -> dict[str, SessionData]:
    """write + check each session into out/sessions/<id>, then finish."""
    datas = {}
    for job in jobs:
        data = session_data(job, rate)
        folder = out / "sessions" / job.session_id
        folder.mkdir(parents=True)
        lerobot.write(data, folder)
        lerobot.check(data, folder)
        datas[job.session_id] = data
    lerobot.finish(out)
    return datas


def windows(table: pa.Table, feat: str) -> np.ndarray:
    """A window column's samples, all frames in order (samples × k): a variable-length
    window whole, a fixed (padded) one up to its frame's count."""
    rows = table.column(feat).to_pylist()
    count = lerobot.COUNTS[str(lerobot.window_stream(feat))]
    if count in table.column_names:
        rows = [r[:c] for r, c in zip(rows, table.column(count).to_pylist(), strict=True)]
    k = table.schema.field(feat).type.value_type.list_size
    return np.array([x for r in rows for x in r]).reshape(-1, k)


def data_file(out: Path, info: dict[str, object], episode: int) -> pa.Table:
    path = str(info["data_path"]).format(chunk_index=episode // 1000, file_index=episode % 1000)
    return pq.read_table(out / path)


def test_dataset_layout_windows_gold_tasks_and_stats(tmp_path: Path) -> None:
    ds = make(tmp_path / "ds")
    add_gold(ds)
    jobs, _ = plan_dataset(ds)
    out = tmp_path / "out"
    export_direct(jobs, out, None)  # default 30 fps
    n = frames_at(30)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 30
    assert info["total_episodes"] == 3 and info["total_frames"] == 3 * n
    assert info["splits"] == {"train": "0:3"} and info["video_path"] is None
    f = info["features"]
    assert f["observation.state"] == {"dtype": "float32", "shape": [6], "fps": 30,
                                      "names": ["px", "py", "pz", "vx", "vy", "vz"]}
    assert f["action"]["shape"] == [3] and f["observation.effort"]["dtype"] == "float32"
    assert f["observation.state_1khz"] == {"dtype": "float64", "shape": [34, 6], "fps": 30,
                                           "names": ["px", "py", "pz", "vx", "vy", "vz"]}
    assert f["action.sample_1khz"]["shape"] == [34, 2]
    assert f["observation.count_1khz"]["shape"] == [1]
    assert f["label.gold"]["dtype"] == "string"
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert k in f
    tasks = pq.read_table(out / "meta" / "tasks.parquet")
    task_of = dict(zip(tasks.column("task_index").to_pylist(), tasks.column("task").to_pylist(),
                       strict=True))
    assert set(task_of.values()) == {"haptics session", CONTACT, INSERTION}  # not "approach"
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]
    eps = pq.read_table(out / lerobot.EPISODES_PATH).to_pylist()
    assert [e["episode_index"] for e in eps] == [0, 1, 2]
    assert [e["haptics/session_id"] for e in eps] == ["s0", "s1", "s2"]
    assert [e["length"] for e in eps] == [n, n, n]
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in eps] == [
        (0, n), (n, 2 * n), (2 * n, 3 * n)]
    assert set(eps[0]["tasks"]) == {"haptics session", CONTACT, INSERTION}
    assert eps[1]["tasks"] == ["haptics session"]
    all_state = []
    for e, ep in enumerate(eps):
        t = data_file(out, info, e)
        assert t.num_rows == ep["length"]
        assert t.column("index").to_pylist() == list(range(e * n, (e + 1) * n))
        assert set(t.column("episode_index").to_pylist()) == {e}
        assert t.column("timestamp").to_pylist() == pytest.approx([i / 30 for i in range(n)])
        s = open_session(tmp_path / "ds" / "sessions" / f"s{e}").arrays("state")
        c = open_session(tmp_path / "ds" / "sessions" / f"s{e}").arrays("command")
        want = np.column_stack([s[k] for k in ("px", "py", "pz", "vx", "vy", "vz")])
        assert np.array_equal(windows(t, "observation.state_1khz"), want)  # every sample, exact
        assert np.array_equal(windows(t, "observation.effort_1khz"),
                              np.column_stack([s["fx"], s["fy"], s["fz"]]))
        assert np.array_equal(windows(t, "action_1khz"),
                              np.column_stack([c["fx"], c["fy"], c["fz"]]))
        samples = windows(t, "observation.sample_1khz")
        assert samples[:, 0].tolist() == s["seq"].tolist()
        assert samples[:, 1].tolist() == (s["host_time_ns"] - T0).tolist()
        # each window holds the samples of its frame's interval, no other, then padding
        counts = t.column("observation.count_1khz").to_pylist()
        assert sum(counts) == ROWS and set(counts) == {33, 34}
        for i, (w, c) in enumerate(zip(t.column("observation.sample_1khz").to_pylist(), counts,
                                       strict=True)):
            assert all(i * 10**9 <= ns * 30 < (i + 1) * 10**9 for _, ns in w[:c])
            assert w[c:] == [[-1, -1]] * (34 - c)
        short = counts.index(33)
        assert np.isnan(t.column("observation.state_1khz")[short].as_py()[33]).all()
        # the episode's own file: unpadded variable-length windows, the same samples
        own = pq.read_table(out / "sessions" / f"s{e}" / lerobot.EPISODE_FILE)
        assert pa.types.is_list(own.schema.field("observation.state_1khz").type)
        assert np.array_equal(windows(own, "observation.state_1khz"), want)
        # the frame's observation is the state at its start
        state = np.asarray(t.column("observation.state").to_pylist())
        first = [-(-i * 1000 // 30) for i in range(n)]  # ⌈i/30 s⌉ in ms
        assert np.array_equal(state, want[first].astype(np.float32))
        all_state.append(state)
    t0 = data_file(out, info, 0)
    gold = [json.loads(x) for x in t0.column("label.gold").to_pylist()]
    frame_tasks = [task_of[i] for i in t0.column("task_index").to_pylist()]
    assert gold[2] == {} and frame_tasks[2] == "haptics session"
    assert gold[3] == {"needle-phases/phase": "contact"} and frame_tasks[3] == CONTACT  # 0.1 s
    assert frame_tasks[12] == INSERTION and frame_tasks[27] == "haptics session"  # 0.4, 0.9 s
    assert data_file(out, info, 1).column("label.gold").to_pylist() == ["{}"] * n  # not gold
    stats = json.loads((out / "meta" / "stats.json").read_text())
    st = np.concatenate(all_state).astype(np.float64)
    assert stats["observation.state"]["count"] == [3 * n]
    assert stats["observation.state"]["min"] == pytest.approx(st.min(axis=0).tolist())
    assert stats["observation.state"]["mean"] == pytest.approx(st.mean(axis=0).tolist())
    assert stats["observation.state"]["std"] == pytest.approx(st.std(axis=0).tolist(), abs=1e-9)
    assert stats["index"]["max"] == [3 * n - 1] and "label.gold" not in stats
    labels = pq.read_table(out / "meta" / "haptics_labels.parquet")
    assert labels.num_rows == 3 and sum(labels.column("gold").to_pylist()) == 2
    assert labels.column("session_id").to_pylist().count("s1") == 1
    assert not list(out.glob(".lerobot-*"))


@pytest.mark.parametrize("rate", [10.0, 7.5])  # 30 (the default): the test above
def test_rate_sets_the_frame_count_and_keeps_every_sample(tmp_path: Path, rate: float) -> None:
    out = tmp_path / "out"
    export_direct(bare_jobs(tmp_path / "sessions", 1), out, rate)
    info = json.loads((out / "meta" / "info.json").read_text())
    n = frames_at(rate)
    assert info["fps"] == rate and info["total_frames"] == n
    t = data_file(out, info, 0)
    assert t.num_rows == n == {10.0: 15, 7.5: 12}[rate]
    assert t.column("frame_index").to_pylist() == list(range(n))
    counts = t.column("observation.count_1khz").to_pylist()
    assert sum(counts) == ROWS and max(counts) <= math.ceil(1000 / rate)
    assert info["features"]["observation.state_1khz"]["shape"] == [max(counts), 6]
    s = open_session(tmp_path / "sessions" / "s0").arrays("state")
    assert windows(t, "observation.state_1khz")[:, 2].tolist() == s["pz"].tolist()


def test_a_mismatch_makes_check_and_finish_refuse(tmp_path: Path) -> None:
    jobs = bare_jobs(tmp_path / "sessions", 2)
    data = session_data(jobs[0], 30)
    folder = tmp_path / "out" / "sessions" / "s0"
    folder.mkdir(parents=True)
    lerobot.write(data, folder)
    lerobot.check(data, folder)
    state = data.streams["state"]
    pz = state.column("pz").to_numpy().copy()
    pz[-1] += 1e-3  # one 1 kHz sample differs: its window and the last frame's state
    changed = state.set_column(state.schema.get_field_index("pz"), "pz", pa.array(pz))
    bad = SessionData(**{**data.__dict__, "streams": {**data.streams, "state": changed}})
    with pytest.raises(ExportError, match="read-back mismatch"):
        lerobot.check(bad, folder)
    with pytest.raises(ExportError, match="frames"):  # at another rate, another frame count
        lerobot.check(SessionData(**{**data.__dict__, "rate_hz": 10.0}), folder)
    ep = pq.read_table(folder / lerobot.EPISODE_FILE)
    pq.write_table(ep.slice(0, ep.num_rows - 1), folder / lerobot.EPISODE_FILE)
    with pytest.raises(ExportError, match="frames"):
        lerobot.check(data, folder)
    # one dataset, one fps: a session exported at another rate stops finish, nothing moved
    lerobot.write(data, _fresh(folder))
    other = session_data(jobs[1], 10)
    lerobot.write(other, _fresh(tmp_path / "out" / "sessions" / "s1"))
    with pytest.raises(ExportError, match="one --rate"):
        lerobot.finish(tmp_path / "out")
    assert not (tmp_path / "out" / "meta").exists()
    assert not list((tmp_path / "out").glob(".lerobot-*"))


def _fresh(folder: Path) -> Path:
    """`folder`, emptied (as the runner's work folders are)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def test_run_jobs_registered_runs_finish_and_skips_on_rerun(tmp_path: Path) -> None:
    assert "lerobot" in export_pkg.FORMAT_MODULES
    ds = make(tmp_path / "ds", 2)
    add_gold(ds)
    jobs, _ = plan_dataset(ds)
    for job in jobs:
        job.rate_hz = 10.0
    out = tmp_path / "out"
    results = run_jobs(jobs, "lerobot", out)
    assert [r["status"] for r in results] == ["exported", "exported"], results
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["fps"] == 10 and info["total_episodes"] == 2
    assert info["total_frames"] == 2 * frames_at(10) == sum(
        data_file(out, info, e).num_rows for e in range(2))
    tasks = pq.read_table(out / "meta" / "tasks.parquet").column("task").to_pylist()
    assert CONTACT in tasks and INSERTION in tasks
    again = run_jobs(jobs, "lerobot", out)
    assert [r["status"] for r in again] == ["skipped", "skipped"]
    assert json.loads((out / "meta" / "info.json").read_text()) == info
    assert not (out / ".partial").exists() and not list(out.glob(".lerobot-*"))


def add_camera(session: Path, frames: int, first_ns: int, fps: float = 30.0) -> list[int]:
    """A video.mp4 (64×48, frame k all grey level 8·k) and frames.arrows beside it, as the
    recorder writes them; returns each frame's capture host time."""
    w = VideoWriter(session / VIDEO_FILE, 64, 48, fps)
    times = [first_ns + round(k * 1e9 / fps) for k in range(frames)]
    for k in range(frames):
        w.add(np.full((48, 64, 3), 8 * k, dtype=np.uint8), k)
    w.close()
    index = pa.table({"seq": pa.array(range(1, frames + 1), pa.uint64()),
                      "host_time_ns": pa.array(times, pa.int64()),
                      "source_tick": pa.array(range(1, frames + 1), pa.uint64()),
                      "pts": pa.array(range(frames), pa.int64())},
                     schema=arrow_schema(FRAME_INDEX))
    with pa.OSFile(str(session / FRAMES_FILE), "wb") as sink, pa.ipc.new_stream(
        sink, index.schema
    ) as writer:
        writer.write_table(index)
    m = read_manifest(session)
    m.streams["frames"] = StreamInfo(file=FRAMES_FILE, layout="frames",
                                     layout_version=FRAME_INDEX.version, received=frames)
    m.video = w.info().model_dump()
    write_manifest(session, m)
    return times


def test_camera_is_retimed_to_the_frame_rate(tmp_path: Path) -> None:
    (job,) = bare_jobs(tmp_path / "sessions", 1)
    cam = add_camera(Path(job.path), 30, T0 + 200_000_000)
    data = session_data(job, 20.0)
    data.path = job.path  # the session folder, where videos are
    out = tmp_path / "out"
    folder = out / "sessions" / "s0"
    folder.mkdir(parents=True)
    lerobot.write(data, folder)
    lerobot.check(data, folder)
    lerobot.finish(out)
    info = json.loads((out / "meta" / "info.json").read_text())
    n = frames_at(20)
    v = info["features"][lerobot.VIDEO_KEY]
    assert v["dtype"] == "video" and v["shape"] == [48, 64, 3]
    path = out / info["video_path"].format(video_key=lerobot.VIDEO_KEY, chunk_index=0,
                                           file_index=0)
    with av.open(str(path)) as c:
        decoded = [(float(f.pts * f.time_base), int(f.to_ndarray(format="rgb24")[..., 0].mean()))
                   for f in c.decode(video=0)]
    assert len(decoded) == n
    for i, (t, grey) in enumerate(decoded):
        assert abs(t - i / 20) < 1e-4
        frame_ns = T0 + i * 50_000_000
        k = max([j for j, c_ns in enumerate(cam) if c_ns <= frame_ns], default=0)
        assert abs(grey - 8 * k) <= 3, (i, grey, k)
    ep = pq.read_table(out / lerobot.EPISODES_PATH).to_pylist()[0]
    assert ep[f"videos/{lerobot.VIDEO_KEY}/to_timestamp"] == pytest.approx(n / 20)
    stats = json.loads((out / "meta" / "stats.json").read_text())[lerobot.VIDEO_KEY]
    assert len(stats["mean"]) == 3 and stats["max"][0] == [[pytest.approx(232 / 255, abs=0.02)]]
