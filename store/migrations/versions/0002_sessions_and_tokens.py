"""Sign-ins that end: users get the time before which their page sessions are no longer valid
(sign-out, revocation) and the expiry of their API token.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.records

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("sessions_valid_after", store.records.UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("token_expires_at", store.records.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_expires_at")
        batch.drop_column("sessions_valid_after")
