"""The catalogue of shared-data registries (DESIGN.md §3): names, columns, value kinds and record keys.

The decision core reasons about registry rows through this catalogue only; storage adapters keep
their tables in step with it (a test checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal[
    "string", "id_number", "credit_code", "subject_id", "decimal", "integer", "date", "month", "enum"
]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    nullable: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Registry:
    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """Columns that identify one row; a decision cites a record by these."""

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, kind: ColumnKind, nullable: bool = False, choices: tuple[str, ...] = ()) -> Column:
    return Column(name=name, kind=kind, nullable=nullable, choices=choices)


REGISTRIES: dict[str, Registry] = {
    r.name: r
    for r in (
        Registry(
            "population",
            "人口基础信息库",
            (
                _c("id_number", "id_number"),
                _c("name", "string"),
                _c("gender", "enum", choices=("男", "女")),
                _c("birth_date", "date"),
                _c("status", "enum", choices=("normal", "deceased", "cancelled")),
            ),
            ("id_number",),
        ),
        Registry(
            "marriage",
            "婚姻登记信息库",
            (
                _c("id_number", "id_number"),
                _c("spouse_id_number", "id_number"),
                _c("status", "enum", choices=("married", "divorced")),
                _c("registered_on", "date"),
            ),
            ("id_number", "spouse_id_number", "registered_on"),
        ),
        Registry(
            "kinship",
            "亲属关系信息库",
            (_c("parent_id_number", "id_number"), _c("child_id_number", "id_number")),
            ("parent_id_number", "child_id_number"),
        ),
        Registry(
            "real_estate",
            "不动产登记信息库",
            (
                _c("cert_no", "string"),
                _c("owner_id_number", "subject_id"),
                _c("address", "string"),
                _c("area_m2", "decimal"),
                _c("usage", "string"),
                _c("status", "enum", choices=("active", "cancelled")),
                _c("registered_on", "date", nullable=True),
            ),
            ("cert_no", "owner_id_number"),
        ),
        Registry(
            "contract_filings",
            "商品房网签备案信息库",
            (
                _c("filing_no", "string"),
                _c("buyer_id_number", "subject_id"),
                _c("seller_name", "string"),
                _c("address", "string"),
                _c("area_m2", "decimal"),
                _c("price_yuan", "decimal"),
                _c("signed_on", "date"),
                _c("usage", "string"),
            ),
            ("filing_no", "buyer_id_number"),
        ),
        Registry(
            "enterprises",
            "市场主体登记信息库",
            (
                _c("credit_code", "credit_code"),
                _c("name", "string"),
                _c("legal_rep_id_number", "id_number", nullable=True),
                _c("status", "enum", choices=("active", "revoked", "cancelled")),
                _c("registered_capital_yuan", "decimal", nullable=True),
                _c("established_on", "date", nullable=True),
                _c("address", "string", nullable=True),
            ),
            ("credit_code",),
        ),
        Registry(
            "certificates",
            "电子证照信息库",
            (
                _c("cert_no", "string"),
                _c("kind", "string"),
                _c("holder_id", "subject_id"),
                _c("holder_name", "string"),
                _c("issued_on", "date", nullable=True),
                _c("expires_on", "date", nullable=True),
                _c("status", "enum", choices=("valid", "suspended", "revoked", "expired")),
            ),
            ("cert_no", "kind"),
        ),
        Registry(
            "credit_records",
            "公共信用信息库",
            (
                _c("subject_id", "subject_id"),
                _c("kind", "enum", choices=("blacklist", "penalty", "bad_record")),
                _c("reason", "string"),
                _c("listed_on", "date"),
                _c("lifted_on", "date", nullable=True),
            ),
            ("subject_id", "kind", "listed_on", "reason"),
        ),
        Registry(
            "safety_accidents",
            "生产安全事故信息库",
            (
                _c("credit_code", "credit_code"),
                _c("occurred_on", "date"),
                _c("level", "string"),
                _c("fatalities", "integer"),
            ),
            ("credit_code", "occurred_on", "level"),
        ),
        Registry(
            "social_insurance",
            "社会保险参保缴费信息库",
            (
                _c("id_number", "id_number"),
                _c("employer_credit_code", "credit_code"),
                _c("month", "month"),
            ),
            ("id_number", "employer_credit_code", "month"),
        ),
    )
}
