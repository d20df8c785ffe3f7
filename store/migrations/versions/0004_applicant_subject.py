"""Applicant accounts bound to one subject: a person's ID number, or an enterprise's unified social
credit code with the ID number of the person acting for it and in what capacity.

Accounts made before this revision have no subject; an applicant among them cannot submit or pre-check
until one is bound.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("subject_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("subject_id", sa.String(length=18), nullable=True))
        batch.add_column(sa.Column("acting_id_number", sa.String(length=18), nullable=True))
        batch.add_column(sa.Column("acting_as", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("acting_as")
        batch.drop_column("acting_id_number")
        batch.drop_column("subject_id")
        batch.drop_column("subject_kind")
