"""Test data for the store tests: valid identifiers, CSV writing, a small data set, table dumps."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from stdnum.cn import ric, uscc

from engine.registries import REGISTRIES
from store.tables import TABLES

Rows = dict[str, list[dict[str, Any]]]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def resident_id(*, region: str = "110101", born: date = date(1990, 3, 7), seq: int = 1) -> str:
    """A valid 18-character resident ID number."""
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    number = body + ric.calc_check_digit(body + "0")
    assert ric.is_valid(number), number
    return number


def credit_code(n: int, *, prefix: str = "91110000") -> str:
    """A valid unified social credit code, distinct for each n."""
    digits = []
    for _ in range(9):
        n, r = divmod(n, len(USCC_ALPHABET))
        digits.append(USCC_ALPHABET[r])
    body = prefix + "".join(reversed(digits))
    code = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(code), code
    return code


def render(value: Any) -> str:
    """A Python value as a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_csv(
    directory: Path,
    registry: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    bom: bool = False,
) -> Path:
    """Write `rows` as `<registry>.csv` (header = catalogue order unless `columns` is given)."""
    directory.mkdir(parents=True, exist_ok=True)
    header = list(columns if columns is not None else REGISTRIES[registry].column_names)
    path = directory / f"{registry}.csv"
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([render(row.get(c)) for c in header])
    return path


def write_dataset(directory: Path, data: Rows) -> Path:
    for registry, rows in data.items():
        write_csv(directory, registry, rows)
    return directory


def write_raw(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(text.encode("utf-8"))
    return path


def dump(engine: Engine, *, with_row_id: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows (with row_id unless told), ordered by row_id."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, table in TABLES.items():
            rows = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.row_id))]
            if not with_row_id:
                for r in rows:
                    del r["row_id"]
            out[name] = rows
    return out


def sort_by_key(registry: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    key = REGISTRIES[registry].key
    return [dict(r) for r in sorted(rows, key=lambda r: tuple(r[k] for k in key))]


# A small valid data set touching every registry and every column kind.
P1 = resident_id(seq=1)  # 张三
P2 = resident_id(seq=2, born=date(1991, 5, 20))  # 李四, 张三's spouse
P3 = resident_id(region="310101", born=date(2015, 8, 1), seq=3)  # their child
P4 = resident_id(region="120101", born=date(1960, 1, 31), seq=4)
E1 = credit_code(1)
E2 = credit_code(2)
E3 = credit_code(123456)


def _x_id() -> str:
    """A resident ID whose check character is X."""
    for seq in range(1000):
        number = resident_id(seq=seq, born=date(1985, 6, 15))
        if number.endswith("X"):
            return number
    raise AssertionError("no X check character found")


X_ID = _x_id()


def dataset() -> Rows:
    return {
        "population": [
            {
                "id_number": P1,
                "name": "张三",
                "gender": "男",
                "birth_date": date(1990, 3, 7),
                "status": "normal",
            },
            {
                "id_number": P2,
                "name": "李四",
                "gender": "女",
                "birth_date": date(1991, 5, 20),
                "status": "normal",
            },
            {
                "id_number": P3,
                "name": "张小明",
                "gender": "男",
                "birth_date": date(2015, 8, 1),
                "status": "normal",
            },
            {
                "id_number": P4,
                "name": "王五",
                "gender": "男",
                "birth_date": date(1960, 1, 31),
                "status": "deceased",
            },
            {
                "id_number": X_ID,
                "name": "赵六",
                "gender": "女",
                "birth_date": date(1985, 6, 15),
                "status": "normal",
            },
        ],
        "marriage": [
            {
                "id_number": P1,
                "spouse_id_number": P2,
                "status": "married",
                "registered_on": date(2014, 2, 14),
            },
            {
                "id_number": P2,
                "spouse_id_number": P1,
                "status": "married",
                "registered_on": date(2014, 2, 14),
            },
        ],
        "kinship": [
            {"parent_id_number": P1, "child_id_number": P3},
            {"parent_id_number": P2, "child_id_number": P3},
        ],
        "real_estate": [
            {
                "cert_no": "京(2020)东城区不动产权第0000001号",
                "owner_id_number": P1,
                "address": "北京市东城区某街1号",
                "area_m2": Decimal("89.5000"),
                "usage": "residential",
                "status": "active",
                "registered_on": date(2020, 5, 1),
            },
            {
                "cert_no": "京(2020)东城区不动产权第0000001号",
                "owner_id_number": P2,
                "address": "北京市东城区某街1号",
                "area_m2": Decimal("89.5"),
                "usage": "residential",
                "status": "active",
                "registered_on": None,
            },
            {
                "cert_no": "沪(2018)黄浦区不动产权第0000099号",
                "owner_id_number": E1,
                "address": "上海市黄浦区某路9号",
                "area_m2": Decimal("1200.25"),
                "usage": "office",
                "status": "cancelled",
                "registered_on": date(2018, 1, 2),
            },
        ],
        "contract_filings": [
            {
                "filing_no": "WQ2026000123",
                "buyer_id_number": P1,
                "seller_name": "某房地产开发有限公司",
                "address": "北京市朝阳区某路8号1-101",
                "area_m2": Decimal("120.55"),
                "price_yuan": Decimal("12345678901234.5678"),
                "signed_on": date(2026, 10, 1),
                "usage": "residential",
            },
            {
                "filing_no": "WQ2026000123",
                "buyer_id_number": P2,
                "seller_name": "某房地产开发有限公司",
                "address": "北京市朝阳区某路8号1-101",
                "area_m2": Decimal("120.55"),
                "price_yuan": Decimal("3000000"),
                "signed_on": date(2026, 10, 1),
                "usage": "residential",
            },
        ],
        "enterprises": [
            {
                "credit_code": E1,
                "name": "北京某某科技有限公司",
                "legal_rep_id_number": P1,
                "status": "active",
                "registered_capital_yuan": Decimal("1000000.00"),
                "established_on": date(2010, 7, 1),
                "address": "北京市海淀区某路2号",
            },
            {
                "credit_code": E2,
                "name": "某某建筑工程有限公司",
                "legal_rep_id_number": None,
                "status": "revoked",
                "registered_capital_yuan": None,
                "established_on": None,
                "address": None,
            },
        ],
        "certificates": [
            {
                "cert_no": "(京)JZ安许证字[2020]000123",
                "kind": "safety_permit",
                "holder_id": E1,
                "holder_name": "北京某某科技有限公司",
                "issued_on": date(2020, 1, 1),
                "expires_on": date(2023, 1, 1),
                "status": "valid",
            },
            {
                "cert_no": "110101199003071233-DL",
                "kind": "driving_licence",
                "holder_id": P1,
                "holder_name": "张三",
                "issued_on": None,
                "expires_on": None,
                "status": "suspended",
            },
        ],
        "credit_records": [
            {
                "subject_id": E2,
                "kind": "blacklist",
                "reason": "拖欠工资",
                "listed_on": date(2024, 3, 1),
                "lifted_on": None,
            },
            {
                "subject_id": E2,
                "kind": "blacklist",
                "reason": 'Abc, "quoted"\nsecond line',
                "listed_on": date(2024, 3, 1),
                "lifted_on": date(2025, 3, 1),
            },
            {
                "subject_id": P4,
                "kind": "penalty",
                "reason": "逃税",
                "listed_on": date(2019, 9, 9),
                "lifted_on": None,
            },
        ],
        "safety_accidents": [
            {"credit_code": E3, "occurred_on": date(2023, 4, 5), "level": "一般事故", "fatalities": 1},
            {"credit_code": E3, "occurred_on": date(2023, 4, 5), "level": "较大事故", "fatalities": 0},
        ],
        "social_insurance": [
            {"id_number": P1, "employer_credit_code": E1, "month": "2026-08"},
            {"id_number": P1, "employer_credit_code": E1, "month": "2026-09"},
            {"id_number": P1, "employer_credit_code": E1, "month": "2026-10"},
            {"id_number": P2, "employer_credit_code": E2, "month": "2026-10"},
        ],
        "academic_records": [
            {
                "id_number": P2,
                "name": "李四",
                "school": "深圳大学",
                "degree": "bachelor",
                "study_mode": "full_time",
                "graduated_on": date(2013, 6, 30),
                "certificate_no": "105901201305000123",
            },
            {
                "id_number": P2,
                "name": "李四",
                "school": "深圳大学",
                "degree": "master",
                "study_mode": "part_time",
                "graduated_on": None,
                "certificate_no": "105901201605000456",
            },
        ],
        "household_registrations": [
            {
                "id_number": P1,
                "name": "张三",
                "address": "深圳市南山区粤海街道1号",
                "police_station": "深圳市公安局南山分局粤海派出所",
                "status": "moved_out",
                "registered_on": date(2012, 9, 1),
                "left_on": date(2015, 3, 2),
            },
        ],
        "criminal_records": [
            {
                "id_number": P4,
                "record_no": "治2019-0001",
                "category": "public_security",
                "offence": "扰乱公共秩序",
                "decided_on": date(2019, 5, 6),
                "authority": "某市公安局某分局",
            },
        ],
    }
