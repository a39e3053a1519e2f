"""A dataset: a folder of sessions, a label store and the taxonomies in use.

```
DIR/
  dataset.toml      where the label store is (a file in DIR, or a postgresql:// URL)
  sessions/         sessions as `haptics run --record DIR/sessions` writes them
  labels.sqlite     the label store (SQLite, WAL), unless dataset.toml names a server
```

`init_dataset` creates it, `Dataset.index()` catalogs its sessions (scene, device,
provenance, time span, duration, QA result) in the store, and `open_dataset` gives the
sessions and the label views as Arrow tables.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.dataset import views
from haptics.dataset.store import LabelStore, SessionRecord
from haptics.dataset.taxonomy import builtin_taxonomies, load_taxonomy
from haptics.errors import ConfigError, HapticsError, SessionError
from haptics.session.overview import ensure_overview
from haptics.session.qa import qa_report
from haptics.session.reading import Session, list_sessions, open_session

DATASET_FILE = "dataset.toml"
DEFAULT_DB = "labels.sqlite"
SESSIONS_DIR = "sessions"
TIME_COLUMNS = {"telemetry": "wake_ns"}  # every other stream: host_time_ns


def session_span_ns(session: Session) -> tuple[int, int]:
    """First and last host time (ns) over every stream of a session.

    Raises SessionError if no stream has a single row.
    """
    lo, hi = None, None
    for name in session.stream_names:
        t = session.table(name)
        col = TIME_COLUMNS.get(name, "host_time_ns")
        if col not in t.column_names or t.num_rows == 0:
            continue
        v = t.column(col).to_numpy()
        lo = int(v.min()) if lo is None else min(lo, int(v.min()))
        hi = int(v.max()) if hi is None else max(hi, int(v.max()))
    if lo is None or hi is None:
        raise SessionError(f"{session.path} has no samples; nothing to label in it")
    return lo, hi


def session_record(session: Session, root: Path) -> SessionRecord:
    """The catalog entry of one session (runs its QA)."""
    m = session.manifest
    t0, t1 = session_span_ns(session)
    try:
        passed: bool | None = bool(qa_report(session)["passed"])
    except HapticsError:
        passed = None
    try:
        path = str(session.path.resolve().relative_to(root.resolve()))
    except ValueError:
        path = str(session.path.resolve())
    return SessionRecord(
        session_id=m.session_id,
        path=path,
        scene=m.scene.get("scene"),
        device=m.device.get("driver"),
        provenance=m.provenance,
        start_ns=t0,
        end_ns=t1,
        duration_s=(t1 - t0) / 1e9,
        qa_passed=passed,
    )


@dataclass
class Dataset:
    """An opened dataset folder (see the module docstring)."""

    path: Path
    store: LabelStore
    _sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def sessions_dir(self) -> Path:
        return self.path / SESSIONS_DIR

    def close(self) -> None:
        """Release the label store's connections."""
        self.store.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def index(self) -> tuple[list[SessionRecord], list[str]]:
        """Catalog every session under sessions/; (entries, problems with unreadable ones).
        Each session's overview (`haptics.session.overview`) is brought up to date beside
        it, so the workbench's first view of it reads only that."""
        records, problems = [], []
        for p in list_sessions(self.sessions_dir):
            try:
                session = open_session(p)
                rec = session_record(session, self.path)
            except HapticsError as exc:
                problems.append(f"{p}: {exc}")
                continue
            self.store.put_session(rec)
            records.append(rec)
            try:
                ensure_overview(session)
            except HapticsError as exc:  # cataloged all the same; the workbench retries
                problems.append(f"{p}: no overview for the workbench: {exc}")
        return records, problems

    def session(self, session_id: str) -> Session:
        """A catalogued session opened for reading; raises LabelError if not catalogued."""
        if session_id not in self._sessions:
            rec = self.store.session(session_id)
            p = Path(rec.path)
            self._sessions[session_id] = open_session(p if p.is_absolute() else self.path / p)
        return self._sessions[session_id]

    def catalog(self) -> pa.Table:
        """One row per session: scene, device, provenance, span, duration, QA, and label
        coverage (answers, keys answered by people, items reviewed)."""
        recs = self.store.sessions()
        answers, reviews = self.store.log_tables()
        n_answers: dict[str, int] = {}
        keys_labeled: dict[str, set[str]] = {}
        reviewed: dict[str, set[str]] = {}
        for a in answers:
            n_answers[a.session_id] = n_answers.get(a.session_id, 0) + 1
            if a.role == "annotator":
                keys_labeled.setdefault(a.session_id, set()).add(f"{a.taxonomy}/{a.key}")
        for r in reviews:
            reviewed.setdefault(r.session_id, set()).add(f"{r.taxonomy}/{r.key}")
        rows: list[dict[str, Any]] = []
        for rec in recs:
            d = rec.as_dict()
            d["answers"] = n_answers.get(rec.session_id, 0)
            d["keys_labeled"] = len(keys_labeled.get(rec.session_id, set()))
            d["keys_reviewed"] = len(reviewed.get(rec.session_id, set()))
            rows.append(d)
        return (
            pa.Table.from_pylist(rows)
            if rows
            else pa.table({"session_id": pa.array([], pa.string())})
        )

    def answers(self) -> pa.Table:
        """The whole answer log, superseded rows included (for trusted, offline use)."""
        return views.answers_table(self.store.log_tables()[0])

    def reviews(self) -> pa.Table:
        """Every review decision."""
        return views.reviews_table(self.store.log_tables()[1])

    def gold(self) -> pa.Table:
        """The reviewed answer(s) per item."""
        answers, reviews = self.store.log_tables()
        return views.answers_table(views.gold(answers, reviews))

    def distribution(self) -> pa.Table:
        """Every annotator's current answer per item (never an average)."""
        return views.answers_table(views.human_votes(self.store.log_tables()[0]))


def read_config(path: Path) -> dict[str, Any]:
    """The dataset.toml of a dataset folder; raises ConfigError if it is not a dataset."""
    f = path / DATASET_FILE
    if not f.is_file():
        raise ConfigError(
            f"{path} is not a dataset (no {DATASET_FILE}); create one with "
            f"`haptics dataset init {path}`"
        )
    try:
        return tomllib.loads(f.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{f} is not valid TOML: {exc}; fix or recreate it") from exc


def _db_location(path: Path, db: str) -> str:
    return db if "://" in db else str(path / db)


def init_dataset(
    path: str | Path, db: str | None = None, taxonomies: list[str] | None = None
) -> Dataset:
    """Create a dataset folder (or add taxonomies to an existing one) and migrate its store.

    `db` is a file name inside the folder (default labels.sqlite) or a postgresql:// URL;
    `taxonomies` are built-in names or TOML paths (default: every built-in one). Raises
    ConfigError for an unknown taxonomy, StoreError if the database cannot be reached.
    """
    p = Path(path)
    texts = [load_taxonomy(t)[1] for t in (taxonomies or list(builtin_taxonomies()))]
    p.mkdir(parents=True, exist_ok=True)
    (p / SESSIONS_DIR).mkdir(exist_ok=True)
    cfg_file = p / DATASET_FILE
    if cfg_file.exists():
        cfg = read_config(p)
        if db is not None and db != cfg.get("db"):
            raise ConfigError(
                f"{p} already uses the label store {cfg.get('db')!r}; edit {cfg_file} to move it"
            )
    else:
        cfg = {"db": db or DEFAULT_DB}
        cfg_file.write_text(f'db = "{cfg["db"]}"\n', encoding="utf-8")
    store = LabelStore(_db_location(p, str(cfg["db"])))
    for text in texts:
        store.add_taxonomy(text)
    return Dataset(p, store)


def open_dataset(path: str | Path, db: str | None = None) -> Dataset:
    """Open a dataset folder; `db` overrides the store named in dataset.toml.

    Raises ConfigError if the folder is not a dataset, StoreError if its store cannot be
    opened or needs migrating.
    """
    p = Path(path)
    cfg = read_config(p)
    where = db or str(cfg.get("db", DEFAULT_DB))
    return Dataset(p, LabelStore(_db_location(p, where), migrate=False))


def force_magnitude(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """(host_time_ns, |F| in N) of a session's device samples: what detectors work from."""
    st = session.arrays("state")
    f = np.sqrt(st["fx"] ** 2 + st["fy"] ** 2 + st["fz"] ** 2)
    return st["host_time_ns"].astype(np.int64), f
