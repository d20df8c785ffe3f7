"""Masking of personal data (ID numbers, names, the personal columns of registry rows) for logs and
list views."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.registries import Registry

_ID = re.compile(r"(?<![0-9A-Z])(\d{6})(\d{8})(\d{3}[0-9X])(?![0-9A-Z])")


def mask_id(value: str) -> str:
    """510104199105060117 → 510104********0117."""
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:] if len(value) > 4 else "*" * len(value)


def mask_name(name: str) -> str:
    """张三 → 张*, 陈晓明 → 陈*明, enterprise names are left as they are."""
    if len(name) <= 1 or any(w in name for w in ("公司", "集团", "厂", "中心", "合作社")):
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_text(
    text: str, *, names: list[str] | tuple[str, ...] = (), keep: frozenset[str] | set[str] = frozenset()
) -> str:
    """Mask every ID number in free text (but those in `keep`), and the given names."""
    text = _ID.sub(lambda m: m.group(0) if m.group(0) in keep else mask_id(m.group(0)), text)
    for name in sorted(set(names), key=len, reverse=True):
        if name:
            text = text.replace(name, mask_name(name))
    return text


_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_comment(text: str, *, names: list[str] | tuple[str, ...] = ()) -> str:
    """Free text an applicant wrote (a rating's comment) for a list view: ID numbers, mobile numbers
    (138****5678) and the given names masked."""
    text = mask_text(text, names=names)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


_ID_KINDS = frozenset({"id_number", "credit_code", "subject_id"})


def mask_record(registry: Registry, row: Mapping[str, Any]) -> dict[str, Any]:
    """A registry row for a list view or a log: the columns its declaration marks `personal` masked
    (identifiers as by mask_id, names as by mask_name, any other value hidden), the others as they are."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        column = registry.column(name)
        if column is None or not column.personal or value is None:
            out[name] = value
        elif column.kind in _ID_KINDS:
            out[name] = mask_id(str(value))
        elif column.kind == "string":
            out[name] = mask_name(str(value))
        else:
            out[name] = "***"
    return out
