"""好差评: the applicant's rating of a case that has ended, one per case.

Follow-up tasks (kind `follow_up`) opened by a bad rating live in the existing `tasks` table, whose
kind column already holds any short text.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.records

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("rated_by", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", store.records.UtcDateTime(), nullable=False),
        sa.Column("follow_up_task", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_ratings_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["rated_by"], ["users.id"], name=op.f("fk_ratings_rated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("case_id", name=op.f("uq_ratings_key")),
    )
    op.create_index("ix_ratings_item_department", "ratings", ["item", "department"])


def downgrade() -> None:
    op.drop_index("ix_ratings_item_department", table_name="ratings")
    op.drop_table("ratings")
