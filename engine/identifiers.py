"""Validation of PRC resident ID numbers and unified social credit codes, with python-stdnum.

For ID numbers we use stdnum's format, checksum (ISO 7064 MOD 11-2) and birth-date checks but not its
birth-place check: stdnum refuses a region code for people born before the year the code was
assigned (e.g. 510104 成都市锦江区 from 1990), yet such IDs are real — people born earlier receive the
code of the county where they are registered when the ID is issued.
"""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError


def id_number_problem(value: object) -> str | None:
    """Why `value` is not a valid resident ID number (Chinese), or None when it is valid."""
    if not isinstance(value, str):
        return "应为字符串"
    if len(value) != 18:
        return f"应为 18 位，实际 {len(value)} 位"
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return "前 17 位须为数字，最后一位为数字或大写 X"
    if ric.calc_check_digit(value) != value[17]:
        return "校验位不正确"
    try:  # the digits are checked above: what ric.get_birth_date does, without its clean-up pass
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "出生日期无效"
    return None


def is_valid_id_number(value: object) -> bool:
    return id_number_problem(value) is None


def credit_code_problem(value: object) -> str | None:
    """Why `value` is not a valid unified social credit code (Chinese), or None when it is valid."""
    if not isinstance(value, str):
        return "应为字符串"
    if len(value) != 18:
        return f"应为 18 位，实际 {len(value)} 位"
    if value != value.upper():
        return "字母须大写"
    try:
        uscc.validate(value)
    except ValidationError:
        return "格式或校验位不正确"
    return None


def is_valid_credit_code(value: object) -> bool:
    return credit_code_problem(value) is None
