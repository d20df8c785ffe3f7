"""Rounds of a case: a returned case corrected by its applicant (补正) is decided again on the same case.

`cases.round` counts the submission (1) and each correction; decisions, tasks and extractions carry
the round they belong to, and are unique per case and round instead of per case. Existing rows are
round 1. Downgrading keeps only the first round's rows of a case that has several (the schema before
this revision holds one decision, one task of a kind and one extraction of a kind per case).

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _round() -> sa.Column[int]:
    return sa.Column("round", sa.Integer(), nullable=False, server_default="1")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(_round())
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(_round())
        batch.drop_constraint("uq_decisions_key", type_="unique")
        batch.create_unique_constraint("uq_decisions_key", ["case_id", "round"])
        batch.create_index("ix_decisions_case_id", ["case_id"], unique=False)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(_round())
        batch.drop_constraint("uq_tasks_key", type_="unique")
        batch.create_unique_constraint("uq_tasks_key", ["case_id", "kind", "round"])
    with op.batch_alter_table("extractions") as batch:
        batch.add_column(_round())
        batch.drop_constraint("uq_extractions_key", type_="unique")
        batch.create_unique_constraint("uq_extractions_key", ["case_id", "round", "kind"])


def downgrade() -> None:
    for table in ("decisions", "tasks", "extractions"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE round > 1"))
    with op.batch_alter_table("extractions") as batch:
        batch.drop_constraint("uq_extractions_key", type_="unique")
        batch.create_unique_constraint("uq_extractions_key", ["case_id", "kind"])
        batch.drop_column("round")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint("uq_tasks_key", type_="unique")
        batch.create_unique_constraint("uq_tasks_key", ["case_id", "kind"])
        batch.drop_column("round")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_case_id")
        batch.drop_constraint("uq_decisions_key", type_="unique")
        batch.create_unique_constraint("uq_decisions_key", ["case_id"])
        batch.drop_column("round")
    # not a copy of the table: on SQLite dropping `cases` to rebuild it would cascade to every table
    # that refers to it (ALTER TABLE … DROP COLUMN, SQLite 3.35 and later)
    with op.batch_alter_table("cases", recreate="never") as batch:
        batch.drop_column("round")
