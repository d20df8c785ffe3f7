"""Shared-data registry tables

Revision ID: 0000
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.records
import store.tables

revision = "0000"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cert_no", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("holder_id", sa.String(length=18), nullable=False),
        sa.Column("holder_name", sa.String(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("cert_no", "kind", name=op.f("uq_certificates_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_holder_id"), ["holder_id"], unique=False)

    op.create_table(
        "contract_filings",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filing_no", sa.String(), nullable=False),
        sa.Column("buyer_id_number", sa.String(length=18), nullable=False),
        sa.Column("seller_name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("area_m2", store.tables.ExactNumeric(precision=18, scale=4), nullable=False),
        sa.Column("price_yuan", store.tables.ExactNumeric(precision=18, scale=4), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("usage", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_contract_filings")),
        sa.UniqueConstraint("filing_no", "buyer_id_number", name=op.f("uq_contract_filings_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("contract_filings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contract_filings_buyer_id_number"), ["buyer_id_number"], unique=False
        )

    op.create_table(
        "credit_records",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=18), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("lifted_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_credit_records")),
        sa.UniqueConstraint("subject_id", "kind", "listed_on", "reason", name=op.f("uq_credit_records_key")),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "enterprises",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("legal_rep_id_number", sa.String(length=18), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("registered_capital_yuan", store.tables.ExactNumeric(precision=18, scale=4), nullable=True),
        sa.Column("established_on", sa.Date(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_enterprises")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_enterprises_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enterprises_legal_rep_id_number"), ["legal_rep_id_number"], unique=False
        )

    op.create_table(
        "kinship",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("parent_id_number", sa.String(length=18), nullable=False),
        sa.Column("child_id_number", sa.String(length=18), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_kinship")),
        sa.UniqueConstraint("parent_id_number", "child_id_number", name=op.f("uq_kinship_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("kinship", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kinship_child_id_number"), ["child_id_number"], unique=False)

    op.create_table(
        "marriage",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("spouse_id_number", sa.String(length=18), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_marriage")),
        sa.UniqueConstraint("id_number", "spouse_id_number", "registered_on", name=op.f("uq_marriage_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("marriage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_marriage_spouse_id_number"), ["spouse_id_number"], unique=False)

    op.create_table(
        "population",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("gender", sa.String(length=32), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_population")),
        sa.UniqueConstraint("id_number", name=op.f("uq_population_key")),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "real_estate",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cert_no", sa.String(), nullable=False),
        sa.Column("owner_id_number", sa.String(length=18), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("area_m2", store.tables.ExactNumeric(precision=18, scale=4), nullable=False),
        sa.Column("usage", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_real_estate")),
        sa.UniqueConstraint("cert_no", "owner_id_number", name=op.f("uq_real_estate_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("real_estate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_real_estate_owner_id_number"), ["owner_id_number"], unique=False)

    op.create_table(
        "safety_accidents",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("fatalities", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_safety_accidents")),
        sa.UniqueConstraint("credit_code", "occurred_on", "level", name=op.f("uq_safety_accidents_key")),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "social_insurance",
        sa.Column("row_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("employer_credit_code", sa.String(length=18), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_social_insurance")),
        sa.UniqueConstraint(
            "id_number", "employer_credit_code", "month", name=op.f("uq_social_insurance_key")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("social_insurance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_social_insurance_employer_credit_code"), ["employer_credit_code"], unique=False
        )


def downgrade() -> None:
    op.drop_table("social_insurance")
    op.drop_table("safety_accidents")
    op.drop_table("real_estate")
    op.drop_table("population")
    op.drop_table("marriage")
    op.drop_table("kinship")
    op.drop_table("enterprises")
    op.drop_table("credit_records")
    op.drop_table("contract_filings")
    op.drop_table("certificates")
