"""The label store: an append-only log of answers, assignments and reviews in a real database.

SQLite (WAL) in the dataset folder by default, PostgreSQL by URL; one schema (`schema.py`,
created by the Alembic migrations shipped in `migrations/`) and one code path (SQLAlchemy
Core) for both. The database refuses UPDATE and DELETE on the log (triggers), so nothing said
is ever overwritten: a correction is a new answer that supersedes the old one.

Every call is made *as* someone (`as_person`), and every permission is checked here, not by
a screen: only reviewers review, only reviewers and admins assign, an annotator must be
assigned to what they label, and until an annotator has answered a blind item no call made as
them returns anyone else's answer for it. A write is all-or-nothing: every answer of a batch
is validated before the one transaction that stores them.

Concurrency: SQLite writers take the write lock up front (BEGIN IMMEDIATE) and wait for it
(busy timeout); a writer that still finds the database busy retries with backoff, so users
never see "database is locked". PostgreSQL serialization failures and deadlocks are retried
the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from haptics.dataset import schema as s
from haptics.dataset.taxonomy import Key, Taxonomy, parse_taxonomy
from haptics.errors import LabelError, StoreError

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
RETRY_FOR_S = 60.0  # give up (StoreError) after retrying a busy database this long
HUMAN_ROLES = ("annotator", "reviewer", "admin")


def now_utc() -> str:
    """The time stamped on new rows: ISO 8601 UTC with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


# -- value records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """What is labeled: one taxonomy key of one session (intervals and instants included)."""

    session_id: str
    taxonomy: str
    key: str

    def __str__(self) -> str:
        return f"{self.session_id}/{self.taxonomy}/{self.key}"


@dataclass(frozen=True)
class NewAnswer:
    """An answer to be written. Times are the session's host time (ns)."""

    session_id: str
    taxonomy: str
    key: str
    value: Any
    t0_ns: int | None = None
    t1_ns: int | None = None
    supersedes: int | None = None
    rationale: str | None = None
    detector: str | None = None
    detector_version: str | None = None
    confidence: float | None = None

    @property
    def item(self) -> Item:
        return Item(self.session_id, self.taxonomy, self.key)


@dataclass(frozen=True)
class Answer:
    """One row of the answer log."""

    id: int
    session_id: str
    target: str
    t0_ns: int | None
    t1_ns: int | None
    taxonomy: str
    key: str
    value: Any
    annotator_id: str
    role: str
    created_at: str
    supersedes: int | None
    rationale: str | None
    detector: str | None
    detector_version: str | None
    confidence: float | None

    @property
    def item(self) -> Item:
        return Item(self.session_id, self.taxonomy, self.key)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class Review:
    """One review decision: accepted, corrected or rework (sent back)."""

    id: int
    session_id: str
    taxonomy: str
    key: str
    reviewer_id: str
    decision: str
    answer_id: int | None
    annotator_id: str | None
    rationale: str | None
    created_at: str

    @property
    def item(self) -> Item:
        return Item(self.session_id, self.taxonomy, self.key)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class SessionRecord:
    """A session as the catalog knows it."""

    session_id: str
    path: str
    scene: str | None
    device: str | None
    provenance: str | None
    start_ns: int
    end_ns: int
    duration_s: float
    qa_passed: bool | None
    indexed_at: str = field(default_factory=now_utc)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _answer(row: sa.Row[Any]) -> Answer:
    # the answers table's columns are Answer's fields, in the same order
    r = tuple(row)
    return Answer(*r[:7], json.loads(r[7]), *r[8:])  # type: ignore[call-arg]


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every insert here has an autoincrement key
        raise StoreError("the database returned no id for a new row; report this as a bug")
    return int(key[0])


def _review(row: sa.Row[Any]) -> Review:
    m = row._mapping
    return Review(**{k: m[k] for k in Review.__dataclass_fields__})


# statements built once (SQLAlchemy caches their compiled form): the append path is hot
_SELECT_SESSION = sa.select(s.sessions).where(s.sessions.c.session_id == sa.bindparam("sid"))
_INSERT_ANSWER = s.answers.insert()


# -- engines ------------------------------------------------------------------------------------
def normalise_url(url_or_path: str | Path) -> str:
    """A SQLAlchemy URL from a path (SQLite file) or a URL (`postgresql://` uses psycopg 3).

    Raises StoreError for a scheme we do not support.
    """
    text = str(url_or_path)
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    scheme = text.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if scheme in ("postgresql+psycopg", "sqlite"):
        return text
    raise StoreError(
        f"unsupported label store URL scheme '{scheme}'; use a path (SQLite) or postgresql://..."
    )


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None}
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a commit survives a killed process; only power loss may lose the
            # last commits (never corrupts the file)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # writers take the lock at BEGIN, so two writers never deadlock on an upgrade
            write = conn.get_execution_options().get("haptics_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)


def _writer_lock_path(engine: Engine) -> Path | None:
    """The lock file SQLite writers of one database queue on (None for a server or an
    in-memory database)."""
    db = engine.url.database
    if engine.dialect.name != "sqlite" or not db or db == ":memory:":
        return None
    return Path(db).with_name(Path(db).name + "-writer.lock")


@contextlib.contextmanager
def _exclusive(lock: Path | None) -> Iterator[None]:
    """Hold the writers' queue lock (flock) of a SQLite database while writing.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so under 8 writers some
    wait for seconds; waiting on an flock instead wakes the next writer the moment the lock
    is free (and the kernel drops the lock of a killed process). BEGIN IMMEDIATE and the
    busy timeout still guard against writers that do not take this lock.
    """
    if lock is None:
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if "locked" in text or "busy" in text:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40001", "40P01")  # serialization failure, deadlock detected


def migrations_config() -> AlembicConfig:
    """The Alembic configuration of the migrations shipped in this package."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "haptics.dataset:migrations")
    return cfg


# -- the store ----------------------------------------------------------------------------------
class LabelStore:
    """The label store of one dataset (see the module docstring for the rules it enforces)."""

    def __init__(self, url: str | Path, *, migrate: bool = True) -> None:
        """Open (and by default create or migrate) the store at a path or URL.

        Raises StoreError if the database cannot be reached or is at an unknown revision.
        """
        self.url = normalise_url(url)
        self.engine = _make_engine(self.url)
        self._write_engine = self.engine.execution_options(haptics_write=True)
        self.dialect = self.engine.dialect.name
        self._writer_lock = _writer_lock_path(self.engine)
        self._taxonomies: dict[str, Taxonomy] = {}
        self._people: dict[str, str] = {}
        try:
            if migrate:
                self.migrate()
            else:
                self._check_revision()
        except (DBAPIError, OperationalError) as exc:
            self.engine.dispose()
            raise StoreError(
                f"cannot open the label store at {self.engine.url!r}: {exc.orig}; "
                "check the path or URL and that the server is running"
            ) from exc

    # -- lifecycle
    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def revision(self) -> str | None:
        """The migration revision the database is at (None before the first)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _check_revision(self) -> None:
        head = ScriptDirectory.from_config(migrations_config()).get_current_head()
        if self.revision() != head:
            raise StoreError(
                f"the label store is at revision {self.revision()}, this haptics needs {head}; "
                "run `haptics dataset init` on it to migrate"
            )

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there already)."""
        head = ScriptDirectory.from_config(migrations_config()).get_current_head()
        if self.revision() == head:
            return

        def run(conn: Connection) -> None:
            if self.dialect == "postgresql":  # one migrator at a time across processes
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
            cfg = migrations_config()
            cfg.attributes["connection"] = conn
            alembic_command.upgrade(cfg, "head")

        self._write(run)

    # -- transactions with retry
    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in one write transaction, retrying while the database is busy."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.002
        while True:
            try:
                with _exclusive(self._writer_lock), self._write_engine.begin() as conn:
                    return fn(conn)
            except (OperationalError, DBAPIError) as exc:
                if not _retryable(exc) or time.monotonic() > deadline:
                    if isinstance(exc, sa.exc.IntegrityError):
                        raise LabelError(f"refused by the database: {exc.orig}") from exc
                    raise StoreError(
                        f"the label store could not write: {exc.orig}; retry, and check that "
                        "the database is reachable and not read-only"
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.2)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                with self.engine.connect() as conn:
                    return fn(conn)
            except (OperationalError, DBAPIError) as exc:
                if not _retryable(exc) or time.monotonic() > deadline:
                    raise StoreError(f"the label store could not be read: {exc.orig}") from exc
                time.sleep(0.01)

    # -- people
    def add_person(self, person_id: str, role: str) -> None:
        """Register someone (or a model) with a role; raises LabelError for a bad role or a
        person already registered with another role (roles are append-only)."""
        if role not in s.ROLES:
            raise LabelError(f"unknown role '{role}'; roles: {', '.join(s.ROLES)}")
        if not person_id or len(person_id) > 128:
            raise LabelError("a person id is 1 to 128 characters")

        def run(conn: Connection) -> None:
            have = conn.execute(
                sa.select(s.people.c.role).where(s.people.c.person_id == person_id)
            ).scalar()
            if have is None:
                conn.execute(
                    s.people.insert().values(person_id=person_id, role=role, created_at=now_utc())
                )
            elif have != role:
                raise LabelError(
                    f"'{person_id}' is already registered as {have}; register another id "
                    f"for the {role} role"
                )

        self._write(run)
        self._people[person_id] = role

    def role_of(self, person_id: str) -> str:
        """The role of a registered person; raises LabelError for an unknown one."""
        if person_id not in self._people:
            role = self._read(
                lambda c: c.execute(
                    sa.select(s.people.c.role).where(s.people.c.person_id == person_id)
                ).scalar()
            )
            if role is None:
                raise LabelError(
                    f"unknown annotator '{person_id}'; register them first with "
                    f"`haptics labels people add {person_id} --role annotator`"
                )
            self._people[person_id] = str(role)
        return self._people[person_id]

    def people(self) -> list[dict[str, str]]:
        """Everyone registered, with their role."""
        rows = self._read(lambda c: c.execute(sa.select(s.people).order_by("person_id")).all())
        return [dict(r._mapping) for r in rows]

    # -- taxonomies
    def add_taxonomy(self, toml_text: str) -> Taxonomy:
        """Put a taxonomy in use (or a newer version of it). Raises ConfigError if invalid and
        LabelError if it would go back to an older version."""
        tax = parse_taxonomy(toml_text)

        def run(conn: Connection) -> None:
            have = conn.execute(
                sa.select(s.taxonomies.c.version).where(s.taxonomies.c.name == tax.name)
            ).scalar()
            if have is None:
                conn.execute(
                    s.taxonomies.insert().values(
                        name=tax.name, version=tax.version, toml=toml_text, added_at=now_utc()
                    )
                )
            elif tax.version > have:
                conn.execute(
                    s.taxonomies.update()
                    .where(s.taxonomies.c.name == tax.name)
                    .values(version=tax.version, toml=toml_text, added_at=now_utc())
                )
            elif tax.version < have:
                raise LabelError(
                    f"taxonomy '{tax.name}' v{tax.version} is older than the v{have} in use; "
                    "raise its version to change it"
                )

        self._write(run)
        self._taxonomies.pop(tax.name, None)
        return tax

    def taxonomy(self, name: str) -> Taxonomy:
        """A taxonomy in use; raises LabelError naming those in use."""
        if name not in self._taxonomies:
            text = self._read(
                lambda c: c.execute(
                    sa.select(s.taxonomies.c.toml).where(s.taxonomies.c.name == name)
                ).scalar()
            )
            if text is None:
                raise LabelError(
                    f"taxonomy '{name}' is not in use in this dataset (in use: "
                    f"{', '.join(self.taxonomy_names()) or 'none'}); add it with "
                    "`haptics dataset init DIR --taxonomy NAME`"
                )
            self._taxonomies[name] = parse_taxonomy(str(text), name)
        return self._taxonomies[name]

    def taxonomy_names(self) -> list[str]:
        """Names of the taxonomies in use."""
        rows = self._read(lambda c: c.execute(sa.select(s.taxonomies.c.name)).scalars().all())
        return sorted(str(r) for r in rows)

    def key(self, item: Item) -> Key:
        """The taxonomy key an item is labeled with; raises LabelError if unknown."""
        return self.taxonomy(item.taxonomy).key(item.key)

    # -- catalog
    def put_session(self, rec: SessionRecord) -> None:
        """Add a session to the catalog or refresh its entry."""

        def run(conn: Connection) -> None:
            values = rec.as_dict()
            exists = conn.execute(
                sa.select(s.sessions.c.session_id).where(s.sessions.c.session_id == rec.session_id)
            ).scalar()
            if exists is None:
                conn.execute(s.sessions.insert().values(**values))
            else:
                conn.execute(
                    s.sessions.update()
                    .where(s.sessions.c.session_id == rec.session_id)
                    .values(**values)
                )

        self._write(run)

    def sessions(self) -> list[SessionRecord]:
        """Every session in the catalog, by id."""
        rows = self._read(
            lambda c: c.execute(sa.select(s.sessions).order_by(s.sessions.c.session_id)).all()
        )
        return [SessionRecord(**dict(r._mapping)) for r in rows]

    def session(self, session_id: str) -> SessionRecord:
        """One catalogued session; raises LabelError if the catalog does not have it."""
        return self._read(lambda c: self._session_in(c, session_id))

    @staticmethod
    def _session_in(conn: Connection, session_id: str) -> SessionRecord:
        row = conn.execute(_SELECT_SESSION, {"sid": session_id}).first()
        if row is None:
            raise LabelError(
                f"session '{session_id}' is not in the dataset's catalog; copy it into the "
                "dataset's sessions/ folder and run `haptics dataset index DIR`"
            )
        return SessionRecord(**dict(row._mapping))

    # -- writing answers
    def _validate(
        self, conn: Connection, ans: NewAnswer, person: str, role: str, sessions: dict[str, Any]
    ) -> dict[str, Any]:
        """The row to insert for `ans`; raises LabelError saying what is wrong."""
        key = self.key(ans.item)
        if ans.session_id not in sessions:
            sessions[ans.session_id] = self._session_in(conn, ans.session_id)
        sess: SessionRecord = sessions[ans.session_id]
        value = key.check_value(ans.value)
        t0, t1 = ans.t0_ns, ans.t1_ns
        span = f"the session's [{sess.start_ns}, {sess.end_ns}] ns ({sess.duration_s:.3f} s)"
        if key.target == "session":
            if t0 is not None or t1 is not None:
                raise LabelError(f"key '{key.name}' labels the whole session: give no times")
        elif key.target == "instant":
            if t0 is None or t1 is not None:
                raise LabelError(f"key '{key.name}' labels an instant: give one time (t0)")
            if not sess.start_ns <= t0 <= sess.end_ns:
                raise LabelError(f"instant {t0} ns is outside {span}")
        else:
            if t0 is None or t1 is None:
                raise LabelError(f"key '{key.name}' labels an interval: give t0 and t1")
            if t1 <= t0:
                raise LabelError(f"interval [{t0}, {t1}] ns is reversed or empty; t0 < t1")
            if t0 < sess.start_ns or t1 > sess.end_ns:
                raise LabelError(f"interval [{t0}, {t1}] ns is outside {span}")
        if role == "model":
            if not ans.detector:
                raise LabelError("a model answer names its detector (and version)")
            if ans.confidence is None or not 0.0 <= ans.confidence <= 1.0:
                raise LabelError("a model answer carries a confidence in [0, 1]")
        elif ans.detector or ans.confidence is not None:
            raise LabelError("only a model's answer carries a detector and a confidence")
        if role == "admin":
            raise LabelError(
                f"'{person}' is an admin; answers come from annotators, reviewers and models"
            )
        if role == "annotator":
            assigned = conn.execute(
                sa.select(s.assignments.c.id).where(
                    s.assignments.c.session_id == ans.session_id,
                    s.assignments.c.taxonomy == ans.taxonomy,
                    s.assignments.c.key == ans.key,
                    s.assignments.c.annotator_id == person,
                )
            ).first()
            if assigned is None:
                raise LabelError(
                    f"'{person}' is not assigned to {ans.item}; a reviewer assigns it with "
                    "`haptics labels assign`"
                )
        if ans.supersedes is not None:
            old = conn.execute(sa.select(s.answers).where(s.answers.c.id == ans.supersedes)).first()
            if old is None:
                raise LabelError(f"answer {ans.supersedes} does not exist; nothing to supersede")
            old_a = _answer(old)
            if old_a.item != ans.item:
                raise LabelError(f"answer {ans.supersedes} is about {old_a.item}, not {ans.item}")
            if role != "reviewer" and old_a.annotator_id != person:
                raise LabelError(
                    f"answer {ans.supersedes} is {old_a.annotator_id}'s; only its author or a "
                    "reviewer may supersede it"
                )
            if role == "reviewer" and not ans.rationale:
                raise LabelError("a reviewer's correction needs a rationale")
        return {
            "session_id": ans.session_id,
            "target": key.target,
            "t0_ns": t0,
            "t1_ns": t1,
            "taxonomy": ans.taxonomy,
            "key": ans.key,
            "value": json.dumps(value),
            "annotator_id": person,
            "role": role,
            "created_at": now_utc(),
            "supersedes": ans.supersedes,
            "rationale": ans.rationale,
            "detector": ans.detector,
            "detector_version": ans.detector_version,
            "confidence": ans.confidence,
        }

    def _insert_answers(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        ids: list[int] = []
        for row in rows:  # one by one: portable way to get every id back
            ids.append(_new_id(conn.execute(_INSERT_ANSWER, row)))
        return ids

    def add_answers(self, answers: Sequence[NewAnswer], as_person: str) -> list[int]:
        """Append answers (all or none) as `as_person`; their ids in order.

        Raises LabelError (nothing written) for an unknown person, a value outside the
        taxonomy, an interval outside its session or reversed, an unassigned annotator, ...;
        the message names the answer (by position) and what to fix.
        """
        role = self.role_of(as_person)
        sessions: dict[str, Any] = {}

        def validate(conn: Connection) -> list[dict[str, Any]]:
            rows = []
            for i, ans in enumerate(answers):
                try:
                    rows.append(self._validate(conn, ans, as_person, role, sessions))
                except LabelError as exc:
                    where = f"answer {i + 1} of {len(answers)}: " if len(answers) > 1 else ""
                    raise LabelError(f"{where}{exc}; nothing was written") from None
            return rows

        # Validate in a read transaction, insert in a short write one: everything checked
        # (people, assignments, superseded answers) is append-only, so it still holds.
        rows = self._read(validate)
        return self._write(lambda conn: self._insert_answers(conn, rows))

    def add_answer(self, answer: NewAnswer, as_person: str) -> int:
        """Append one answer; see `add_answers`."""
        return self.add_answers([answer], as_person)[0]

    def add_answers_by(self, answers: Sequence[tuple[str, NewAnswer, str]]) -> list[int]:
        """Append answers by several people, all or none (an import from another tool):
        each (person, answer, where) is checked by the same rules as `add_answers` in one read
        transaction, then all are inserted in one write transaction; their ids in order.
        Raises LabelError naming the answer by `where` and its person (nothing written)."""
        roles = {person: self.role_of(person) for person, _, _ in answers}
        sessions: dict[str, Any] = {}

        def validate(conn: Connection) -> list[dict[str, Any]]:
            rows = []
            for person, ans, where in answers:
                try:
                    rows.append(self._validate(conn, ans, person, roles[person], sessions))
                except LabelError as exc:
                    raise LabelError(f"{where} ({person}): {exc}; nothing was written") from None
            return rows

        rows = self._read(validate)
        return self._write(lambda conn: self._insert_answers(conn, rows))

    # -- assignment
    def assign(
        self,
        items: Iterable[Item],
        annotators: Sequence[str],
        as_person: str,
    ) -> list[tuple[Item, str]]:
        """Give each item to as many annotators as its key asks, least-loaded first.

        Already assigned annotators count. Returns the new (item, annotator) pairs. Raises
        LabelError (nothing written) if `as_person` may not assign, an annotator is unknown
        or not an annotator, or there are fewer annotators than a key needs.
        """
        if self.role_of(as_person) not in ("reviewer", "admin"):
            raise LabelError(f"'{as_person}' is an annotator; reviewers and admins assign work")
        for a in annotators:
            if self.role_of(a) != "annotator":
                raise LabelError(f"'{a}' is a {self.role_of(a)}, not an annotator")
        items = list(items)
        for item in items:
            self.session(item.session_id)
            need = self.key(item).annotators
            if need > len(annotators):
                raise LabelError(
                    f"{item.taxonomy}/{item.key} needs {need} annotators per item, "
                    f"{len(annotators)} given; name more with --annotators"
                )

        def run(conn: Connection) -> list[tuple[Item, str]]:
            load = {a: 0 for a in annotators}
            for a, n in conn.execute(
                sa.select(s.assignments.c.annotator_id, sa.func.count()).group_by(
                    s.assignments.c.annotator_id
                )
            ).all():
                if a in load:
                    load[a] = int(n)
            new: list[tuple[Item, str]] = []
            stamp = now_utc()
            for item in items:
                have = set(
                    conn.execute(
                        sa.select(s.assignments.c.annotator_id).where(
                            s.assignments.c.session_id == item.session_id,
                            s.assignments.c.taxonomy == item.taxonomy,
                            s.assignments.c.key == item.key,
                        )
                    ).scalars()
                )
                missing = self.key(item).annotators - len(have)
                for a in sorted((a for a in annotators if a not in have), key=lambda a: load[a]):
                    if missing <= 0:
                        break
                    conn.execute(
                        s.assignments.insert().values(
                            session_id=item.session_id,
                            taxonomy=item.taxonomy,
                            key=item.key,
                            annotator_id=a,
                            created_at=stamp,
                        )
                    )
                    load[a] += 1
                    missing -= 1
                    new.append((item, a))
            return new

        return self._write(run)

    def assignments(self, annotator: str | None = None) -> list[tuple[Item, str]]:
        """(item, annotator) for every assignment, optionally one annotator's."""
        q = sa.select(s.assignments).order_by(s.assignments.c.id)
        if annotator is not None:
            q = q.where(s.assignments.c.annotator_id == annotator)
        rows = self._read(lambda c: c.execute(q).all())
        return [(Item(r.session_id, r.taxonomy, r.key), str(r.annotator_id)) for r in rows]

    # -- reading, with blindness
    def _all_answers(
        self, conn: Connection, item: Item | None, session_id: str | None
    ) -> list[Answer]:
        q = sa.select(s.answers).order_by(s.answers.c.id)
        if item is not None:
            q = q.where(
                s.answers.c.session_id == item.session_id,
                s.answers.c.taxonomy == item.taxonomy,
                s.answers.c.key == item.key,
            )
        elif session_id is not None:
            q = q.where(s.answers.c.session_id == session_id)
        return [_answer(r) for r in conn.execute(q).all()]

    def visible_filter(self, as_person: str) -> Callable[[Item, str, str], bool]:
        """A predicate (item, author, author's role) → may `as_person` see that answer now?

        Reviewers and admins see everything; an annotator sees their own answers and models'
        answers, and other people's answers on an item only once they have answered it
        themselves or when its key is not blind.
        """
        role = self.role_of(as_person)
        if role in ("reviewer", "admin"):
            return lambda _item, _author, _role: True
        answered = {
            Item(r.session_id, r.taxonomy, r.key)
            for r in self._read(
                lambda c: c.execute(
                    sa.select(s.answers.c.session_id, s.answers.c.taxonomy, s.answers.c.key)
                    .where(s.answers.c.annotator_id == as_person)
                    .distinct()
                ).all()
            )
        }

        def visible(item: Item, author: str, author_role: str) -> bool:
            if author == as_person or author_role == "model" or item in answered:
                return True
            try:
                return not self.key(item).blind
            except LabelError:
                return False

        return visible

    def answers(
        self,
        as_person: str,
        item: Item | None = None,
        session_id: str | None = None,
    ) -> list[Answer]:
        """The answer log (every row, superseded ones included) as `as_person` may see it."""
        visible = self.visible_filter(as_person)
        rows = self._read(lambda c: self._all_answers(c, item, session_id))
        return [a for a in rows if visible(a.item, a.annotator_id, a.role)]

    def reviews(self, as_person: str, item: Item | None = None) -> list[Review]:
        """Review decisions; an annotator sees those on items they may see."""
        q = sa.select(s.reviews).order_by(s.reviews.c.id)
        if item is not None:
            q = q.where(
                s.reviews.c.session_id == item.session_id,
                s.reviews.c.taxonomy == item.taxonomy,
                s.reviews.c.key == item.key,
            )
        rows = [_review(r) for r in self._read(lambda c: c.execute(q).all())]
        if self.role_of(as_person) in ("reviewer", "admin"):
            return rows
        visible = self.visible_filter(as_person)
        return [
            r
            for r in rows
            if r.annotator_id == as_person or visible(r.item, r.reviewer_id, "reviewer")
        ]

    def log_tables(self) -> tuple[list[Answer], list[Review]]:
        """Every answer and review row, unfiltered: for views and agreement computed by
        trusted code (the CLI's `stats` and `show` go through `answers()` instead)."""

        def run(conn: Connection) -> tuple[list[Answer], list[Review]]:
            a = self._all_answers(conn, None, None)
            r = [_review(x) for x in conn.execute(sa.select(s.reviews).order_by("id")).all()]
            return a, r

        return self._read(run)

    def queue(self, as_person: str) -> list[dict[str, Any]]:
        """An annotator's queue: assigned items they have not answered, and items sent back
        to them with no answer from them since (reason says which)."""
        self.role_of(as_person)
        answers, reviews = self.log_tables()
        answered = {a.item for a in answers if a.annotator_id == as_person}
        rework: dict[Item, Review] = {}
        for rv in reviews:
            if rv.decision == "rework" and rv.annotator_id == as_person:
                rework[rv.item] = rv
        out = []
        for item, _a in self.assignments(as_person):
            if item not in answered:
                out.append({"item": item, "reason": "new", "rationale": None})
                continue
            r = rework.get(item)
            if r is not None and self._rework_pending(answers, r, as_person):
                out.append({"item": item, "reason": "rework", "rationale": r.rationale})
        return out

    @staticmethod
    def _rework_pending(answers: list[Answer], r: Review, person: str) -> bool:
        """True while `person` has written no answer on the item after review `r`."""
        return not any(
            a.item == r.item and a.annotator_id == person and a.created_at > r.created_at
            for a in answers
        )

    # -- review
    def _reviewer(self, as_person: str) -> None:
        role = self.role_of(as_person)
        if role not in ("reviewer", "admin"):
            raise LabelError(
                f"'{as_person}' is a {role}; only reviewers (and admins) review; nothing written"
            )

    def _human_answer(self, conn: Connection, answer_id: int) -> Answer:
        row = conn.execute(sa.select(s.answers).where(s.answers.c.id == answer_id)).first()
        if row is None:
            raise LabelError(f"answer {answer_id} does not exist; `haptics labels log` lists them")
        return _answer(row)

    def _insert_review(
        self,
        conn: Connection,
        item: Item,
        reviewer: str,
        decision: str,
        answer_id: int | None,
        annotator: str | None,
        rationale: str | None,
    ) -> int:
        res = conn.execute(
            s.reviews.insert().values(
                session_id=item.session_id,
                taxonomy=item.taxonomy,
                key=item.key,
                reviewer_id=reviewer,
                decision=decision,
                answer_id=answer_id,
                annotator_id=annotator,
                rationale=rationale,
                created_at=now_utc(),
            )
        )
        return _new_id(res)

    def accept(self, answer_id: int, as_person: str, rationale: str | None = None) -> int:
        """Accept one answer as the reviewed one for its item; the review row's id.

        Raises LabelError (nothing written) if `as_person` is not a reviewer or the answer
        does not exist.
        """
        self._reviewer(as_person)

        def run(conn: Connection) -> int:
            a = self._human_answer(conn, answer_id)
            return self._insert_review(
                conn, a.item, as_person, "accepted", a.id, a.annotator_id, rationale
            )

        return self._write(run)

    def correct(
        self,
        answer_id: int,
        value: Any,
        rationale: str,
        as_person: str,
        t0_ns: int | None = None,
        t1_ns: int | None = None,
    ) -> tuple[int, int]:
        """Correct an answer: a new answer by the reviewer that supersedes it, with a
        rationale, and a `corrected` review row; (new answer id, review id). Times default
        to the corrected answer's. Raises LabelError (nothing written) as `add_answers`."""
        self._reviewer(as_person)
        if not rationale:
            raise LabelError("a correction needs a rationale (--rationale); nothing written")
        sessions: dict[str, Any] = {}

        def run(conn: Connection) -> tuple[int, int]:
            old = self._human_answer(conn, answer_id)
            new = NewAnswer(
                old.session_id,
                old.taxonomy,
                old.key,
                value,
                t0_ns=old.t0_ns if t0_ns is None else t0_ns,
                t1_ns=old.t1_ns if t1_ns is None else t1_ns,
                supersedes=old.id,
                rationale=rationale,
            )
            row = self._validate(conn, new, as_person, "reviewer", sessions)
            (new_id,) = self._insert_answers(conn, [row])
            rid = self._insert_review(
                conn, old.item, as_person, "corrected", new_id, old.annotator_id, rationale
            )
            return new_id, rid

        return self._write(run)

    def send_back(self, item: Item, annotator: str, rationale: str, as_person: str) -> int:
        """Send an annotator's work on an item back for rework (it returns to their queue);
        the review row's id. Raises LabelError (nothing written) if `as_person` is not a
        reviewer, no rationale is given, or the annotator has not answered the item."""
        self._reviewer(as_person)
        if not rationale:
            raise LabelError("say why the work goes back (--rationale); nothing written")
        self.role_of(annotator)

        def run(conn: Connection) -> int:
            answered = conn.execute(
                sa.select(s.answers.c.id).where(
                    s.answers.c.session_id == item.session_id,
                    s.answers.c.taxonomy == item.taxonomy,
                    s.answers.c.key == item.key,
                    s.answers.c.annotator_id == annotator,
                )
            ).first()
            if answered is None:
                raise LabelError(f"'{annotator}' has not answered {item}; nothing to send back")
            return self._insert_review(conn, item, as_person, "rework", None, annotator, rationale)

        return self._write(run)
