"""Parsing and checking registry values by column kind (engine.registries.ColumnKind)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.identifiers import is_valid_credit_code, is_valid_id_number
from engine.registries import Column
from store.tables import PRECISION, SCALE, to_numeric

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""Range of `integer` columns (SQL INTEGER)."""

_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


class CellProblem(Exception):
    """A value that does not fit its column: stable code plus Chinese and English explanations."""

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_en = message_en


def show(value: str, limit: int = 40) -> str:
    """`value` quoted for an error message, shortened when long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def is_resident_id(value: str) -> bool:
    """A valid PRC resident ID number in canonical form (18 characters, check character `X` upper case).

    Same rule as the decision core (engine.identifiers): stdnum's format, checksum and birth-date checks."""
    return is_valid_id_number(value)


def is_credit_code(value: str) -> bool:
    """A valid unified social credit code in canonical form (18 upper-case characters)."""
    return is_valid_credit_code(value)


def parse_decimal(text: str) -> Decimal:
    """A plain decimal number ('-12.5'; no exponent, no thousands separators) that fits NUMERIC(18, 4)."""
    if not _DECIMAL.fullmatch(text):
        raise CellProblem(
            "invalid_decimal",
            f"数值格式应为十进制数（不含千位分隔符），实际为 {show(text)}",
            f"decimal number expected (no thousands separators), got {show(text)}",
        )
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid literals
        raise CellProblem(
            "invalid_decimal", f"无法解析数值 {show(text)}", f"cannot parse {show(text)}"
        ) from exc
    exact = to_numeric(value)
    if exact is None:
        digits = PRECISION - SCALE
        raise CellProblem(
            "decimal_out_of_range",
            f"数值超出范围（整数部分最多{digits}位、小数最多{SCALE}位），实际为 {show(text)}",
            f"value out of range (at most {digits} integer digits and {SCALE} decimals), got {show(text)}",
        )
    return exact


def parse_integer(text: str) -> int:
    """A decimal integer within the SQL INTEGER range."""
    if not _INTEGER.fullmatch(text):
        raise CellProblem(
            "invalid_integer", f"应为整数，实际为 {show(text)}", f"integer expected, got {show(text)}"
        )
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise CellProblem(
            "integer_out_of_range",
            f"整数超出范围，实际为 {show(text)}",
            f"integer out of range (32-bit), got {show(text)}",
        )
    return value


def parse_date(text: str) -> date:
    """An ISO date YYYY-MM-DD."""
    if not _DATE.fullmatch(text):
        raise CellProblem(
            "invalid_date",
            f"日期格式应为 YYYY-MM-DD，实际为 {show(text)}",
            f"date must be YYYY-MM-DD, got {show(text)}",
        )
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CellProblem(
            "invalid_date", f"不是有效的日期：{show(text)}", f"not a calendar date: {show(text)}"
        ) from exc


def parse_month(text: str) -> str:
    """A month YYYY-MM, returned as given."""
    found = _MONTH.fullmatch(text)
    if not found or found.group(1) == "0000":
        raise CellProblem(
            "invalid_month",
            f"月份格式应为 YYYY-MM，实际为 {show(text)}",
            f"month must be YYYY-MM, got {show(text)}",
        )
    return text


def parse_cell(column: Column, text: str) -> Any:
    """The typed value of a non-empty CSV cell of `column`; raises CellProblem when it does not fit."""
    kind = column.kind
    if kind == "string":
        return text
    if kind == "id_number":
        if not is_resident_id(text):
            raise CellProblem(
                "invalid_id_number",
                f"不是有效的公民身份号码（18位，校验码X须大写），实际为 {show(text)}",
                f"not a valid PRC resident ID number (18 characters, upper-case X), got {show(text)}",
            )
        return text
    if kind == "credit_code":
        if not is_credit_code(text):
            raise CellProblem(
                "invalid_credit_code",
                f"不是有效的统一社会信用代码（18位，字母大写），实际为 {show(text)}",
                f"not a valid unified social credit code (18 upper-case characters), got {show(text)}",
            )
        return text
    if kind == "subject_id":
        if not (is_resident_id(text) or is_credit_code(text)):
            raise CellProblem(
                "invalid_subject_id",
                f"既不是有效的公民身份号码，也不是有效的统一社会信用代码，实际为 {show(text)}",
                f"neither a resident ID number nor a unified social credit code, got {show(text)}",
            )
        return text
    if kind == "decimal":
        return parse_decimal(text)
    if kind == "integer":
        return parse_integer(text)
    if kind == "date":
        return parse_date(text)
    if kind == "month":
        return parse_month(text)
    if kind == "enum":
        if text not in column.choices:
            raise CellProblem(
                "invalid_enum",
                f"取值应为 {'、'.join(column.choices)} 之一，实际为 {show(text)}",
                f"value must be one of {', '.join(column.choices)}, got {show(text)}",
            )
        return text
    raise CellProblem(
        "unknown_kind", f"未知的列类型 {kind}", f"unknown column kind {kind}"
    )  # pragma: no cover
