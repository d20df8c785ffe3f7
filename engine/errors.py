"""Typed errors of the decision core. Each has a stable `code`; adapters map them to exit codes and
HTTP problems in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApprovalError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "approval_error"

    def __init__(self, message: str, *, path: str | None = None, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.suggestion = suggestion

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.suggestion:
            text += f"（{self.suggestion}）"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.path:
            out["path"] = self.path
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


class ExpressionError(ApprovalError):
    """An expression in a ruleset cannot be parsed or is not allowed where it stands."""

    code = "invalid_expression"

    def __init__(
        self,
        message: str,
        *,
        expression: str | None = None,
        position: int | None = None,
        path: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        if expression is not None:
            caret = f"（位置 {position}）" if position is not None else ""
            message = f"{message}{caret}：{expression}"
        super().__init__(message, path=path, suggestion=suggestion)
        self.expression = expression
        self.position = position


class RulesetError(ApprovalError):
    """A ruleset is invalid. `source` names the file, `line` the line of the offending value.
    `others` holds the further errors found in the same pass (the type check lists every one)."""

    code = "invalid_ruleset"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        path: str | None = None,
        suggestion: str | None = None,
        others: Sequence[RulesetError] = (),
    ) -> None:
        super().__init__(message, path=path, suggestion=suggestion)
        self.source = source
        self.line = line
        self.others = tuple(others)

    @property
    def every(self) -> tuple[RulesetError, ...]:
        """This error and the others, in the order of the file."""
        return (self, *self.others)

    def located(self) -> str:
        """file:line: path: message（suggestion）, without the others."""
        where = ""
        if self.source:
            where = self.source + (f":{self.line}" if self.line else "") + ": "
        return where + super().__str__()

    def __str__(self) -> str:
        return self.located() + (f"（另有 {len(self.others)} 处错误）" if self.others else "")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.line:
            out["line"] = self.line
        return out


class CaseError(ApprovalError):
    """A case (application) is malformed: wrong JSON, unknown item, wrong type, invalid ID checksum."""

    code = "invalid_case"


class UnknownItemError(CaseError):
    code = "unknown_item"


class EngineFault(ApprovalError):
    """The rule engine misbehaved (its result disagrees with the facts); the case must not be decided."""

    code = "engine_fault"
