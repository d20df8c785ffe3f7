"""The catalogue of shared-data registries (docs/architecture.md): names, columns, value kinds, keys.

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
    title: str = ""
    """The column's Chinese title, as the approvers' pages show it."""


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


def _c(
    name: str, kind: ColumnKind, nullable: bool = False, choices: tuple[str, ...] = (), *, title: str
) -> Column:
    return Column(name=name, kind=kind, nullable=nullable, choices=choices, title=title)


REGISTRIES: dict[str, Registry] = {
    r.name: r
    for r in (
        Registry(
            "population",
            "人口基础信息库",
            (
                _c("id_number", "id_number", title="身份证号码"),
                _c("name", "string", title="姓名/名称"),
                _c("gender", "enum", choices=("男", "女"), title="性别"),
                _c("birth_date", "date", title="出生日期"),
                _c("status", "enum", choices=("normal", "deceased", "cancelled"), title="状态"),
            ),
            ("id_number",),
        ),
        Registry(
            "marriage",
            "婚姻登记信息库",
            (
                _c("id_number", "id_number", title="身份证号码"),
                _c("spouse_id_number", "id_number", title="配偶身份证号码"),
                _c("status", "enum", choices=("married", "divorced"), title="状态"),
                _c("registered_on", "date", title="登记日期"),
            ),
            ("id_number", "spouse_id_number", "registered_on"),
        ),
        Registry(
            "kinship",
            "亲属关系信息库",
            (
                _c("parent_id_number", "id_number", title="父母身份证号码"),
                _c("child_id_number", "id_number", title="子女身份证号码"),
            ),
            ("parent_id_number", "child_id_number"),
        ),
        Registry(
            "real_estate",
            "不动产登记信息库",
            (
                _c("cert_no", "string", title="证书编号"),
                _c("owner_id_number", "subject_id", title="权利人身份证号码"),
                _c("address", "string", title="地址"),
                _c("area_m2", "decimal", title="面积（平方米）"),
                _c("usage", "string", title="用途"),
                _c("status", "enum", choices=("active", "cancelled"), title="状态"),
                _c("registered_on", "date", nullable=True, title="登记日期"),
            ),
            ("cert_no", "owner_id_number"),
        ),
        Registry(
            "contract_filings",
            "商品房网签备案信息库",
            (
                _c("filing_no", "string", title="备案号"),
                _c("buyer_id_number", "subject_id", title="买受人身份证号码"),
                _c("seller_name", "string", title="出卖人"),
                _c("address", "string", title="地址"),
                _c("area_m2", "decimal", title="面积（平方米）"),
                _c("price_yuan", "decimal", title="价格（元）"),
                _c("signed_on", "date", title="签订日期"),
                _c("usage", "string", title="用途"),
            ),
            ("filing_no", "buyer_id_number"),
        ),
        Registry(
            "enterprises",
            "市场主体登记信息库",
            (
                _c("credit_code", "credit_code", title="统一社会信用代码"),
                _c("name", "string", title="姓名/名称"),
                _c("legal_rep_id_number", "id_number", nullable=True, title="法定代表人身份证号码"),
                _c("status", "enum", choices=("active", "revoked", "cancelled"), title="状态"),
                _c("registered_capital_yuan", "decimal", nullable=True, title="注册资本（元）"),
                _c("established_on", "date", nullable=True, title="成立日期"),
                _c("address", "string", nullable=True, title="地址"),
            ),
            ("credit_code",),
        ),
        Registry(
            "certificates",
            "电子证照信息库",
            (
                _c("cert_no", "string", title="证书编号"),
                _c("kind", "string", title="类别"),
                _c("holder_id", "subject_id", title="持有人证件号"),
                _c("holder_name", "string", title="持有人"),
                _c("issued_on", "date", nullable=True, title="发证日期"),
                _c("expires_on", "date", nullable=True, title="有效期至"),
                _c("status", "enum", choices=("valid", "suspended", "revoked", "expired"), title="状态"),
            ),
            ("cert_no", "kind"),
        ),
        Registry(
            "credit_records",
            "公共信用信息库",
            (
                _c("subject_id", "subject_id", title="主体证件号"),
                _c("kind", "enum", choices=("blacklist", "penalty", "bad_record"), title="类别"),
                _c("reason", "string", title="事由"),
                _c("listed_on", "date", title="列入日期"),
                _c("lifted_on", "date", nullable=True, title="移出日期"),
            ),
            ("subject_id", "kind", "listed_on", "reason"),
        ),
        Registry(
            "safety_accidents",
            "生产安全事故信息库",
            (
                _c("credit_code", "credit_code", title="统一社会信用代码"),
                _c("occurred_on", "date", title="发生日期"),
                _c("level", "string", title="等级"),
                _c("fatalities", "integer", title="死亡人数"),
            ),
            ("credit_code", "occurred_on", "level"),
        ),
        Registry(
            "social_insurance",
            "社会保险参保缴费信息库",
            (
                _c("id_number", "id_number", title="身份证号码"),
                _c("employer_credit_code", "credit_code", title="参保单位信用代码"),
                _c("month", "month", title="月份"),
            ),
            ("id_number", "employer_credit_code", "month"),
        ),
    )
}
