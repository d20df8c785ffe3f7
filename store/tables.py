"""SQLAlchemy tables for the shared-data registries of `engine.registries.REGISTRIES` (docs/architecture.md).

One class per registry, table name = registry name. Every table has a surrogate `row_id` and a UNIQUE
constraint over the registry's key columns; columns that look-ups filter on are indexed (a column that
leads the key is served by the unique constraint's index, so it gets no second index).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, MetaData, Numeric, String, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

SCALE = 4
"""Decimal places kept for `decimal` columns (NUMERIC(18, 4))."""
PRECISION = 18
_QUANTUM = Decimal(1).scaleb(-SCALE)
_LIMIT = Decimal(10) ** (PRECISION - SCALE)


def to_numeric(value: Decimal) -> Decimal | None:
    """`value` at scale 4, or None when NUMERIC(18, 4) cannot hold it exactly."""
    if not value.is_finite():
        return None
    quantized = value.quantize(_QUANTUM)
    if quantized != value or abs(quantized) >= _LIMIT:
        return None
    return quantized


class ExactNumeric(TypeDecorator[Decimal]):
    """NUMERIC(18, 4) returned as Decimal, exact on every backend.

    PostgreSQL stores it natively. SQLite has no decimal type (SQLAlchemy's Numeric goes through float
    there and loses digits beyond ~15 significant ones), so on SQLite the value is stored as an integer
    count of 1/10000 units: exact, and SQL comparisons and sums through this type still work.
    """

    impl = Numeric(PRECISION, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(PRECISION, SCALE))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise TypeError(f"decimal column expects Decimal, int or str, got {type(value).__name__}")
        exact = to_numeric(Decimal(value))
        if exact is None:
            raise ValueError(f"{value!r} does not fit NUMERIC({PRECISION}, {SCALE}) exactly")
        if dialect.name == "sqlite":
            return int(exact.scaleb(SCALE))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-SCALE)
        return Decimal(value).quantize(_QUANTUM)


ID = 18
"""Length of resident ID numbers and unified social credit codes."""
ENUM = 32
MONTH = 7

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_key",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


_TABLE_OPTIONS = {"sqlite_autoincrement": True}
"""row_id values are never reused on SQLite either (as with PostgreSQL sequences)."""


class Base(DeclarativeBase):
    """Declarative base of the storage tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Population(Base):
    """人口基础信息库."""

    __tablename__ = "population"
    __table_args__ = (UniqueConstraint("id_number"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id_number: Mapped[str] = mapped_column(String(ID))
    name: Mapped[str] = mapped_column(String)
    gender: Mapped[str] = mapped_column(String(ENUM))
    birth_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(ENUM))


class Marriage(Base):
    """婚姻登记信息库."""

    __tablename__ = "marriage"
    __table_args__ = (UniqueConstraint("id_number", "spouse_id_number", "registered_on"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id_number: Mapped[str] = mapped_column(String(ID))
    spouse_id_number: Mapped[str] = mapped_column(String(ID), index=True)
    status: Mapped[str] = mapped_column(String(ENUM))
    registered_on: Mapped[date] = mapped_column(Date)


class Kinship(Base):
    """亲属关系信息库."""

    __tablename__ = "kinship"
    __table_args__ = (UniqueConstraint("parent_id_number", "child_id_number"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id_number: Mapped[str] = mapped_column(String(ID))
    child_id_number: Mapped[str] = mapped_column(String(ID), index=True)


class RealEstate(Base):
    """不动产登记信息库 (co-owners are several rows with one cert_no)."""

    __tablename__ = "real_estate"
    __table_args__ = (UniqueConstraint("cert_no", "owner_id_number"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cert_no: Mapped[str] = mapped_column(String)
    owner_id_number: Mapped[str] = mapped_column(String(ID), index=True)
    address: Mapped[str] = mapped_column(String)
    area_m2: Mapped[Decimal] = mapped_column(ExactNumeric)
    usage: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(ENUM))
    registered_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class ContractFiling(Base):
    """商品房网签备案信息库."""

    __tablename__ = "contract_filings"
    __table_args__ = (UniqueConstraint("filing_no", "buyer_id_number"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filing_no: Mapped[str] = mapped_column(String)
    buyer_id_number: Mapped[str] = mapped_column(String(ID), index=True)
    seller_name: Mapped[str] = mapped_column(String)
    address: Mapped[str] = mapped_column(String)
    area_m2: Mapped[Decimal] = mapped_column(ExactNumeric)
    price_yuan: Mapped[Decimal] = mapped_column(ExactNumeric)
    signed_on: Mapped[date] = mapped_column(Date)
    usage: Mapped[str] = mapped_column(String)


class Enterprise(Base):
    """市场主体登记信息库."""

    __tablename__ = "enterprises"
    __table_args__ = (UniqueConstraint("credit_code"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credit_code: Mapped[str] = mapped_column(String(ID))
    name: Mapped[str] = mapped_column(String)
    legal_rep_id_number: Mapped[str | None] = mapped_column(String(ID), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(ENUM))
    registered_capital_yuan: Mapped[Decimal | None] = mapped_column(ExactNumeric, nullable=True)
    established_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    address: Mapped[str | None] = mapped_column(String, nullable=True)


class Certificate(Base):
    """电子证照信息库."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("cert_no", "kind"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cert_no: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    holder_id: Mapped[str] = mapped_column(String(ID), index=True)
    holder_name: Mapped[str] = mapped_column(String)
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(ENUM))


class CreditRecord(Base):
    """公共信用信息库."""

    __tablename__ = "credit_records"
    __table_args__ = (UniqueConstraint("subject_id", "kind", "listed_on", "reason"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(ENUM))
    reason: Mapped[str] = mapped_column(String)
    listed_on: Mapped[date] = mapped_column(Date)
    lifted_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class SafetyAccident(Base):
    """生产安全事故信息库."""

    __tablename__ = "safety_accidents"
    __table_args__ = (UniqueConstraint("credit_code", "occurred_on", "level"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credit_code: Mapped[str] = mapped_column(String(ID))
    occurred_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String)
    fatalities: Mapped[int] = mapped_column(Integer)


class SocialInsurance(Base):
    """社会保险参保缴费信息库 (one row per person, employer and month)."""

    __tablename__ = "social_insurance"
    __table_args__ = (UniqueConstraint("id_number", "employer_credit_code", "month"), _TABLE_OPTIONS)

    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id_number: Mapped[str] = mapped_column(String(ID))
    employer_credit_code: Mapped[str] = mapped_column(String(ID), index=True)
    month: Mapped[str] = mapped_column(String(MONTH))


TABLES: dict[str, type[Base]] = {
    cls.__tablename__: cls
    for cls in (
        Population,
        Marriage,
        Kinship,
        RealEstate,
        ContractFiling,
        Enterprise,
        Certificate,
        CreditRecord,
        SafetyAccident,
        SocialInsurance,
    )
}
"""Registry name → table class."""

ROW_ID = "row_id"
"""Name of the surrogate primary key column every table has."""
