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
from dataclasses import dataclass, field, replace
from typing import Any

from engine.model import DocField
from extractors import parsers as P
from extractors.model import Box, ExtractedField, Extraction, Line, Problem, ReadDocument

_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_FULLWIDTH["\u3000"] = " "
_SEPARATORS = " :;,.、，。；：()（）[]【】"
_TRIM = " :;,.、，。；："
"""Trimmed from both ends of a value (brackets stay: (川)JZ安许证字[2024]010232)."""
_CLAUSE_END = re.compile(r"[;。；]|,(?!\d)|(?<!\d),")
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


def _overlap_x(a: Line, b: Line) -> bool:
    """Two lines side by side overlap horizontally only when they are on different rows."""
    return min(a.box[2], b.box[2]) - max(a.box[0], b.box[0]) > 0.3 * min(
        a.box[2] - a.box[0], b.box[2] - b.box[0]
    )


def _rows(doc: ReadDocument) -> list[_Row]:
    rows: list[_Row] = []
    for page in doc.pages:
        lines = sorted(page.lines, key=lambda ln: ((ln.box[1] + ln.box[3]) / 2, ln.box[0]))
        current: list[Line] = []
        for line in lines:
            if current:
                # a line joins the row when its middle falls within the row's vertical extent
                top = min(ln.box[1] for ln in current)
                bottom = max(ln.box[3] for ln in current)
                centre = (line.box[1] + line.box[3]) / 2
                if top <= centre <= bottom and not any(_overlap_x(line, ln) for ln in current):
                    current.append(line)
                    continue
                rows.append(_Row(page.number, current).build())
            current = [line]
        if current:
            rows.append(_Row(page.number, current).build())
    return _join_paragraphs(rows)


_OPEN_ENDINGS = "。；;：:！!？?）)"
_TEXT_COMMA = re.compile(r"(?<!\d),|,(?!\d)")
"""A comma of running text, not a thousands separator (1,950,000.00)."""


def _join_paragraphs(rows: list[_Row]) -> list[_Row]:
    """A sentence wrapped onto the next line is one row: its words (分摊共有 | 建筑面积) must not be
    read as a label standing at the start of a row."""
    out: list[_Row] = []
    for row in rows:
        prev = out[-1] if out else None
        if prev is not None and prev.page == row.page and len(prev.lines) == 1 and len(row.lines) >= 1:
            height = max(prev.bottom - prev.top, 1.0)
            wrapped = (
                len(prev.text) >= 25
                and _TEXT_COMMA.search(prev.text) is not None
                and prev.text[-1] not in _OPEN_ENDINGS
                and -0.5 * height <= row.top - prev.bottom <= 1.0 * height
                and abs(row.lines[0].box[0] - prev.lines[0].box[0]) <= 4 * height
            )
            if wrapped:
                out[-1] = _merge(prev, row)
                continue
        out.append(row)
    return out


def _merge(a: _Row, b: _Row) -> _Row:
    merged = _Row(a.page, [*a.lines, *b.lines])
    merged.text = a.text + b.text
    merged.owner = a.owner + [o + len(a.lines) if o >= 0 else -1 for o in b.owner]
    merged.top, merged.bottom = a.top, b.bottom
    return merged


def _at_segment_start(row: _Row, start: int) -> bool:
    """The label begins its row or a segment of it (possibly after punctuation such as 【)."""
    k = start - 1
    while k >= 0 and row.text[k] in "【[（(":
        k -= 1
    return k < 0 or row.text[k] == " "


def _after_boundary(row: _Row, start: int) -> bool:
    """The label follows a segment start or a separator, not a Chinese character of running text."""
    return start == 0 or row.text[start - 1] in _SEPARATORS


def _segment(row: _Row, pos: int) -> str:
    """The segment of a row (between gaps) holding position `pos`."""
    start = row.text.rfind(" ", 0, pos) + 1
    end = row.text.find(" ", pos)
    return row.text[start : end if end >= 0 else len(row.text)]


def _is_clause(text: str) -> bool:
    """Running text of a clause (sentence punctuation), where labels are words, not labels."""
    return "。" in text or "；" in text or ";" in text


_NAME = re.compile(r"^[\u4e00-\u9fff]{1,5}(?:·[\u4e00-\u9fff]{1,8})?[\u4e00-\u9fff]$")


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
        # letter-spaced labels (名 称, 住 所) may reach us as separate segments
        pattern = " ?".join(re.escape(ch) for ch in key)
        for m in re.finditer(pattern, row.text):
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
    strong: bool = True
    """False when the label stands inside running text right after another word (分摊共有建筑面积):
    such a reading is used only when no label standing as a label gave a value."""


class _Extractor:
    def __init__(self, doc: ReadDocument, fields: dict[str, DocField], other_labels: Sequence[str]) -> None:
        self.doc = doc
        self.fields = fields
        self.rows = _rows(doc)
        self.all_labels = [
            lb
            for f in fields.values()
            for lb in [*f.labels, *(f.capitals_labels or []), *(f.range_labels or [])]
        ]
        self.all_labels += list(other_labels)
        self.labels_by_row = [_find_labels(r, self.all_labels) for r in self.rows]
        self.sections = self._sections()

    def _sections(self) -> dict[tuple[str, ...], list[int]]:
        """For each declared section, the rows it covers: from a row holding one of its labels to the
        next row holding another section's label."""
        starts = {tuple(f.section): f.section for f in self.fields.values() if f.section}
        owner: list[tuple[str, ...] | None] = []
        current: tuple[str, ...] | None = None
        for row, labels in zip(self.rows, self.labels_by_row, strict=True):
            names = {
                lb for s, _, lb in labels if _at_segment_start(row, s) and not _is_clause(_segment(row, s))
            }
            for key, section_labels in starts.items():
                if names & set(section_labels):
                    current = key
                    break
            owner.append(current)
        return {key: [i for i, o in enumerate(owner) if o == key] for key in starts}

    def _values_after(
        self, i: int, end: int, *, multiline: bool, below: bool, structured: bool, listed: bool = False
    ) -> list[_Candidate]:
        """The value right of a label, and the one below it when the label stands alone in its
        segment. Free text takes the value on the right when there is one; structured values offer
        both and let their format decide."""
        row = self.rows[i]
        out: list[_Candidate] = []
        pos = end
        ordinal = _ORDINAL.match(row.text, pos)  # 买受人（一）：
        if ordinal:
            pos = ordinal.end()
        while pos < len(row.text) and row.text[pos] in _TRIM:
            pos += 1
        stop = len(row.text)
        for s, _e, _lb in self.labels_by_row[i]:
            if s >= pos:
                stop = s
                break
        gap = row.text.find(" ", pos)  # a gap between two segments ends the value too
        while listed and 0 <= gap < stop and row.text[gap + 1 : gap + 2] in ("、", ",", "，"):
            gap = row.text.find(" ", gap + 1)  # … except before the next item of a list (A 、B)
        text_end = stop if gap < 0 else min(gap, stop)
        clause = _CLAUSE_END.search(row.text, pos, text_end)  # so does the end of a clause
        if clause is not None and clause.start() > pos:
            text_end = clause.start()
        value = row.text[pos:text_end].strip(_TRIM)
        if value:
            box, conf, raw = row.span(pos, text_end)
            cand = _Candidate(raw.strip(_TRIM), box, conf, row.page)
            if multiline:
                cand = self._continue_below(i, cand, row.x_at(pos))
            out.append(cand)
            if not structured:
                return out
        rest = row.text[end:].lstrip(_SEPARATORS.replace(" ", ""))
        if below and (rest == "" or rest.startswith(" ")):  # the label stands alone in its segment
            under = self._value_below(i, row.x_at(self._label_start(i, end)))
            if under is not None:
                out.append(under)
        return out

    def _label_start(self, i: int, end: int) -> int:
        for s, e, _lb in self.labels_by_row[i]:
            if e == end:
                return s
        return max(end - 1, 0)

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
        # the segment of the row below that starts nearest the label, within a few characters
        starts = [0] + [k + 1 for k, ch in enumerate(row.text) if ch == " "]
        best = min(starts, key=lambda k: abs(row.x_at(k) - label_x))
        if abs(row.x_at(best) - label_x) > 4 * height:
            return None
        start = best
        stop = len(row.text)
        for s, _e, _lb in self.labels_by_row[j]:
            if s == start:
                return None  # another label, not a value
            if s > start:
                stop = s
                break
        gap = row.text.find(" ", start)
        if gap >= 0:
            stop = min(stop, gap)
        value = row.text[start:stop].strip(_TRIM)
        if not value:
            return None
        box, conf, raw = row.span(start, stop)
        return _Candidate(raw.strip(_TRIM), box, conf, row.page)

    def _continue_below(self, i: int, cand: _Candidate, value_x: float) -> _Candidate:
        j = self._row_below(i)
        if j is None or self.labels_by_row[j]:
            return cand
        row, prev = self.rows[j], self.rows[i]
        height = max(prev.bottom - prev.top, 1.0)
        aligned = abs(row.lines[0].box[0] - value_x) <= 1.5 * height
        # the second half of a range (自…起 / 至…止) may sit a table row lower
        reach = 3.0 if row.text[:1] in ("至", "到") else 0.8
        close = row.top - prev.bottom <= reach * height
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

    def candidates(self, spec: DocField, labels: Sequence[str], *, ranged: bool = False) -> list[_Candidate]:
        rows = self.sections[tuple(spec.section)] if spec.section else range(len(self.rows))
        out: list[_Candidate] = []
        wanted = set(labels)
        # free text has no format to check, so only labels that stand as labels are trusted; text with
        # a closed set of wordings (choices) can be checked like a structured value
        free_text = spec.type == "names" or (spec.type == "text" and spec.choices is None)
        for i in rows:
            row = self.rows[i]
            for s, e, lb in self.labels_by_row[i]:
                if lb not in wanted:
                    continue
                if free_text and _is_clause(_segment(row, s)):
                    continue
                # inside running text a label is only trusted for values with a checkable format
                if free_text and not (
                    _at_segment_start(row, s)
                    or (_after_boundary(row, s) and row.text[e : e + 1] in (":", " "))
                ):
                    continue
                for cand in self._values_after(
                    i,
                    e,
                    multiline=spec.type == "text" or ranged,
                    below=_at_segment_start(row, s),
                    structured=not free_text,
                    listed=spec.type in ("names", "id_numbers"),
                ):
                    if spec.type == "names" and not all(
                        _NAME.match(n) for n in re.split(r"[、，,;；/\s]+", cand.text) if n
                    ):
                        continue
                    cand.strong = _after_boundary(row, s)
                    if not cand.strong and spec.type not in _CHECKSUMMED and spec.choices is None:
                        continue  # a label glued to a preceding word may be part of another term (原有效期)
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


_ORDINAL = re.compile(r"[(（][一二三四五六七八九十0-9]{1,2}[)）]")
_CHECKSUMMED = ("id_number", "id_numbers", "credit_code")
_FILLER = "共为约计合是均自"
"""Words between a label and its number in running text (建筑面积共 108.00 平方米)."""
_RANGE_SPLIT = re.compile(r"[至到~～]")


def _range_end(cand: _Candidate, part: str) -> _Candidate | None:
    pieces = [p for p in _RANGE_SPLIT.split(cand.text) if p.strip()]
    if len(pieces) != 2:
        return None
    return _Candidate(pieces[0 if part == "start" else 1], cand.box, cand.confidence, cand.page)


def _extract_one(ex: _Extractor, name: str, spec: DocField, problems: list[Problem]) -> ExtractedField | None:
    candidates = ex.candidates(spec, spec.labels)
    if spec.range_labels and spec.range_part:
        for cand in ex.candidates(spec, spec.range_labels, ranged=True):
            end = _range_end(cand, spec.range_part)
            if end is not None:
                candidates.append(end)
    if not candidates and spec.type != "amount":
        problems.append(Problem(code="field_not_found", message=f"未找到“{spec.title}”", field=name))
        return None
    parse = _PARSERS[spec.type]
    parsed: list[tuple[_Candidate, Any]] = []
    errors: list[tuple[_Candidate, P.ParseError]] = []
    for cand in candidates:
        text = cand.text.lstrip(_FILLER) if spec.type in ("amount", "area", "date") else cand.text
        if spec.type == "date":
            text = text.rstrip("起止")
        try:
            parsed.append((cand, parse(text)))
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
    if any(c.strong for c, _ in parsed):
        parsed = [(c, p) for c, p in parsed if c.strong]
    if spec.type == "text" and spec.choices is not None:
        choices = spec.choices
        mapped = [
            (c, replace(p, value=v)) for c, p in parsed if (v := _choose(str(p.value), choices)) is not None
        ]
        if not mapped:
            cand0 = parsed[0][0]
            problems.append(
                Problem(
                    code="unknown_wording",
                    message=f"“{spec.title}”的表述“{parsed[0][1].value}”不在可识别范围内",
                    field=name,
                    page=cand0.page,
                )
            )
            return None
        parsed = mapped
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
