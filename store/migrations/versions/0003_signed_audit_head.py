"""A signed audit trail: the head's HMAC under the audit key, and the table of signed checkpoints.

Heads written before this revision carry no signature; `miaopi audit sign-head` signs one after the
chain has been checked.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.records

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("signature", sa.String(length=64), nullable=True))

    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", store.records.UtcDateTime(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.create_index(batch.f("ix_audit_checkpoints_seq"), ["seq"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("signature")
