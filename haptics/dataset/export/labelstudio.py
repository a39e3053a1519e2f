"""`labelstudio`: Label Studio time-series tasks, with model answers as predictions.

```
DIR/
  tasks.json              every task (Label Studio's import JSON), written by finish()
  label_config.xml        the project's labeling config, written by finish()
  sessions/<id>/
    signals.csv           time (s since the session's origin) + channels, ≤ 100 Hz
    signals.parquet       the same channels at the full rate, host_time_ns beside time
    task.json             this session's task
```
Channels: tool position `px py pz` (m), measured force `fx fy fz` (N) from `state`, and the
commanded force `cmd_fx cmd_fy cmd_fz` (N; the latest command at or before each sample, 0
before the first). The CSV is always decimated to at most 100 Hz (10:1 at 1 kHz) by block
means, time included, so a block's row sits at its centre: an hour stays a 360,000-row file
Label Studio charts smoothly; labels are seconds on the session clock, independent of rows.

A task's `data.csv` is `/data/local-files/?d=sessions/<id>/signals.csv`: serve DIR as Label
Studio's local files root. Conventions (names, times, region ids) are in
`haptics.dataset.labelstudio`, shared with `haptics labels import --from labelstudio`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from haptics.dataset import labelstudio as ls
from haptics.dataset.export.base import Format, SessionData, expect_equal, sample_rows
from haptics.dataset.export.tables import time_column
from haptics.dataset.taxonomy import builtin_taxonomies, parse_taxonomy
from haptics.errors import ExportError

CSV_FILE = "signals.csv"
PARQUET_FILE = "signals.parquet"
TASK_FILE = "task.json"
TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"
CSV_MAX_HZ = 100.0
# CSV column → (stream, column, units)
CHANNELS: dict[str, tuple[str, str, str]] = {
    "px": ("state", "px", "m"),
    "py": ("state", "py", "m"),
    "pz": ("state", "pz", "m"),
    "fx": ("state", "fx", "N"),
    "fy": ("state", "fy", "N"),
    "fz": ("state", "fz", "N"),
    "cmd_fx": ("command", "fx", "N"),
    "cmd_fy": ("command", "fy", "N"),
    "cmd_fz": ("command", "fz", "N"),
}
SDK_PARSERS = (  # label-studio-sdk's parse_config, where its versions keep it
    "label_studio_sdk._extensions.label_studio_tools.core.label_config",
    "label_studio_sdk.utils",
    "label_studio_tools.core.label_config",
)


# -- signals -----------------------------------------------------------------------------------
def origin_ns(data: SessionData) -> int:
    """The session's time origin: its first host time over every stream (the catalog's
    start_ns), 0 for a session without samples."""
    starts = [int(np.min(t.column(time_column(n)).to_numpy()))
              for n, t in data.streams.items()
              if t.num_rows and time_column(n) in t.column_names]
    return min(starts) if starts else 0


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(), dtype=np.float64)


def signals(data: SessionData) -> pa.Table:
    """time (s), host_time_ns and every channel at the state stream's full rate."""
    if "state" not in data.streams:
        raise ExportError(f"session {data.session_id} has no state stream; nothing to chart")
    state = data.streams["state"]
    st = state.column("host_time_ns").to_numpy().astype(np.int64)
    cols: dict[str, Any] = {
        ls.TIME_COLUMN: (st - origin_ns(data)) / 1e9,
        "host_time_ns": st,
    }
    cmd = data.streams.get("command")
    idx = np.full(len(st), -1)
    if cmd is not None and cmd.num_rows:
        idx = np.searchsorted(cmd.column("host_time_ns").to_numpy(), st, side="right") - 1
    for name, (stream, col, _units) in CHANNELS.items():
        if stream == "state":
            cols[name] = _column(state, col)
        else:
            values = np.zeros(len(st))
            if cmd is not None and cmd.num_rows:
                src = _column(cmd, col)
                values[idx >= 0] = src[idx[idx >= 0]]
            cols[name] = values
    return pa.table(cols)


def decimation(host_time_ns: np.ndarray) -> int:
    """Samples per CSV row: the smallest step that keeps the CSV at or under 100 Hz."""
    if len(host_time_ns) < 2:
        return 1
    dt = float(np.median(np.diff(host_time_ns)))
    if dt <= 0:
        return 1
    return max(1, int(np.ceil(1e9 / dt / CSV_MAX_HZ - 1e-9)))


def decimated(full: pa.Table) -> pa.Table:
    """The CSV's table: time and channels, block means of `decimation()` samples."""
    step = decimation(full.column("host_time_ns").to_numpy())
    n = full.num_rows
    names = [ls.TIME_COLUMN, *CHANNELS]
    if step == 1 or n == 0:
        return full.select(names)
    starts = np.arange(0, n, step)
    counts = np.diff(np.append(starts, n))
    return pa.table({c: np.add.reduceat(_column(full, c), starts) / counts for c in names})


# -- writing -----------------------------------------------------------------------------------
def csv_url(session_id: str) -> str:
    """The task's `data.csv`: the CSV under Label Studio's local files root (DIR)."""
    return f"/data/local-files/?d=sessions/{session_id}/{CSV_FILE}"


def task(data: SessionData) -> dict[str, Any]:
    """This session's task (labels read from the export's label table)."""
    return ls.build_task(data.session_id, origin_ns(data), csv_url(data.session_id),
                         data.labels.to_pylist())


def write(data: SessionData, out: Path) -> None:
    """`signals.csv` (≤ 100 Hz), `signals.parquet` (full rate), `task.json`."""
    full = signals(data)
    pq.write_table(full, out / PARQUET_FILE, compression="zstd", use_dictionary=False)
    pcsv.write_csv(decimated(full), out / CSV_FILE)
    (out / TASK_FILE).write_text(json.dumps(task(data), indent=1), encoding="utf-8")


def _check_table(what: str, back: pa.Table, want: pa.Table) -> None:
    expect_equal(f"{what} rows", back.num_rows, want.num_rows)
    expect_equal(f"{what} columns", back.column_names, want.column_names)
    for col in want.column_names:
        for i in sample_rows(want.num_rows):
            expect_equal(f"{what}.{col}[{i}]", back.column(col)[i].as_py(),
                         want.column(col)[i].as_py())


def _check_regions(what: str, results: Sequence[Mapping[str, Any]],
                   rows: Sequence[Mapping[str, Any]], origin: int) -> None:
    """Each region back on the session clock is its answer: times (exact ns), label."""
    expect_equal(f"{what} regions", len(results), len(rows))
    by_id = {f"{ls.REGION_PREFIX}{r['id']}": r for r in rows}
    for res in results:
        row = by_id.get(str(res.get("id")))
        if row is None:
            expect_equal(f"{what} region id", res.get("id"), sorted(by_id))
            return
        v = res["value"]
        t1 = None if v["instant"] else ls.to_ns(v["end"], origin)
        # as a tuple: compared exactly (a number alone is compared to a tolerance)
        expect_equal(f"{what} {res['id']} (t0_ns, t1_ns)", (ls.to_ns(v["start"], origin), t1),
                     (row["t0_ns"], row["t1_ns"]))
        expect_equal(f"{what} {res['id']} label", v["timeserieslabels"],
                     [ls.label_text(ls.row_value(row))])


def check(data: SessionData, out: Path) -> None:
    """Read back with pyarrow (CSV and Parquet: rows, columns, sampled values) and json
    (the task: data, every prediction and annotation region against its answer)."""
    full = signals(data)
    _check_table("signals.parquet", pq.read_table(out / PARQUET_FILE), full)
    _check_table("signals.csv", pcsv.read_csv(out / CSV_FILE), decimated(full))
    t = json.loads((out / TASK_FILE).read_text(encoding="utf-8"))
    origin = origin_ns(data)
    expect_equal("task data", t["data"], {ls.CSV_FIELD: csv_url(data.session_id),
                                          "session_id": data.session_id,
                                          "time_origin_ns": origin})
    rows = ls.current_rows(data.labels.to_pylist())
    models = [r for r in rows if r["role"] == "model"]
    people = [r for r in rows if r["role"] != "model"]
    _check_regions("predictions", [x for p in t["predictions"] for x in p["result"]],
                   models, origin)
    _check_regions("annotations", [x for a in t["annotations"] for x in a["result"]],
                   people, origin)
    want_scores = {f"{ls.REGION_PREFIX}{r['id']}": r.get("confidence") for r in models}
    for p in t["predictions"]:
        for res in p["result"]:
            expect_equal(f"score of {res['id']}", res.get("score"), want_scores[res["id"]])


# -- the dataset-level files -------------------------------------------------------------------
def _builtin_controls() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, text in builtin_taxonomies().items():
        tax = parse_taxonomy(text, name)
        for key in tax.keys.values():
            labels = ls.key_labels(key)
            if labels:
                out[ls.control_name(tax.name, key.name)] = labels
    return out


def _task_results(tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [res for t in tasks for group in ("predictions", "annotations")
            for entry in t.get(group, []) for res in entry.get("result", [])]


def controls(tasks: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Control name → labels: every interval and instant key of the built-in taxonomies
    with its allowed values, and any other key or value the tasks use."""
    out = _builtin_controls()
    for res in _task_results(tasks):
        labels = out.setdefault(str(res["from_name"]), [])
        for label in res["value"]["timeserieslabels"]:
            if label not in labels:
                labels.append(label)
    return dict(sorted(out.items()))


def label_config(ctrls: Mapping[str, list[str]]) -> str:
    """The labeling config: a TimeSeriesLabels per key, one TimeSeries with every channel."""
    view = ET.Element("View")
    for name, labels in ctrls.items():
        taxonomy, key = ls.split_control_name(name)
        ET.SubElement(view, "Header", value=f"{taxonomy} / {key}")
        tsl = ET.SubElement(view, "TimeSeriesLabels", name=name, toName=ls.TS_NAME)
        for label in labels:
            ET.SubElement(tsl, "Label", value=label)
    ts = ET.SubElement(view, "TimeSeries", name=ls.TS_NAME, valueType="url",
                       value=f"${ls.CSV_FIELD}", timeColumn=ls.TIME_COLUMN, sep=",")
    for col, (stream, field, units) in CHANNELS.items():
        ET.SubElement(ts, "Channel", column=col, units=units, legend=f"{col} ({stream}.{field})")
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _sdk_parser() -> Callable[[str], dict[str, Any]] | None:
    """label-studio-sdk's parse_config where it is installed (it is not a dependency)."""
    for mod in SDK_PARSERS:
        try:
            if importlib.util.find_spec(mod) is None:
                continue
            fn = getattr(importlib.import_module(mod), "parse_config", None)
        except ImportError:
            continue
        if callable(fn):
            return cast(Callable[[str], dict[str, Any]], fn)
    return None


def parse_label_config(text: str) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """(control → labels, the TimeSeries tag's attributes, its channel columns), read with
    label-studio-sdk's parser where installed (controls) and xml.etree (always)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ExportError(f"{CONFIG_FILE} is not XML: {exc}") from exc
    ctrls = {el.get("name", ""): [lb.get("value", "") for lb in el.iter("Label")]
             for el in root.iter("TimeSeriesLabels")}
    parser = _sdk_parser()
    if parser is not None:
        parsed = parser(text)
        sdk = {n: list(c.get("labels", [])) for n, c in parsed.items()
               if c.get("type") == "TimeSeriesLabels"}
        expect_equal("label-studio-sdk's reading of the label config", sdk, ctrls)
    series = root.find("TimeSeries")
    if series is None:
        raise ExportError(f"{CONFIG_FILE} has no <TimeSeries>")
    return ctrls, dict(series.attrib), [c.get("column", "") for c in series.iter("Channel")]


def check_dataset(folder: Path, tasks: Sequence[Mapping[str, Any]], out: Path) -> None:
    """Read tasks.json and label_config.xml back: every task, every region's control and
    label in the config, the TimeSeries tag reading each task's CSV and its channels."""
    back = json.loads((folder / TASKS_FILE).read_text(encoding="utf-8"))
    expect_equal("tasks.json sessions", [t["data"]["session_id"] for t in back],
                 [t["data"]["session_id"] for t in tasks])
    ctrls, series, channels = parse_label_config((folder / CONFIG_FILE).read_text("utf-8"))
    expect_equal("TimeSeries", {k: series.get(k) for k in ("name", "valueType", "value",
                                                             "timeColumn")},
                 {"name": ls.TS_NAME, "valueType": "url", "value": f"${ls.CSV_FIELD}",
                  "timeColumn": ls.TIME_COLUMN})
    expect_equal("channels", channels, list(CHANNELS))
    for name, labels in _builtin_controls().items():
        expect_equal(f"labels of {name}", [x for x in labels if x in ctrls.get(name, [])], labels)
    for res in _task_results(back):
        have = ctrls.get(res["from_name"], [])
        for label in res["value"]["timeserieslabels"]:
            expect_equal(f"{res['from_name']} has label {label}", label in have, True)
    for t in back:
        with open(out / "sessions" / t["data"]["session_id"] / CSV_FILE, encoding="utf-8") as f:
            header = [h.strip('"') for h in f.readline().strip().split(",")]
        expect_equal(f"{t['data']['session_id']} CSV header", header,
                     [ls.TIME_COLUMN, *CHANNELS])


def finish(out: Path) -> None:
    """tasks.json (every session's task) and label_config.xml: written aside, read back,
    then moved into place (each file replaced atomically)."""
    tasks = [json.loads(p.read_text(encoding="utf-8"))
             for p in sorted((out / "sessions").glob(f"*/{TASK_FILE}"))]
    aside = out / f".labelstudio-{uuid.uuid4().hex[:8]}"
    aside.mkdir(parents=True)
    try:
        (aside / TASKS_FILE).write_text(json.dumps(tasks, indent=1), encoding="utf-8")
        (aside / CONFIG_FILE).write_text(label_config(controls(tasks)), encoding="utf-8")
        check_dataset(aside, tasks, out)
        for name in (TASKS_FILE, CONFIG_FILE):
            os.replace(aside / name, out / name)
    finally:
        shutil.rmtree(aside, ignore_errors=True)


FORMAT = Format(
    name="labelstudio",
    version=1,
    write=write,
    check=check,
    layout="tasks.json + label_config.xml (Label Studio time-series project); "
    "sessions/<id>/signals.csv (≤ 100 Hz), signals.parquet (full rate), task.json",
    open_with="Label Studio with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and "
    "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=DIR: new project, labeling config from "
    "DIR/label_config.xml, import DIR/tasks.json; answers come back with "
    "`haptics labels import --from labelstudio`",
    finish=finish,
)
