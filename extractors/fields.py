"""Key-value extraction: fields found next to their labels, as declared in a ruleset's materials.

Works on the typed result tree of any reading method (text layer or OCR). A field's value is the
text to the right of one of its labels (after an optional colon, up to the next label), or, when
nothing follows the label on its row, the row below; text values continue onto a following row
that is aligned with them. Labels match with or without colons, in full- or half-width
punctuation, and with the spaces OCR sometimes inserts between characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.model import DocField
from extractors import parsers as P
from extractors.model import Box, ExtractedField, Extraction, Line, Problem, ReadDocument

_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_FULLWIDTH["\u3000"] = " "
_SEPARATORS = " :;,.、，。；：()（）[]【】"
CAPITAL_CHARS = "零〇壹贰叁肆伍陆柒捌玖拾佰仟万亿元圆角分整正"
_CAPITALS_RUN = re.compile(f"[{CAPITAL_CHARS}]{{3,}}")


def _half(text: str) -> str:
    return "".join(_FULLWIDTH.get(ch, ch) for ch in text)


@dataclass
class _Row:
    """Lines of one page sharing a baseline, left to right, with a compact text (spaces removed)
    whose characters map back to their line."""

    page: int
    lines: list[Line]
    text: str = ""
    owner: list[int] = field(default_factory=list)
    top: float = 0.0
    bottom: float = 0.0

    def build(self) -> _Row:
        self.lines.sort(key=lambda ln: ln.box[0])
        chars: list[str] = []
        owner: list[int] = []
        for i, line in enumerate(self.lines):
            if chars:
                chars.append(" ")  # a gap between segments stops a value
                owner.append(-1)
            for ch in _half(line.text):
                if ch.isspace():
                    continue
                chars.append(ch)
                owner.append(i)
        self.text = "".join(chars)
        self.owner = owner
        self.top = min(ln.box[1] for ln in self.lines)
        self.bottom = max(ln.box[3] for ln in self.lines)
        return self

    def span(self, start: int, end: int) -> tuple[Box, float, str]:
        """Box, confidence and raw text of the characters [start, end)."""
        idx = sorted({self.owner[k] for k in range(start, end) if self.owner[k] >= 0})
        if not idx:
            return (0.0, 0.0, 0.0, 0.0), 0.0, ""
        lines = [self.lines[i] for i in idx]
        box = (
            min(ln.box[0] for ln in lines),
            min(ln.box[1] for ln in lines),
            max(ln.box[2] for ln in lines),
            max(ln.box[3] for ln in lines),
        )
        return box, min(ln.confidence for ln in lines), self.text[start:end]

    def x_at(self, pos: int) -> float:
        """Estimated x of the character at `pos` (characters spread evenly over their line's box)."""
        for k in range(pos, len(self.owner)):
            i = self.owner[k]
            if i >= 0:
                chars = [j for j, o in enumerate(self.owner) if o == i]
                x0, _, x1, _ = self.lines[i].box
                return x0 + (x1 - x0) * chars.index(k) / max(len(chars), 1)
        return self.lines[-1].box[2]


def _rows(doc: ReadDocument) -> list[_Row]:
    rows: list[_Row] = []
    for page in doc.pages:
        lines = sorted(page.lines, key=lambda ln: ((ln.box[1] + ln.box[3]) / 2, ln.box[0]))
        current: list[Line] = []
        for line in lines:
            if current:
                ref = current[0]
                height = max(ref.box[3] - ref.box[1], 1.0)
                centre = (line.box[1] + line.box[3]) / 2
                ref_centre = (ref.box[1] + ref.box[3]) / 2
                if abs(centre - ref_centre) <= 0.5 * height:
                    current.append(line)
                    continue
                rows.append(_Row(page.number, current).build())
            current = [line]
        if current:
            rows.append(_Row(page.number, current).build())
    return rows


@dataclass(frozen=True)
class _Hit:
    row: int
    start: int
    end: int
    label: str


def _find_labels(row: _Row, labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """Label occurrences in a row, the longest winning where they overlap."""
    found: list[tuple[int, int, str]] = []
    for label in sorted(set(labels), key=len, reverse=True):
        key = _half(label).replace(" ", "")
        for m in re.finditer(re.escape(key), row.text):
            s, e = m.start(), m.end()
            if any(not (e <= fs or s >= fe) for fs, fe, _ in found):
                continue
            found.append((s, e, label))
    return sorted(found)


@dataclass
class _Candidate:
    text: str
    box: Box
    confidence: float
    page: int


class _Extractor:
    def __init__(self, doc: ReadDocument, fields: dict[str, DocField], other_labels: Sequence[str]) -> None:
        self.doc = doc
        self.fields = fields
        self.rows = _rows(doc)
        self.all_labels = [lb for f in fields.values() for lb in [*f.labels, *(f.capitals_labels or [])]]
        self.all_labels += list(other_labels)
        self.labels_by_row = [_find_labels(r, self.all_labels) for r in self.rows]
        self.sections = self._sections()

    def _sections(self) -> dict[tuple[str, ...], list[int]]:
        """For each declared section, the rows it covers: from a row holding one of its labels to the
        next row holding another section's label."""
        starts = {tuple(f.section): f.section for f in self.fields.values() if f.section}
        owner: list[tuple[str, ...] | None] = []
        current: tuple[str, ...] | None = None
        for labels in self.labels_by_row:
            names = {lb for _, _, lb in labels}
            for key, section_labels in starts.items():
                if names & set(section_labels):
                    current = key
                    break
            owner.append(current)
        return {key: [i for i, o in enumerate(owner) if o == key] for key in starts}

    def _value_after(self, i: int, end: int, *, multiline: bool) -> _Candidate | None:
        row = self.rows[i]
        pos = end
        while pos < len(row.text) and row.text[pos] in _SEPARATORS:
            pos += 1
        stop = len(row.text)
        for s, _e, _lb in self.labels_by_row[i]:
            if s >= pos:
                stop = s
                break
        gap = row.text.find(" ", pos)  # a gap between two segments ends the value too
        text_end = stop if gap < 0 else min(gap, stop)
        value = row.text[pos:text_end].strip(_SEPARATORS)
        if value:
            box, conf, raw = row.span(pos, text_end)
            cand = _Candidate(raw.strip(_SEPARATORS), box, conf, row.page)
            if multiline:
                cand = self._continue_below(i, cand, row.x_at(pos))
            return cand
        return self._value_below(i, row.x_at(end - 1) if end else 0.0)

    def _row_below(self, i: int) -> int | None:
        j = i + 1
        if j < len(self.rows) and self.rows[j].page == self.rows[i].page:
            return j
        return None

    def _value_below(self, i: int, label_x: float) -> _Candidate | None:
        j = self._row_below(i)
        if j is None:
            return None
        row = self.rows[j]
        height = max(self.rows[i].bottom - self.rows[i].top, 1.0)
        if row.top - self.rows[i].bottom > 2.5 * height:
            return None
        labels = self.labels_by_row[j]
        start = 0
        stop = labels[0][0] if labels else len(row.text)
        if labels and labels[0][0] == 0:
            return None
        value = row.text[start:stop].strip(_SEPARATORS)
        if not value:
            return None
        box, conf, raw = row.span(start, stop)
        return _Candidate(raw.strip(_SEPARATORS), box, conf, row.page)

    def _continue_below(self, i: int, cand: _Candidate, value_x: float) -> _Candidate:
        j = self._row_below(i)
        if j is None or self.labels_by_row[j]:
            return cand
        row, prev = self.rows[j], self.rows[i]
        height = max(prev.bottom - prev.top, 1.0)
        aligned = abs(row.lines[0].box[0] - value_x) <= 1.5 * height
        close = row.top - prev.bottom <= 0.8 * height
        if not (aligned and close) or ":" in row.text or len(row.lines) > 1:
            return cand
        box, conf, raw = row.span(0, len(row.text))
        merged = (
            min(cand.box[0], box[0]),
            min(cand.box[1], box[1]),
            max(cand.box[2], box[2]),
            max(cand.box[3], box[3]),
        )
        return _Candidate(cand.text + raw, merged, min(cand.confidence, conf), cand.page)

    def candidates(self, spec: DocField, labels: Sequence[str]) -> list[_Candidate]:
        rows = self.sections[tuple(spec.section)] if spec.section else range(len(self.rows))
        out: list[_Candidate] = []
        wanted = set(labels)
        for i in rows:
            for _s, e, lb in self.labels_by_row[i]:
                if lb in wanted:
                    cand = self._value_after(i, e, multiline=spec.type == "text")
                    if cand is not None:
                        out.append(cand)
        return out

    def capitals_near(self, spec: DocField) -> list[_Candidate]:
        """Runs of Chinese capitals (大写) after a capitals label or near the amount's labels."""
        out: list[_Candidate] = []
        rows: set[int] = set()
        for i, labels in enumerate(self.labels_by_row):
            if {lb for _, _, lb in labels} & set(spec.labels + (spec.capitals_labels or [])):
                rows.update({i, i + 1})
        for i in sorted(rows):
            if i >= len(self.rows):
                continue
            row = self.rows[i]
            for m in _CAPITALS_RUN.finditer(row.text):
                if not any(ch in m.group() for ch in "元圆"):
                    continue
                box, conf, raw = row.span(m.start(), m.end())
                out.append(_Candidate(raw, box, conf, row.page))
        return out


_PARSERS: dict[str, Callable[[str], Any]] = {
    "text": P.parse_text,
    "names": P.parse_names,
    "id_number": P.parse_id_number,
    "id_numbers": P.parse_id_numbers,
    "credit_code": P.parse_credit_code,
    "amount": P.parse_amount_digits,
    "area": P.parse_area,
    "date": P.parse_date,
}


def extract_fields(
    doc: ReadDocument, *, kind: str, fields: dict[str, DocField], other_labels: Sequence[str] = ()
) -> Extraction:
    """Fields of one document as declared for its kind; a field that cannot be read is absent from
    `fields` and named in `problems`."""
    ex = _Extractor(doc, fields, other_labels)
    found: dict[str, ExtractedField] = {}
    problems: list[Problem] = list(doc.problems)
    for name, spec in fields.items():
        result = _extract_one(ex, name, spec, problems)
        if result is not None:
            found[name] = result
    return Extraction(
        kind=kind,
        pages=len(doc.pages),
        method=doc.method,
        fields=found,
        problems=problems,
    )


def _extract_one(ex: _Extractor, name: str, spec: DocField, problems: list[Problem]) -> ExtractedField | None:
    candidates = ex.candidates(spec, spec.labels)
    if not candidates and spec.type != "amount":
        problems.append(Problem(code="field_not_found", message=f"未找到“{spec.title}”", field=name))
        return None
    parse = _PARSERS[spec.type]
    parsed: list[tuple[_Candidate, Any]] = []
    errors: list[tuple[_Candidate, P.ParseError]] = []
    for cand in candidates:
        try:
            parsed.append((cand, parse(cand.text)))
        except P.ParseError as exc:
            errors.append((cand, exc))
    if spec.type == "amount":
        return _amount(ex, name, spec, parsed, errors, problems)
    if spec.type in ("names", "id_numbers"):
        if not parsed:
            _failed(name, spec, errors, problems)
            return None
        values: list[str] = []
        for _, p in parsed:
            for v in p.value:
                if v not in values:
                    values.append(v)
        first = parsed[0][0]
        conf = min(c.confidence * p.confidence_factor for c, p in parsed)
        raw = " / ".join(c.text for c, _ in parsed)
        box = _union([c.box for c, _ in parsed if c.page == first.page])
        corrections = tuple(x for _, p in parsed for x in p.corrections)
        return ExtractedField(
            value=values, confidence=_clip(conf), page=first.page, box=box, raw=raw, corrections=corrections
        )
    if not parsed:
        _failed(name, spec, errors, problems)
        return None
    distinct = {str(p.value) for _, p in parsed}
    if len(distinct) > 1:
        problems.append(
            Problem(
                code="conflicting_values",
                message=f"“{spec.title}”在文件中出现不一致的值：{'、'.join(sorted(distinct))}",
                field=name,
                page=parsed[0][0].page,
            )
        )
        return None
    cand, p = parsed[0]
    value = p.value
    if spec.type == "text" and spec.choices is not None:
        mapped = _choose(value, spec.choices)
        if mapped is None:
            problems.append(
                Problem(
                    code="unknown_wording",
                    message=f"“{spec.title}”的表述“{value}”不在可识别范围内",
                    field=name,
                    page=cand.page,
                )
            )
            return None
        value = mapped
    return ExtractedField(
        value=value,
        confidence=_clip(cand.confidence * p.confidence_factor),
        page=cand.page,
        box=cand.box,
        raw=cand.text,
        corrections=tuple(p.corrections),
    )


def _choose(value: str, choices: dict[str, str]) -> str | None:
    for wording in sorted(choices, key=len, reverse=True):
        if wording in value:
            return choices[wording]
    return None


def _amount(
    ex: _Extractor,
    name: str,
    spec: DocField,
    parsed: list[tuple[_Candidate, Any]],
    errors: list[tuple[_Candidate, P.ParseError]],
    problems: list[Problem],
) -> ExtractedField | None:
    capitals: list[tuple[_Candidate, Any]] = []
    for cand in ex.capitals_near(spec):
        try:
            capitals.append((cand, P.parse_amount_capitals(cand.text)))
        except P.ParseError:
            continue
    digits = parsed[0] if parsed else None
    cap = capitals[0] if capitals else None
    if digits is None and cap is None:
        _failed(name, spec, errors, problems)
        return None
    try:
        result = P.reconcile_amounts(digits[1] if digits else None, cap[1] if cap else None)
    except P.ParseError as exc:
        where = digits[0] if digits else cap[0]  # type: ignore[index]
        problems.append(Problem(code=exc.code, message=exc.message, field=name, page=where.page))
        return None
    used = [c for c in (digits, cap) if c is not None]
    conf = min(c.confidence for c, _ in used) * result.confidence_factor
    if digits is not None and cap is not None:
        conf = min(1.0, conf + 0.05)  # two independent readings agree
    main = used[0][0]
    return ExtractedField(
        value=result.value,
        confidence=_clip(conf),
        page=main.page,
        box=main.box,
        raw=" / ".join(c.text for c, _ in used),
        corrections=tuple(result.corrections),
    )


def _failed(
    name: str, spec: DocField, errors: list[tuple[_Candidate, P.ParseError]], problems: list[Problem]
) -> None:
    """Record why a field could not be read."""
    if errors:
        cand, exc = errors[0]
        message = f"“{spec.title}”：{exc.message}"
        problems.append(Problem(code=exc.code, message=message, field=name, page=cand.page))
    else:
        problems.append(Problem(code="field_not_found", message=f"未找到“{spec.title}”", field=name))


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _clip(x: float) -> float:
    return round(max(0.0, min(1.0, x)), 4)
