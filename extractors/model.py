"""The typed result tree of reading a document: document → pages → lines → words, each with its text,
box and confidence, plus the fields extracted from it. Knows nothing of HTTP or the database."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Box = tuple[float, float, float, float]
"""x0, y0, x1, y1 in page pixels for scans (PDF points for text layers), origin top-left."""
Method = Literal["text", "ocr"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Word(_Frozen):
    text: str
    box: Box
    confidence: float = Field(ge=0, le=1)


class Line(_Frozen):
    text: str
    box: Box
    confidence: float = Field(ge=0, le=1)
    words: tuple[Word, ...] = ()


class Page(_Frozen):
    number: int = Field(ge=1)
    width: float
    height: float
    method: Method
    lines: tuple[Line, ...] = ()
    seconds: float = 0.0


class Problem(_Frozen):
    """Something that stopped a document or a field from being read, with a stable code."""

    code: str
    message: str
    page: int | None = None
    field: str | None = None


class ReadDocument(_Frozen):
    """The text of a document as read, before any field is extracted."""

    path: str
    media_type: str
    method: Method
    pages: tuple[Page, ...]
    problems: tuple[Problem, ...] = ()


class ExtractedField(_Frozen):
    value: Any
    """Normalised: decimal strings for amounts and areas, ISO dates, text as printed, lists for
    repeated parties."""
    confidence: float = Field(ge=0, le=1)
    page: int
    box: Box
    raw: str
    corrections: tuple[str, ...] = ()
    """OCR confusions corrected (e.g. 'O→0 at 7'), recorded so an approver can see them."""


class Extraction(_Frozen):
    """The output of `miaopi extract` (docs/architecture.md)."""

    kind: str
    pages: int
    method: Method
    fields: dict[str, ExtractedField]
    problems: list[Problem]

    def to_json_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        for f in out["fields"].values():
            if not f["corrections"]:
                del f["corrections"]
        out["problems"] = [{k: v for k, v in p.items() if v is not None} for p in out["problems"]]
        return out
