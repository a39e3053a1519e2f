"""Running an export: one Dask task per session, written aside and moved into place.

```
DIR/
  sessions/<session_id>/   one folder per exported session, present only once complete
    .export.json           format, fingerprint of the session and its labels, counts
  card.md, card.json       the dataset card, written last
  .partial/                work in progress (a killed export leaves only this)
```
A session whose folder holds the same format and fingerprint is skipped. A session that
cannot be read or does not read back is reported with its reason; the others finish.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from haptics.dataset.catalog import Dataset
from haptics.dataset.curation import is_simulated, validated_sessions
from haptics.dataset.export import get_format
from haptics.dataset.export.base import SessionData
from haptics.dataset.export.tables import LABEL_SCHEMA, labels_table, read_streams
from haptics.dataset.features import fingerprint
from haptics.dataset.views import gold
from haptics.errors import ConfigError, HapticsError
from haptics.session.manifest import MANIFEST_NAME
from haptics.session.reading import open_session

MARKER = ".export.json"
PARTIAL = ".partial"


@dataclass
class Job:
    """One session to export."""

    session_id: str
    path: str
    provenance: str | None
    labels: list[dict[str, Any]] = field(default_factory=list)
    rate_hz: float | None = None  # the export's `--rate`, where its format takes one

    def key(self, fmt: str, version: int) -> str:
        """What must match for a re-run to skip this session."""
        h = hashlib.sha256(
            f"{fmt}:{version}:{self.rate_hz}:{fingerprint(Path(self.path))}".encode()
        )
        h.update(json.dumps(self.labels, sort_keys=True, default=str).encode())
        return h.hexdigest()[:20]


def labels_by_session(ds: Dataset) -> dict[str, list[dict[str, Any]]]:
    """Each session's full label log (superseded answers included), gold marked."""
    answers, reviews = ds.store.log_tables()
    gold_ids = {a.id for a in gold(answers, reviews)}
    out: dict[str, list[dict[str, Any]]] = {}
    for a in answers:
        row = {n: getattr(a, n, None) for n in LABEL_SCHEMA.names if n not in ("value", "gold")}
        row["value"] = json.dumps(a.value)
        row["gold"] = a.id in gold_ids
        out.setdefault(a.session_id, []).append(row)
    return out


def plan_dataset(
    ds: Dataset, session_ids: list[str] | None = None, validated: bool = False
) -> tuple[list[Job], dict[str, str]]:
    """Jobs for a dataset's catalogued sessions (all, or `session_ids`); with `validated`,
    simulated sessions no person validated are left out. Returns (jobs, left out → why).
    Raises ConfigError for a session id the catalog does not have."""
    recs = {r.session_id: r for r in ds.store.sessions()}
    wanted = session_ids or sorted(recs)
    unknown = [s for s in wanted if s not in recs]
    if unknown:
        raise ConfigError(
            f"not in the catalog of {ds.path}: {', '.join(unknown)}; "
            f"run `haptics dataset index {ds.path}`"
        )
    ok = validated_sessions(ds.store.log_tables()[0]) if validated else set()
    labels = labels_by_session(ds)
    jobs, left_out = [], {}
    for sid in wanted:
        rec = recs[sid]
        if validated and is_simulated(rec.provenance) and sid not in ok:
            left_out[sid] = "simulated and not validated by a person"
            continue
        p = Path(rec.path) if Path(rec.path).is_absolute() else ds.path / rec.path
        jobs.append(Job(sid, str(p), rec.provenance, labels.get(sid, [])))
    return jobs, left_out


def plan_folders(paths: list[Path], validated: bool = False) -> tuple[list[Job], dict[str, str]]:
    """Jobs for session folders outside a dataset (no labels; with `validated`, every
    simulated one is left out, since no validation can exist without a label store)."""
    jobs, left_out = [], {}
    for p in paths:
        try:
            m = open_session(p).manifest
        except HapticsError as exc:
            left_out[str(p)] = str(exc)
            continue
        if validated and is_simulated(m.provenance):
            left_out[m.session_id] = "simulated; validate it in a dataset first"
            continue
        jobs.append(Job(m.session_id, str(p), m.provenance))
    return jobs, left_out


def session_data(job: Job) -> SessionData:
    """What a format is handed for one session: its streams, its label log, its manifest."""
    return SessionData(
        session_id=job.session_id,
        provenance=job.provenance,
        streams=read_streams(open_session(job.path)),
        labels=labels_table(job.labels) if job.labels else LABEL_SCHEMA.empty_table(),
        manifest_json=(Path(job.path) / MANIFEST_NAME).read_text(encoding="utf-8"),
        rate_hz=job.rate_hz,
        path=job.path,
    )


def export_task(job: Job, fmt_name: str, out: str) -> dict[str, Any]:
    """Export one session (a Dask task). Never raises for a bad session: returns
    {"session_id", "status": exported|skipped|failed, "reason"?, "rows"?, "seconds"}."""
    t = time.perf_counter()
    fmt = get_format(fmt_name)
    out_dir = Path(out)
    final = out_dir / "sessions" / job.session_id
    result: dict[str, Any] = {"session_id": job.session_id, "provenance": job.provenance}
    try:
        key = job.key(fmt.name, fmt.version)
        marker = final / MARKER
        if marker.is_file() and json.loads(marker.read_text()).get("key") == key:
            return {**result, "status": "skipped", "seconds": time.perf_counter() - t,
                    **{k: v for k, v in json.loads(marker.read_text()).items()
                       if k in ("rows", "labels")}}
        data = session_data(job)
        work = out_dir / PARTIAL / f"{job.session_id}-{uuid.uuid4().hex[:8]}"
        work.mkdir(parents=True)
        try:
            fmt.write(data, work)
            fmt.check(data, work)
            rows = {n: tb.num_rows for n, tb in data.streams.items()}
            (work / MARKER).write_text(json.dumps(
                {"format": fmt.name, "version": fmt.version, "key": key, "rows": rows,
                 "labels": data.labels.num_rows, "provenance": job.provenance}
            ))
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():  # an older export: set aside, then replaced
                old = out_dir / PARTIAL / f"old-{job.session_id}-{uuid.uuid4().hex[:8]}"
                os.replace(final, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(work, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return {**result, "status": "exported", "rows": rows, "labels": data.labels.num_rows,
                "seconds": time.perf_counter() - t}
    except (HapticsError, OSError, ValueError, KeyError, pa.ArrowException) as exc:
        return {**result, "status": "failed", "reason": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t}


def run_jobs(
    jobs: list[Job],
    fmt_name: str,
    out: Path,
    client: Any | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every job (as Dask tasks on `client`, or here in order when it is None) and
    return their results in completion order; `on_result` sees each as it arrives."""
    get_format(fmt_name)  # refuse an unknown format before any work
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    if client is None:
        for job in jobs:
            r = export_task(job, fmt_name, str(out))
            results.append(r)
            if on_result:
                on_result(r)
    else:
        from distributed import as_completed

        futures = [client.submit(export_task, job, fmt_name, str(out), pure=False,
                                 key=f"export-{fmt_name}-{job.session_id}-{uuid.uuid4().hex[:6]}")
                   for job in jobs]
        for fut in as_completed(futures):  # type: ignore[no-untyped-call]
            r = fut.result()
            results.append(r)
            if on_result:
                on_result(r)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    fmt = get_format(fmt_name)
    if fmt.finish is not None:  # dataset-level files, over every session exported so far
        fmt.finish(out)
    return results
