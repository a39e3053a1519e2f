"""The label store: catalog, people, taxonomies, assignments, answers, reviews; append-only
triggers on answers, reviews, assignments and people.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("answers", "reviews", "assignments", "people")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _session_fk() -> sa.Column[str]:
    return sa.Column(
        "session_id", sa.String(64), sa.ForeignKey("sessions.session_id"), nullable=False
    )


def _person_fk(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(128), sa.ForeignKey("people.person_id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("scene", sa.String(64)),
        sa.Column("device", sa.String(64)),
        sa.Column("provenance", sa.String(64)),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("end_ns", sa.BigInteger, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("qa_passed", sa.Boolean),
        sa.Column("indexed_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "people",
        sa.Column("person_id", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.CheckConstraint("role IN ('annotator', 'reviewer', 'admin', 'model')", "ck_role"),
    )
    op.create_table(
        "taxonomies",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("toml", sa.Text, nullable=False),
        sa.Column("added_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("taxonomy", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        _person_fk("annotator_id"),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_assignments_item", "assignments", ["session_id", "taxonomy", "key"])
    op.create_table(
        "answers",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("t0_ns", sa.BigInteger),
        sa.Column("t1_ns", sa.BigInteger),
        sa.Column("taxonomy", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        _person_fk("annotator_id"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("supersedes", _ID, sa.ForeignKey("answers.id")),
        sa.Column("rationale", sa.Text),
        sa.Column("detector", sa.String(128)),
        sa.Column("detector_version", sa.String(64)),
        sa.Column("confidence", sa.Float),
        sa.CheckConstraint("target IN ('session', 'interval', 'instant')", "ck_target"),
        sa.CheckConstraint("role IN ('annotator', 'reviewer', 'admin', 'model')", "ck_answer_role"),
        sa.CheckConstraint("t1_ns IS NULL OR t1_ns >= t0_ns", "ck_interval_order"),
    )
    op.create_index("ix_answers_item", "answers", ["session_id", "taxonomy", "key"])
    op.create_index("ix_answers_annotator", "answers", ["annotator_id"])
    op.create_table(
        "reviews",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("taxonomy", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        _person_fk("reviewer_id"),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("answer_id", _ID, sa.ForeignKey("answers.id")),
        _person_fk("annotator_id", nullable=True),
        sa.Column("rationale", sa.Text),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.CheckConstraint("decision IN ('accepted', 'corrected', 'rework')", "ck_decision"),
    )
    op.create_index("ix_reviews_item", "reviews", ["session_id", "taxonomy", "key"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused; "
                    "add a new row instead'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION haptics_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused; add a new row instead', "
            "TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION haptics_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION haptics_append_only()"
            )
    else:
        raise NotImplementedError(f"no append-only triggers for the {dialect} dialect")


def downgrade() -> None:
    for table in ("reviews", "answers", "assignments", "taxonomies", "people", "sessions"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS haptics_append_only()")
