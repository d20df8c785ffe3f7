"""The exact facts behind a decision, as JSON: recorded when a case is decided, read back to replay it.

A decision depends on the ruleset (kept by hash), the case, the registry rows its look-ups returned,
the document facts and the clock. The registry is recorded by wrapping it: every `find` and its rows.
Values keep their types through JSON with small tags (`{"$dec": "1.50"}`, `{"$date": "2024-03-15"}`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.facts import DocumentFacts
from engine.ports import Query, RegistryPort, Row
from store.records import DecisionRow


def encode_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode_value(v) for v in value]
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, raw),) = value.items()
            if tag == "$dec":
                return Decimal(raw)
            if tag == "$date":
                return date.fromisoformat(raw)
            if tag == "$dt":
                return datetime.fromisoformat(raw)
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _query_key(registry: str, match: Mapping[str, Sequence[Any]]) -> str:
    return json.dumps(
        [registry, {k: sorted(encode_value(list(v)), key=repr) for k, v in sorted(match.items())}],
        ensure_ascii=False,
        sort_keys=True,
    )


class RecordingRegistry:
    """A RegistryPort that passes queries through and keeps every query with the rows it returned."""

    def __init__(self, inner: RegistryPort) -> None:
        self.inner = inner
        self.calls: dict[str, dict[str, Any]] = {}

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        rows = self.inner.find(registry, match)
        key = _query_key(registry, match)
        self.calls[key] = {"registry": registry, "rows": [encode_value(dict(r)) for r in rows]}
        return rows

    def prefetch(self, queries: Sequence[Query]) -> None:
        """Passed through: reading ahead records nothing, the `find` calls that follow do."""
        prefetch = getattr(self.inner, "prefetch", None)
        if prefetch is not None:
            prefetch(queries)

    def records(self) -> list[dict[str, Any]]:
        """The registry rows the decision read, by registry (what the approver sees as 共享数据)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for call in self.calls.values():
            bucket = out.setdefault(call["registry"], [])
            for row in call["rows"]:
                if row not in bucket:
                    bucket.append(row)
        return [{"registry": name, "rows": rows} for name, rows in sorted(out.items())]


class NotRecorded(LookupError):
    """A replay asked the registries a question the recorded decision never asked."""

    def __init__(self, registry: str, match: Mapping[str, Sequence[Any]]) -> None:
        super().__init__(f"记录的事实中没有此查询：{registry} {dict(match)}")
        self.registry = registry


class ReplayRegistry:
    """A RegistryPort answering exactly the recorded queries; any other query is a replay error."""

    def __init__(self, calls: Mapping[str, Mapping[str, Any]]) -> None:
        self._calls = calls

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        key = _query_key(registry, match)
        if key not in self._calls:
            raise NotRecorded(registry, match)
        return [decode_value(r) for r in self._calls[key]["rows"]]


def encode_documents(documents: Mapping[str, DocumentFacts] | None) -> dict[str, Any]:
    return {k: encode_value(dataclasses.asdict(v)) for k, v in (documents or {}).items()}


def decode_documents(data: Mapping[str, Any]) -> dict[str, DocumentFacts]:
    return {k: DocumentFacts(**decode_value(v)) for k, v in data.items()}


def latest_decision(session: Session, case_id: str, *, round: int | None = None) -> DecisionRow | None:
    """The recorded engine decision of a case: of its latest round, or of `round` (a case corrected and
    resubmitted, 补正, is decided once per round)."""
    q = select(DecisionRow).where(DecisionRow.case_id == case_id)
    if round is not None:
        q = q.where(DecisionRow.round == round)
    return session.scalars(q.order_by(DecisionRow.round.desc()).limit(1)).first()
