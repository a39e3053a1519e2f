"""`jigsaws`: every session as a trial in the layout of JIGSAWS (the JHU-ISI Gesture and Skill
Assessment Working Set, Gao et al. 2014), which surgical gesture and skill models read.

```
DIR/
  meta_file_<Task>.txt                  one line per trial of the task (written by `finish`)
  sessions/<id>/                        the trial is called by its session id
    kinematics/AllGestures/<id>.txt     whitespace-separated numbers, one line per frame
    kinematics/columns.txt              the name of each column, one a line
    transcriptions/<id>.txt             `start_frame end_frame label`: the reviewed labels
    transcriptions_by_annotator/<who>/<id>.txt   the same from each annotator's own answers
    meta_file_<Task>.txt                this trial's line of the task's meta file
```

Open it as JIGSAWS is opened (it has no library; its loaders use numpy):
`numpy.loadtxt("DIR/sessions/<id>/kinematics/AllGestures/<id>.txt")` gives the frames × 25
array; transcripts and meta files are plain text (`line.split()`).

Kinematics. Frame k (line k, counted from 1) is the session at `start + (k - 1) / rate`,
`start` being its first host time over all streams (the label store's session start, so label
times and frames share one origin), `rate` the export's `--rate` (30 Hz, JIGSAWS', when not
given); frames run up to the session's last host time: floor((last - first) × rate) + 1
lines, D × rate for D seconds of samples. Each frame holds the latest device sample at or
before its time (the first sample for a frame before it) and the latest force command at or
before it (zero before the first). Columns 1–19 are one JIGSAWS manipulator block, in
JIGSAWS' order, for the one device we have:

| columns | JIGSAWS                       | here                                              |
| ------- | ----------------------------- | ------------------------------------------------- |
| 1–3     | tooltip x, y, z               | device tool position px, py, pz (m)               |
| 4–12    | tooltip rotation matrix R     | identity, row by row: no orientation is sensed    |
| 13–15   | tooltip linear velocity       | vx, vy, vz (m/s)                                  |
| 16–18   | tooltip rotational velocity   | 0: no orientation is sensed                       |
| 19      | gripper angle                 | 0: the device has no gripper                      |

then, beyond JIGSAWS' block, 20–22 the measured force fx, fy, fz (N) and 23–25 the commanded
force fx, fy, fz (N). JIGSAWS files hold four such blocks (76 columns: master left and right,
slave left and right); these hold one, never padded with made-up manipulators.

Transcriptions. `transcriptions/<id>.txt` holds the gold interval labels (answers a reviewer
accepted or corrected), one line each, sorted by start: `start_frame end_frame label`, frames
counted from 1 and both ends included as in JIGSAWS, so an interval [t0, t1) covers frames
round(t0 × rate) + 1 to round(t1 × rate) (times from `start`), and the label is the answer's
value (spaces as `_`). A session without gold intervals has no transcript, as JIGSAWS trials
without gestures have none. `transcriptions_by_annotator/<who>/<id>.txt` is one such transcript
per annotator (role annotator) from their own current answers: an answer they superseded
themselves is left out, a reviewer's correction is not theirs. JIGSAWS ships only the consensus.

Meta file. `meta_file_<Task>.txt` has one tab-separated line per trial, `trial`, skill level
(N, I or E), GRS total and JIGSAWS' six GRS items (respect for tissue, suture/needle handling,
time and motion, flow of operation, overall performance, quality of final product), from the
`skill-ratings` taxonomy: the gold answer of a key, else the lower median of the annotators'
current votes; `-` where there is none. Suture/needle handling is its `instrument_handling`,
quality of final product has no key (always `-`), and the GRS total sums the items present.
The skill level comes from a `skill-ratings` key `skill_level` (novice/intermediate/expert)
where a taxonomy has one: gold, else the annotators' vote when unanimous, else `-`. `<Task>`
is the session's scene (Palpation, Needle_Insertion, Cutting; Unknown without a scene).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from haptics.dataset.export.base import Format, SessionData, expect_equal, sample_rows
from haptics.dataset.export.tables import time_column
from haptics.errors import ExportError

DEFAULT_RATE_HZ = 30.0  # JIGSAWS' kinematics rate
ALL_GESTURES = Path("kinematics") / "AllGestures"
COLUMNS_FILE = Path("kinematics") / "columns.txt"
TRANSCRIPTIONS = Path("transcriptions")
BY_ANNOTATOR = Path("transcriptions_by_annotator")
META_PREFIX = "meta_file_"
NONE = "-"
COLUMNS = (
    "tooltip_x_m", "tooltip_y_m", "tooltip_z_m",
    "R11", "R12", "R13", "R21", "R22", "R23", "R31", "R32", "R33",
    "tooltip_vx_m_s", "tooltip_vy_m_s", "tooltip_vz_m_s",
    "tooltip_rot_vx_rad_s", "tooltip_rot_vy_rad_s", "tooltip_rot_vz_rad_s",
    "gripper_angle_rad",
    "force_measured_x_n", "force_measured_y_n", "force_measured_z_n",
    "force_commanded_x_n", "force_commanded_y_n", "force_commanded_z_n",
)
SKILL_TAXONOMY = "skill-ratings"
# JIGSAWS' six GRS items in meta-file order, each with the skill-ratings key that rates it
GRS_KEYS: tuple[str | None, ...] = (
    "respect_for_tissue", "instrument_handling", "time_and_motion", "flow_of_operation",
    "overall_performance", None,  # quality of final product: no key
)
LEVEL_KEY = "skill_level"
LEVELS = {"novice": "N", "intermediate": "I", "expert": "E", "n": "N", "i": "I", "e": "E"}
TASKS = {"palpation": "Palpation", "needle": "Needle_Insertion", "cutting": "Cutting"}
Transcript = list[tuple[int, int, str]]


# -- the session on the kinematics clock ---------------------------------------------------
def rate_of(data: SessionData) -> float:
    """The kinematics rate (Hz): `--rate`, or JIGSAWS' 30 Hz. Raises ExportError if not > 0."""
    rate = DEFAULT_RATE_HZ if data.rate_hz is None else float(data.rate_hz)
    if not rate > 0:
        raise ExportError(f"the kinematics rate must be above 0 Hz, got {rate}; give --rate")
    return rate


def task_of(manifest_json: str) -> str:
    """The JIGSAWS task name of a session, from its manifest's scene."""
    scene = json.loads(manifest_json).get("scene", {}).get("scene")
    if not scene:
        return "Unknown"
    return TASKS.get(str(scene), re.sub(r"\W+", "_", str(scene)).title())


def session_span(data: SessionData) -> tuple[int, int]:
    """First and last host time (ns) over every stream. Raises ExportError without samples."""
    starts, ends = [], []
    for name, table in data.streams.items():
        col = time_column(name)
        if table.num_rows and col in table.column_names:
            t = table.column(col).to_numpy()
            starts.append(int(t.min()))
            ends.append(int(t.max()))
    if not starts or "state" not in data.streams or not data.streams["state"].num_rows:
        raise ExportError(f"session {data.session_id} has no device samples to export")
    return min(starts), max(ends)


def frame_times(start_ns: int, end_ns: int, rate_hz: float) -> np.ndarray:
    """Host time (ns) of every frame: from `start_ns` every 1/rate up to `end_ns`."""
    n = int(np.floor((end_ns - start_ns) * rate_hz / 1e9 + 1e-9)) + 1
    return start_ns + np.round(np.arange(n) * (1e9 / rate_hz)).astype(np.int64)


def held(sample_ns: np.ndarray, at_ns: np.ndarray) -> np.ndarray:
    """Index of the latest sample at or before each time (-1 where there is none yet)."""
    return np.searchsorted(sample_ns, at_ns, side="right") - 1


def _columns(data: SessionData, stream: str, names: Sequence[str]) -> np.ndarray:
    t = data.streams[stream]
    return np.column_stack([t.column(c).to_numpy().astype(np.float64) for c in names])


def kinematics(data: SessionData) -> np.ndarray:
    """The frames × 25 kinematics array (module docstring)."""
    start, end = session_span(data)
    at = frame_times(start, end, rate_of(data))
    st = data.streams["state"].column("host_time_ns").to_numpy()
    i = np.clip(held(st, at), 0, None)
    pos = _columns(data, "state", ("px", "py", "pz"))[i]
    vel = _columns(data, "state", ("vx", "vy", "vz"))[i]
    force = _columns(data, "state", ("fx", "fy", "fz"))[i]
    command = np.zeros_like(force)
    cmd = data.streams.get("command")
    if cmd is not None and cmd.num_rows:
        j = held(cmd.column("host_time_ns").to_numpy(), at)
        have = j >= 0
        command[have] = _columns(data, "command", ("fx", "fy", "fz"))[j[have]]
    n = len(at)
    rotation = np.tile(np.eye(3).ravel(), (n, 1))
    cols = [pos, rotation, vel, np.zeros((n, 3)), np.zeros((n, 1)), force, command]
    return np.hstack(cols) + 0.0  # + 0.0: no "-0" in the text


# -- labels ----------------------------------------------------------------------------------
def _value(row: dict[str, Any]) -> Any:
    return json.loads(row["value"]) if row["value"] is not None else None


def current_votes(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Annotators' answers (role annotator) that their own later answer did not supersede."""
    rows = list(rows)
    author = {r["id"]: r["annotator_id"] for r in rows}
    revised = {r["supersedes"] for r in rows
               if r["supersedes"] is not None and author.get(r["supersedes"]) == r["annotator_id"]}
    return [r for r in rows if r["role"] == "annotator" and r["id"] not in revised]


def is_interval(row: dict[str, Any]) -> bool:
    """A label with both a start and an end time."""
    return row["t0_ns"] is not None and row["t1_ns"] is not None


def label_token(value: Any) -> str:
    """A label as one whitespace-free token, as JIGSAWS' gesture names are."""
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"\s+", "_", text.strip()) or NONE


def frame_offset(t_ns: int, start_ns: int, rate_hz: float) -> int:
    """Frames from `start_ns` to `t_ns` at `rate_hz`, to the nearest (halves up)."""
    return math.floor((t_ns - start_ns) * rate_hz / 1e9 + 0.5)


def transcript(rows: Iterable[dict[str, Any]], start_ns: int, rate_hz: float,
               n_frames: int) -> Transcript:
    """(start_frame, end_frame, label) per interval, 1-based and inclusive, sorted."""
    out = []
    for r in rows:
        if not is_interval(r):
            continue
        first = min(max(frame_offset(r["t0_ns"], start_ns, rate_hz) + 1, 1), n_frames)
        last = frame_offset(r["t1_ns"], start_ns, rate_hz)
        out.append((first, min(max(last, first), n_frames), label_token(_value(r))))
    return sorted(out)


def gold_transcript(labels: list[dict[str, Any]], start_ns: int, rate_hz: float,
                    n_frames: int) -> Transcript:
    """The transcript of the gold (reviewed) interval labels."""
    return transcript((r for r in labels if r["gold"]), start_ns, rate_hz, n_frames)


def annotator_transcripts(labels: list[dict[str, Any]], start_ns: int, rate_hz: float,
                          n_frames: int) -> dict[str, Transcript]:
    """Each annotator's transcript from their current interval answers (folder name → lines)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in current_votes(labels):
        if is_interval(r):
            by.setdefault(r["annotator_id"], []).append(r)
    return {re.sub(r"[^\w.-]", "_", who): transcript(rows, start_ns, rate_hz, n_frames)
            for who, rows in sorted(by.items())}


def key_values(labels: list[dict[str, Any]], taxonomy: str, key: str) -> list[Any]:
    """The word on a session-level key: its gold answer(s), else annotators' current votes."""
    rows = [r for r in labels if r["taxonomy"] == taxonomy and r["key"] == key
            and r["t0_ns"] is None]
    gold = [r for r in rows if r["gold"]]
    return [_value(r) for r in (gold or current_votes(rows))]


def grs_item(values: list[Any]) -> int | None:
    """One GRS item's score: the lower median of the integer ratings given, if any."""
    scores = [int(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return int(statistics.median_low(scores)) if scores else None


def skill_level(values: list[Any]) -> str:
    """N, I or E where every value names the same level, else `-`."""
    levels = {LEVELS.get(str(v).strip().lower()) for v in values}
    if len(levels) != 1:
        return NONE
    return levels.pop() or NONE


def meta_fields(trial: str, labels: list[dict[str, Any]]) -> list[str]:
    """The meta-file fields of one trial: name, skill level, GRS total, six GRS items."""
    items = [grs_item(key_values(labels, SKILL_TAXONOMY, k)) if k else None for k in GRS_KEYS]
    present = [s for s in items if s is not None]
    total = str(sum(present)) if present else NONE
    level = skill_level(key_values(labels, SKILL_TAXONOMY, LEVEL_KEY))
    return [trial, level, total, *(NONE if s is None else str(s) for s in items)]


# -- text files ------------------------------------------------------------------------------
def format_transcript(lines: Transcript) -> str:
    """JIGSAWS transcript text: `start end label` a line."""
    return "".join(f"{a} {b} {label}\n" for a, b, label in lines)


def parse_transcript(text: str) -> Transcript:
    """A transcript read back; raises ExportError for a line that is not `int int label`."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise ExportError(f"transcript line {n} is not `start end label`: {line!r}")
        out.append((int(parts[0]), int(parts[1]), parts[2]))
    return out


def _meta_name(task: str) -> str:
    return f"{META_PREFIX}{task}.txt"


# -- the format ------------------------------------------------------------------------------
def _plan(data: SessionData) -> dict[Path, str]:
    """Every text file of a session but the kinematics (relative path → content)."""
    start, end = session_span(data)
    rate = rate_of(data)
    n = len(frame_times(start, end, rate))
    labels = data.labels.to_pylist()
    trial = f"{data.session_id}.txt"
    files = {COLUMNS_FILE: "\n".join(COLUMNS) + "\n",
             Path(_meta_name(task_of(data.manifest_json))):
                 "\t".join(meta_fields(data.session_id, labels)) + "\n"}
    gold = gold_transcript(labels, start, rate, n)
    if gold:
        files[TRANSCRIPTIONS / trial] = format_transcript(gold)
    for who, lines in annotator_transcripts(labels, start, rate, n).items():
        files[BY_ANNOTATOR / who / trial] = format_transcript(lines)
    return files


def write(data: SessionData, out: Path) -> None:
    """The session's kinematics, transcripts and meta line (module docstring)."""
    path = out / ALL_GESTURES / f"{data.session_id}.txt"
    path.parent.mkdir(parents=True)
    np.savetxt(path, kinematics(data), fmt="%.9g")
    for rel, text in _plan(data).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")


def _files_under(folder: Path) -> set[Path]:
    """Every file under `folder` (relative), hidden ones (the runner's marker) left out."""
    return {p.relative_to(folder) for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def check(data: SessionData, out: Path) -> None:
    """Read everything back as JIGSAWS loaders do (numpy.loadtxt, split lines): frame count
    and sampled frames of the kinematics, every transcript and the meta line."""
    want = kinematics(data)
    got = np.loadtxt(out / ALL_GESTURES / f"{data.session_id}.txt", ndmin=2)
    expect_equal("kinematics shape", got.shape, want.shape)
    for i in sample_rows(want.shape[0]):
        for c, name in enumerate(COLUMNS):
            expect_equal(f"kinematics frame {i + 1} {name}", float(got[i, c]), float(want[i, c]))
    plan = _plan(data)
    expect_equal("files", _files_under(out) - {ALL_GESTURES / f"{data.session_id}.txt"},
                 set(plan))
    for rel, text in plan.items():
        back = (out / rel).read_text(encoding="utf-8")
        if rel.suffix == ".txt" and rel.parts[0] in (TRANSCRIPTIONS.name, BY_ANNOTATOR.name):
            expect_equal(str(rel), parse_transcript(back), parse_transcript(text))
        elif rel.name.startswith(META_PREFIX):
            expect_equal(str(rel), back.rstrip("\n").split("\t"), text.rstrip("\n").split("\t"))
        else:
            expect_equal(str(rel), back.split(), text.split())


def meta_lines(out: Path) -> dict[str, list[str]]:
    """Task → its trials' meta lines, from every exported session under `out/sessions`."""
    tasks: dict[str, list[str]] = {}
    for p in sorted((out / "sessions").glob(f"*/{META_PREFIX}*.txt")):
        task = p.stem[len(META_PREFIX):]
        tasks.setdefault(task, []).append(p.read_text(encoding="utf-8").rstrip("\n"))
    return tasks


def finish(out: Path) -> None:
    """`meta_file_<Task>.txt` per task over every trial now exported, each written aside and
    moved into place; stale ones of tasks with no trial left are removed; all read back."""
    tasks = meta_lines(out)
    for task, lines in tasks.items():
        tmp = out / f".{_meta_name(task)}.tmp"
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        tmp.replace(out / _meta_name(task))
    for p in out.glob(f"{META_PREFIX}*.txt"):
        if p.stem[len(META_PREFIX):] not in tasks:
            p.unlink()
    for task, lines in tasks.items():
        back = (out / _meta_name(task)).read_text(encoding="utf-8").splitlines()
        expect_equal(_meta_name(task), [b.split("\t") for b in back],
                     [line.split("\t") for line in lines])


FORMAT = Format(
    name="jigsaws",
    version=1,
    write=write,
    check=check,
    finish=finish,
    layout="JIGSAWS: sessions/<id>/kinematics/AllGestures/<id>.txt (one manipulator's 19 "
    "columns + measured and commanded force at --rate, default 30 Hz; kinematics/columns.txt), "
    "transcriptions/<id>.txt (gold intervals), transcriptions_by_annotator/<who>/<id>.txt, "
    "meta_file_<Task>.txt (skill level, GRS)",
    open_with="numpy.loadtxt('DIR/sessions/<id>/kinematics/AllGestures/<id>.txt') as JIGSAWS "
    "loaders do; transcripts (`start end label`) and meta files (tab-separated) are plain text",
)
