"""The label store's tables, as SQLAlchemy Core: one schema for SQLite and PostgreSQL.

The tables are created by the Alembic migrations in `migrations/versions/` (which also add
the append-only triggers); this module mirrors the newest revision for queries. `answers`,
`reviews`, `assignments` and `people` are append-only: the database refuses UPDATE and
DELETE on them. `sessions` and `taxonomies` are the catalog, rewritten by `dataset index`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ROLES = ("annotator", "reviewer", "admin", "model")
DECISIONS = ("accepted", "corrected", "rework")
APPEND_ONLY_TABLES = ("answers", "reviews", "assignments", "people")

# An integer primary key that is SQLite's rowid there and a BIGINT identity on PostgreSQL.
_ID = BigInteger().with_variant(Integer(), "sqlite")

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("scene", String(64)),
    Column("device", String(64)),
    Column("provenance", String(64)),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("qa_passed", Boolean),
    Column("indexed_at", String(40), nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("person_id", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
)

taxonomies = Table(
    "taxonomies",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("toml", Text, nullable=False),
    Column("added_at", String(40), nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.session_id"), nullable=False),
    Column("taxonomy", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("annotator_id", String(128), ForeignKey("people.person_id"), nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_assignments_item", assignments.c.session_id, assignments.c.taxonomy, assignments.c.key)

answers = Table(
    "answers",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.session_id"), nullable=False),
    Column("target", String(16), nullable=False),  # session | interval | instant
    Column("t0_ns", BigInteger),  # host time (interval start or the instant)
    Column("t1_ns", BigInteger),  # host time (interval end)
    Column("taxonomy", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Column("annotator_id", String(128), ForeignKey("people.person_id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("supersedes", _ID, ForeignKey("answers.id")),
    Column("rationale", Text),
    Column("detector", String(128)),
    Column("detector_version", String(64)),
    Column("confidence", Float),
)
Index("ix_answers_item", answers.c.session_id, answers.c.taxonomy, answers.c.key)
Index("ix_answers_annotator", answers.c.annotator_id)

reviews = Table(
    "reviews",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.session_id"), nullable=False),
    Column("taxonomy", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("reviewer_id", String(128), ForeignKey("people.person_id"), nullable=False),
    Column("decision", String(16), nullable=False),  # accepted | corrected | rework
    Column("answer_id", _ID, ForeignKey("answers.id")),  # the accepted or correcting answer
    Column("annotator_id", String(128), ForeignKey("people.person_id")),  # whose work
    Column("rationale", Text),
    Column("created_at", String(40), nullable=False),
)
Index("ix_reviews_item", reviews.c.session_id, reviews.c.taxonomy, reviews.c.key)
