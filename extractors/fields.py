"""Key-value extraction: fields found next to their labels, as declared in a ruleset's materials.

Works on the typed result tree of any reading method (text layer or OCR). A field's value is the
text to the right of one of its labels (after an optional colon, up to the next label), or, when
nothing follows the label on its row, the row below; text values continue onto a following row
that is aligned with them. Labels match with or without colons, in full- or half-width
punctuation, and with the spaces OCR sometimes inserts between characters.

Why one module of this length (about 1,200 lines): the rows of a page, the label matching, the
party sections, the candidates and the confidence rules are read together whenever a field is
wrong; the first split planned is the rows and their geometry (`_Row` and its helpers) into a module
of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from engine.model import DocField
from extractors import parsers as P
from extractors.model import Box, ExtractedField, Extraction, Line, Problem, ReadDocument

_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_FULLWIDTH["\u3000"] = " "
_FULLWIDTH.update({"\u2236": ":", "\ufe30": ":", "\ufe55": ":", "\u00a0": " "})  # ∶ ︰ ﹕ and no-break space
_SEPARATORS = " :;,.、，。；：()（）[]【】"
_TRIM = " :;,.、，。；："
"""Trimmed from both ends of a value (brackets stay: (川)JZ安许证字[2024]010232)."""
_CLAUSE_END = re.compile(r"[;。；]|,(?!\d)|(?<!\d),")
CAPITAL_CHARS = "零〇壹贰叁肆伍陆柒捌玖拾佰仟万亿元圆角分整正"
_CAPITALS_RUN = re.compile(f"[{CAPITAL_CHARS}]{{3,}}")


CHARACTER_DOUBT_WEIGHT = 0.2
"""A value is at most 1 - 0.2 x the doubt of its least sure character: one character the recogniser
gives even odds (0.5) keeps a value below a 0.9 threshold however sure the others are. Character
scores (CTC posteriors) are not calibrated: on the tuning set's scans one right value in ten has a
character under 0.89 (one in twenty under 0.67), so the least character alone (weight 1) passed 465
right scan values where the line passed 516; the value's mean alone 510, with this weight 508. The
misread characters of the photo tuning set's wrong values scored 0.42-0.59."""


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
    xs: list[float] = field(default_factory=list)
    """x of each character where the line's word boxes give it (text layers), else -1."""
    confs: list[float] = field(default_factory=list)
    """Confidence of each character: its word's where the line's words spell it (OCR backends give
    them per character or word), never above its line's; the line's otherwise (1 for gaps)."""

    def build(self) -> _Row:
        self.lines.sort(key=lambda ln: ln.box[0])
        chars: list[str] = []
        owner: list[int] = []
        xs: list[float] = []
        confs: list[float] = []
        for i, line in enumerate(self.lines):
            if chars:
                chars.append(" ")  # a gap between segments stops a value
                owner.append(-1)
                xs.append(-1.0)
            start = len(chars)
            for ch in _half(line.text):
                if ch in "_＿":  # the underline of a fill-in blank separates like a gap
                    if chars and chars[-1] != " ":
                        chars.append(" ")
                        owner.append(-1)
                        xs.append(-1.0)
                    continue
                if ch.isspace():
                    continue
                chars.append(ch)
                owner.append(i)
                xs.append(-1.0)
            confs += [1.0 if o != i else line.confidence for o in owner[len(confs) :]]
            word_x = _word_xs(line)
            word_c = _word_confs(line)
            count = sum(1 for o in owner[start:] if o == i)
            if word_x is not None and len(word_x) == count:
                k = 0
                for p in range(start, len(chars)):
                    if owner[p] == i:
                        xs[p] = word_x[k]
                        k += 1
            if word_c is not None and len(word_c) == count:
                k = 0
                for p in range(start, len(chars)):
                    if owner[p] == i:
                        confs[p] = min(word_c[k], line.confidence)
                        k += 1
        self.text = "".join(chars)
        self.owner = owner
        self.xs = xs
        self.confs = confs
        self.top = min(ln.box[1] for ln in self.lines)
        self.bottom = max(ln.box[3] for ln in self.lines)
        return self

    def span(self, start: int, end: int) -> tuple[Box, float, str]:
        """Box, confidence and raw text of the characters [start, end). The confidence is that of
        the value's own characters (`confs`, punctuation trimmed from its ends), not its line's
        (label and punctuation included): their mean (the recogniser's line score is the mean over
        the line), lowered by the least sure character (`CHARACTER_DOUBT_WEIGHT`), never above the
        line's."""
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
        a, b = start, end
        while a < b and self.text[a] in _TRIM:
            a += 1
        while b > a and self.text[b - 1] in _TRIM:
            b -= 1
        line_conf = min(ln.confidence for ln in lines)
        own = [self.confs[k] for k in range(a, b) if self.owner[k] >= 0]
        if not own:
            return box, line_conf, self.text[start:end]
        least = 1.0 - CHARACTER_DOUBT_WEIGHT * (1.0 - min(own))
        return box, min(line_conf, sum(own) / len(own), least), self.text[start:end]

    def x_at(self, pos: int) -> float:
        """x of the character at `pos`: from its word's box, else estimated (characters spread evenly
        over their line's box)."""
        for k in range(pos, len(self.owner)):
            i = self.owner[k]
            if i >= 0:
                if self.xs and self.xs[k] >= 0:
                    return self.xs[k]
                chars = [j for j, o in enumerate(self.owner) if o == i]
                x0, _, x1, _ = self.lines[i].box
                return x0 + (x1 - x0) * chars.index(k) / max(len(chars), 1)
        return self.lines[-1].box[2]


def _word_xs(line: Line) -> list[float] | None:
    """x of each non-space character of a line whose words carry boxes (spread evenly in a word)."""
    if not line.words:
        return None
    out: list[float] = []
    for word in line.words:
        text = [ch for ch in _half(word.text) if not ch.isspace() and ch not in "_＿"]
        x0, _, x1, _ = word.box
        out += [x0 + (x1 - x0) * n / max(len(text), 1) for n in range(len(text))]
    return out


def _word_confs(line: Line) -> list[float] | None:
    """Confidence of each non-space character of a line whose words carry their own (a word's for
    each of its characters)."""
    if not line.words:
        return None
    out: list[float] = []
    for word in line.words:
        n = sum(1 for ch in _half(word.text) if not ch.isspace() and ch not in "_＿")
        out += [word.confidence] * n
    return out


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


_OPEN_ENDINGS = "。；;：:！!？?"
_ITEM_START = re.compile(
    r"(?:\d{1,2}[.、．]|[(（][一二三四五六七八九十\d]{1,2}[)）]|第[一二三四五六七八九十\d]+[条章])"
)
"""A numbered item starts a new paragraph, not the continuation of the previous one."""
_FORM_LABEL = re.compile(r"[【\[(（]?[\u4e00-\u9fff]{2,8}[】\])）]?:")
"""A row starting with 'label:' is the next line of a form, not a wrapped sentence."""
_TEXT_COMMA = re.compile(r"(?<!\d),|,(?!\d)")
"""A comma of running text, not a thousands separator (1,950,000.00)."""


def _join_paragraphs(rows: list[_Row]) -> list[_Row]:
    """A sentence wrapped onto the next line is one row: its words (分摊共有 | 建筑面积) must not be
    read as a label standing at the start of a row."""
    out: list[_Row] = []
    right: dict[int, float] = {}
    for row in rows:
        right[row.page] = max(right.get(row.page, 0.0), max(ln.box[2] for ln in row.lines))
    for row in rows:
        prev = out[-1] if out else None
        if prev is not None and prev.page == row.page and len(row.lines) >= 1:
            height = max(prev.bottom - prev.top, 1.0)
            # one line, or a line of several pieces (fill-ins) that runs to the right margin
            full = len(prev.lines) == 1 or prev.lines[-1].box[2] >= right[row.page] - 3 * height
            wrapped = (
                full
                and not _ITEM_START.match(row.text)
                and not _FORM_LABEL.match(row.text)
                and len(prev.text) >= 25
                and _TEXT_COMMA.search(prev.text) is not None
                and prev.text[-1] not in _OPEN_ENDINGS
                and -0.5 * height <= row.top - prev.bottom <= 1.4 * height
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
    merged.xs = a.xs + b.xs
    merged.confs = a.confs + b.confs
    merged.top, merged.bottom = a.top, b.bottom
    return merged


_OPENERS = "【[（(〔"
_CLOSERS = "】]）)〕"
_QUALIFIER = re.compile(r"[(（【〔\[][^)）】〕\]:：]{1,8}[)）】〕\]]")
"""A bracketed qualifier after a label: 出卖人（甲方）, 买受人（一）, 建筑面积（平方米）."""
_ROLE_PREFIX = re.compile(r"[\u4e00-\u9fff]{1,4}$")


def _enclosed(row: _Row, start: int, end: int) -> bool:
    """The label is the bracketed qualifier of a short word before it: 甲方（出卖人）."""
    if start < 2 or end >= len(row.text):
        return False
    if row.text[start - 1] not in _OPENERS or row.text[end] not in _CLOSERS:
        return False
    seg_start = row.text.rfind(" ", 0, start - 1) + 1
    return _ROLE_PREFIX.fullmatch(row.text[seg_start : start - 1]) is not None


def _at_segment_start(row: _Row, start: int, end: int | None = None) -> bool:
    """The label begins its row or a segment of it (possibly after punctuation such as 【), or is the
    qualifier of the short word that does (甲方（出卖人）)."""
    if end is not None and _enclosed(row, start, end):
        return True
    k = start - 1
    while k >= 0 and row.text[k] in "【[（(":
        k -= 1
    return k < 0 or row.text[k] == " "


def _signature_line(row: _Row, end: int, labels: Sequence[tuple[int, int, str]]) -> bool:
    """The label is followed by a qualifier that holds a label itself: 买受人（签字或盖章）."""
    m = _QUALIFIER.match(row.text, end)
    return m is not None and any(m.start() < s < m.end() for s, _e, _lb in labels)


def _after_label(row: _Row, end: int, labels: Sequence[tuple[int, int, str]] = ()) -> int:
    """Where the value of a label ending at `end` may start: past the closing bracket of an enclosed
    label and past qualifiers that stand before a colon, a gap or the end of the row — unless the
    qualifier holds a label itself (买受人（签章）：a signature, not the party)."""
    pos = end
    if pos < len(row.text) and row.text[pos] in _CLOSERS and pos >= 1:
        k = row.text.rfind(" ", 0, pos) + 1
        if any(ch in _OPENERS for ch in row.text[k:pos]):
            pos += 1
    while True:
        m = _QUALIFIER.match(row.text, pos)
        if m is None:
            break
        nxt = row.text[m.end() : m.end() + 1]
        if nxt not in ("", " ", ":", ";") and not _QUALIFIER.match(row.text, m.end()):
            break
        if any(m.start() <= s < m.end() for s, _e, _lb in labels):
            break
        pos = m.end()
    return pos


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


@lru_cache(maxsize=64)
def _label_patterns(labels: tuple[str, ...]) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """Longest first: (label, its first character, the pattern matching it with the spaces OCR may
    insert between letter-spaced characters (名 称, 住 所))."""
    out = []
    for label in sorted(set(labels), key=len, reverse=True):
        key = _half(label).replace(" ", "")
        if key:
            out.append((label, key[0], re.compile(" ?".join(re.escape(ch) for ch in key))))
    return tuple(out)


def _find_labels(row: _Row, labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """Label occurrences in a row, the longest winning where they overlap."""
    found: list[tuple[int, int, str]] = []
    for label, first, pattern in _label_patterns(tuple(labels)):
        if first not in row.text:
            continue
        for m in pattern.finditer(row.text):
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
    row: int = -1
    """The last row the value was read from, when not the label's (a value below it)."""
    doubt: str | None = None
    """Why the reading may be incomplete (a line below that may continue it): then it is not used."""


_PLACEHOLDER_CHARS = "/×xX\\—-－无空 "
_LEAD = r"(?:[共为约计合是均自:,]|人民币|\(人民币\)|\(小写\)|小写|[¥￥]|\([^)]{0,6}\))*"
_DATE_TEXT = (
    r"(?:[0-9〇一二三四五六七八九零○]{4}年[0-9〇一二三四五六七八九十零壹贰叁肆伍陆柒捌玖拾]{1,3}月"
    r"[0-9〇一二三四五六七八九十廿卅零壹贰叁肆伍陆柒捌玖拾]{1,4}[日号曰]?"
    r"|\d{4}[-./]\d{1,2}[-./]\d{1,2})"
)
_RANGE_SEP = r"(?:至|到|[~～—–―]+|(?<=[日号])[-一]|(?<=\d)-(?=\d{4}))"
_WORDS_BEFORE = r"(?:[^\d,;。]{0,8}?)"
"""A few words between a label and its value in a sentence (成交价格调整为人民币…), not across a clause."""
_AREA_NUMBER = r"\d[\d,]*(?:[.。]\d+)?"
_AREA_UNIT = r"(?:平方米|平米|㎡|m2|m²|M2)"
_AMOUNT_NUMBER = r"\d[\d,.]*"
_AMOUNT_UNIT = r"(?:万元|万|元)"
_VALUE_IN_TEXT = {
    "date": re.compile(_WORDS_BEFORE + _LEAD + f"(?P<v>{_DATE_TEXT})"),
    # right after the label the unit may be missing (a table cell under 建筑面积（平方米）); after
    # other words it must be there (误差比绝对值在3%以内 is no area)
    "area": re.compile(
        f"{_LEAD}(?P<v>{_AREA_NUMBER}{_AREA_UNIT}?)(?![\\d%％.])"
        f"|{_WORDS_BEFORE}{_LEAD}(?P<w>{_AREA_NUMBER}{_AREA_UNIT})"
    ),
    "amount": re.compile(
        f"{_LEAD}(?P<v>{_AMOUNT_NUMBER}{_AMOUNT_UNIT}?)(?![\\d%％])"
        f"|{_WORDS_BEFORE}{_LEAD}(?P<w>{_AMOUNT_NUMBER}{_AMOUNT_UNIT})"
    ),
}
"""A value of its type at the start of the text after a label, gaps between its pieces ignored:
fill-ins over underlines (共 89.50 平方米), dates in three blanks (2026 年 10 月 17 日)."""
_RANGE_IN_TEXT = re.compile(
    _LEAD + f"(?P<v>{_DATE_TEXT}起?(?:{_RANGE_SEP}|(?<=[日号])(?=\\d{{4}}年)){_DATE_TEXT}止?)"
)
"""Both ends of a range; a dash OCR lost between 日 and the next year still separates them."""


@dataclass(frozen=True)
class _Event:
    row: int
    pos: int
    kind: str
    """"party" where a party's block starts (its label); "excluded" where someone else's lines start
    inside it (an agent's); "shared" where a person's start who may or may not count as the party."""


class _Extractor:
    def __init__(self, doc: ReadDocument, fields: dict[str, DocField], other_labels: Sequence[str]) -> None:
        self.doc = doc
        self.fields = fields
        self.rows = _rows(doc)
        self.all_labels = [
            lb
            for f in fields.values()
            for lb in [
                *f.labels,
                *(f.capitals_labels or []),
                *(f.range_labels or []),
                *(f.excluded_sublabels or []),
                *(f.shared_sublabels or []),
            ]
        ]
        self.all_labels += list(other_labels)
        self.labels_by_row = [_find_labels(r, self.all_labels) for r in self.rows]
        self.starts = self._section_starts()
        self._foreign: dict[tuple[str, ...], list[_Event]] = {}

    # --- sections and party blocks ---------------------------------------------------------------

    def _section_starts(self) -> list[tuple[int, int, frozenset[tuple[str, ...]]]]:
        """Where each declared section starts: a label of it standing as a label (row, position, the
        sections it opens). A section runs to the next start of any section, so a table header naming
        出卖人 and 买受人 side by side opens each at its own cell."""
        keys = {tuple(f.section) for f in self.fields.values() if f.section}
        out: list[tuple[int, int, frozenset[tuple[str, ...]]]] = []
        for i, (row, labels) in enumerate(zip(self.rows, self.labels_by_row, strict=True)):
            for s, e, lb in labels:
                if not _at_segment_start(row, s, e) or _is_clause(_segment(row, s)):
                    continue
                opened = frozenset(k for k in keys if lb in k)
                if opened:
                    out.append((i, s, opened))
        return out

    def _last_start(self, i: int, s: int) -> int:
        lo, hi = 0, len(self.starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if (self.starts[mid][0], self.starts[mid][1]) <= (i, s):
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def _in_section(self, spec: DocField, i: int, s: int) -> bool:
        k = self._last_start(i, s)
        return k >= 0 and tuple(spec.section or ()) in self.starts[k][2]

    def _names_someone(self, i: int, e: int) -> bool:
        """A sub-label (委托代理人：…) followed by a name, not left blank or struck out (/, ×)."""
        row = self.rows[i]
        if any(s2 == e for s2, _e2, _lb in self.labels_by_row[i]):
            return True  # 委托代理人证件号码：the agent's own item
        pos = _after_label(row, e, self.labels_by_row[i])
        m = re.match(r"(?:[\]】)〕]|[\[【(〔][^\]】)〕]{0,8}[\]】)〕])*:?\s?", row.text[pos:])
        pos += m.end() if m else 0
        stop = len(row.text)
        for s2, _e2, _lb in self.labels_by_row[i]:
            if s2 >= pos:
                stop = s2
                break
        value = row.text[pos:stop].strip().split(" ")[0] if row.text[pos:stop].strip() else ""
        return re.search(r"[\u4e00-\u9fffA-Za-z0-9]", value) is not None and value not in ("无", "空")

    def _events(self, spec: DocField) -> list[_Event]:
        excluded, shared = set(spec.excluded_sublabels or ()), set(spec.shared_sublabels or ())
        key = (*sorted(excluded), "|", *sorted(shared))
        if key not in self._foreign:
            events = [_Event(i, s, "party") for i, s, _ in self.starts]
            for i, labels in enumerate(self.labels_by_row):
                row = self.rows[i]
                for s, e, lb in labels:
                    if lb not in excluded and lb not in shared:
                        continue
                    if not _is_clause(_segment(row, s)) and self._names_someone(i, e):
                        events.append(_Event(i, s, "excluded" if lb in excluded else "shared"))
            self._foreign[key] = sorted(events, key=lambda ev: (ev.row, ev.pos))
        return self._foreign[key]

    def _whose(self, spec: DocField, i: int, s: int) -> str:
        """Whose lines the label at (i, s) stands in: the party's, someone else's ("excluded") or a
        person's who may be the party or not ("shared")."""
        last = "party"
        for ev in self._events(spec):
            if (ev.row, ev.pos) > (i, s):
                break
            last = ev.kind
        return last

    def shared_in_section(self, spec: DocField) -> bool:
        """Someone who may or may not count as the party (a 共有人) is named inside the party's block."""
        if not spec.shared_sublabels:
            return False
        return any(
            ev.kind == "shared" and self._in_section(spec, ev.row, ev.pos) for ev in self._events(spec)
        )

    # --- values --------------------------------------------------------------------------------------

    def _value_in_text(self, i: int, pos: int, stop: int, pattern: re.Pattern[str]) -> _Candidate | None:
        row = self.rows[i]
        idx = [k for k in range(pos, stop) if row.text[k] != " "]
        compact = "".join(row.text[k] for k in idx)
        m = pattern.match(compact)
        if m is None:
            return None
        group = "v" if m.group("v") else "w" if "w" in pattern.groupindex and m.group("w") else None
        if group is None:
            return None
        a, b = idx[m.start(group)], idx[m.end(group) - 1] + 1
        box, conf, _raw = row.span(a, b)
        return _Candidate(row.text[a:b].replace(" ", ""), box, conf, row.page)

    def _values_after(
        self,
        i: int,
        start: int,
        end: int,
        *,
        kind: str,
        multiline: bool,
        below: bool,
        structured: bool,
        listed: bool = False,
        ranged: bool = False,
        synonyms: frozenset[str] = frozenset(),
    ) -> list[_Candidate]:
        """The value right of a label, and the one below it when the label stands alone in its
        segment. Free text takes the value on the right when there is one; structured values are
        looked for in the text after the label first (gaps of fill-in blanks ignored), then right and
        below, and their format decides."""
        row = self.rows[i]
        out: list[_Candidate] = []
        others = [lb for lb in self.labels_by_row[i] if lb[2] not in synonyms]
        label_end = _after_label(row, end, others)
        pos = label_end
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
        pattern = _RANGE_IN_TEXT if ranged else _VALUE_IN_TEXT.get(kind)
        if pattern is not None:
            clause = re.compile(r"[;。；]").search(row.text, pos, stop)
            found = self._value_in_text(i, pos, clause.start() if clause else stop, pattern)
            if found is not None:
                return [found]
        gap = row.text.find(" ", pos)  # a gap between two segments ends the value too
        while listed and 0 <= gap < stop and row.text[gap + 1 : gap + 2] in ("、", ",", "，"):
            gap = row.text.find(" ", gap + 1)  # … except before the next item of a list (A 、B)
        text_end = stop if gap < 0 else min(gap, stop)
        while text_end == gap and not structured and self._touching(i, gap, stop):
            gap = row.text.find(" ", gap + 1)  # one line of text split in two by OCR (a stamp over it)
            text_end = stop if gap < 0 else min(gap, stop)
        clause_end = _CLAUSE_END.search(row.text, pos, text_end)  # so does the end of a clause
        if clause_end is not None and clause_end.start() > pos:
            text_end = clause_end.start()
        value = row.text[pos:text_end].strip(_TRIM)
        if value:
            box, conf, raw = row.span(pos, text_end)
            cand = _Candidate(raw.strip(_TRIM), box, conf, row.page)
            if multiline:
                cand = self._continue_below(i, cand, row.x_at(pos), row.x_at(start))
            out.append(cand)
            if not structured:
                return out
        rest = row.text[label_end:].lstrip(_SEPARATORS.replace(" ", ""))
        if below and (rest == "" or rest.startswith(" ")):  # the label stands alone in its segment
            under = self._value_below(i, start, end, stack=listed)
            if under is not None:
                if multiline and not listed and under.row >= 0:
                    under = self._continue_below(under.row, under, under.box[0], row.x_at(start))
                out.append(under)
        return out

    def _touching(self, i: int, gap: int, stop: int) -> bool:
        """The segments either side of the gap at `gap` are lines that touch or overlap (one line of text
        detected as two), and the second does not start with a label."""
        row = self.rows[i]
        if gap + 1 >= stop or row.owner[gap - 1] < 0 or row.owner[gap + 1] < 0:
            return False
        left, right = row.lines[row.owner[gap - 1]], row.lines[row.owner[gap + 1]]
        height = min(left.box[3] - left.box[1], right.box[3] - right.box[1])
        return right.box[0] - left.box[2] <= 0.3 * height

    def _row_below(self, i: int) -> int | None:
        j = i + 1
        if j < len(self.rows) and self.rows[j].page == self.rows[i].page:
            return j
        return None

    def _segments(self, j: int) -> list[tuple[int, int]]:
        text = self.rows[j].text
        out: list[tuple[int, int]] = []
        a = 0
        for k, ch in enumerate(text + " "):
            if ch == " ":
                if k > a:
                    out.append((a, k))
                a = k + 1
        return out

    def _segment_under(self, j: int, x0: float, x1: float, height: float) -> tuple[int, int] | None:
        """The segment of row j under the span x0..x1: the one overlapping it most, else the one that
        starts nearest x0 within a few characters."""
        row = self.rows[j]
        best: tuple[float, int, int] | None = None
        for a, b in self._segments(j):
            box = row.span(a, b)[0]
            overlap = min(x1, box[2]) - max(x0, box[0])
            if overlap > 0 and (best is None or overlap > best[0]):
                best = (overlap, a, b)
        if best is not None:
            return best[1], best[2]
        near = [(abs(row.x_at(a) - x0), a, b) for a, b in self._segments(j)]
        if not near:
            return None
        dist, a, b = min(near)
        return (a, b) if dist <= 4 * height else None

    def _cell_value(self, j: int, seg: tuple[int, int]) -> tuple[int, int] | None:
        """The value in a segment of a row below a label: up to the next label; None when the segment
        is itself a label (the next label of a form, or a header cell)."""
        row = self.rows[j]
        start, stop = seg
        for s, _e, _lb in self.labels_by_row[j]:
            if start <= s < stop:
                if s == start or not row.text[start:s].strip(_TRIM + "【[（("):
                    return None
                stop = s
                break
        if row.text[start:stop].rstrip().endswith(":"):
            return None  # an undeclared label
        if not row.text[start:stop].strip(_TRIM):
            return None
        return start, stop

    def _value_below(self, i: int, start: int, end: int, *, stack: bool = False) -> _Candidate | None:
        j = self._row_below(i)
        if j is None:
            return None
        label_row = self.rows[i]
        height = max(label_row.bottom - label_row.top, 1.0)
        if self.rows[j].top - label_row.bottom > 2.5 * height:
            return None
        x0 = label_row.x_at(start)
        x1 = label_row.x_at(end - 1) + height
        seg = self._segment_under(j, x0, x1, height)
        if seg is None:
            return None
        cell = self._cell_value(j, seg)
        if cell is None:
            return None
        row = self.rows[j]
        box, conf, raw = row.span(*cell)
        cand = _Candidate(raw.strip(_TRIM), box, conf, row.page, row=j)
        if not stack:
            return cand
        # further values stacked under the first one in the same cell (two buyers, two ID numbers)
        k = j
        while True:
            nxt = self._row_below(k)
            if nxt is None or self.rows[nxt].top - self.rows[k].bottom > 1.8 * height:
                break
            if self.labels_by_row[nxt]:
                break  # a line of the form again, not the next value of the cell
            seg2 = self._segment_under(nxt, cand.box[0], cand.box[2], height)
            if seg2 is None:
                break
            r2 = self.rows[nxt]
            b2 = r2.span(*seg2)[0]
            if min(b2[2], cand.box[2]) - max(b2[0], cand.box[0]) < 0.5 * (b2[2] - b2[0]):
                break  # not within the cell's column (running text below the table)
            cell2 = self._cell_value(nxt, seg2)
            if cell2 is None:
                break
            box2, conf2, raw2 = r2.span(*cell2)
            cand = _Candidate(
                cand.text + "、" + raw2.strip(_TRIM),
                _union([cand.box, box2]),
                min(cand.confidence, conf2),
                cand.page,
            )
            k = nxt
        return cand

    def _continue_below(self, i: int, cand: _Candidate, value_x: float, label_x: float) -> _Candidate:
        """A text value wrapped onto the following rows: a line of the row below that starts where the
        value starts, holds no label and no colon, and is not the value of a label of the row below
        standing in the same column as ours."""
        height = max(self.rows[i].bottom - self.rows[i].top, 1.0)
        if len(self.rows[i].lines) > 1:
            height = min(ln.box[3] - ln.box[1] for ln in self.rows[i].lines)
        cur = i
        for _ in range(3):
            j = self._row_below(cur)
            if j is None:
                break
            row, prev = self.rows[j], self.rows[cur]
            beside = not any(min(ln.box[2], cand.box[2]) > max(ln.box[0], value_x) for ln in row.lines)
            nxt = self._row_below(j)
            if beside and nxt is not None and self.rows[nxt].top - cand.box[3] <= 0.8 * height:
                j = nxt  # a row only beside the value (a stamp's text to its right): look past it
                row = self.rows[j]
            lines = [k for k, ln in enumerate(row.lines) if abs(ln.box[0] - value_x) <= 1.5 * height]
            if not lines:  # the second half of a range (至…止) under the first one's 自
                lines = [
                    k
                    for k, ln in enumerate(row.lines)
                    if abs(ln.box[0] - cand.box[0]) <= 1.5 * height and _half(ln.text)[:1] in ("至", "到")
                ]
            if len(lines) != 1:
                if not lines and self._hanging(j, cand, value_x, label_x, height):
                    cand.doubt = "may_continue"
                break
            k = lines[0]
            chars = [p for p, o in enumerate(row.owner) if o == k]
            a, b = chars[0], chars[-1] + 1
            text = row.text[a:b]
            reach = 3.0 if text[:1] in ("至", "到") else 0.8
            top = row.lines[k].box[1]
            nx0, _, nx1, _ = row.lines[k].box
            above = max(
                (ln.box[3] for ln in prev.lines if min(ln.box[2], nx1) > max(ln.box[0], nx0)),
                default=cand.box[3],
            )
            middle = (top + row.lines[k].box[3]) / 2
            if top - above > reach * height or middle < above - 0.15 * height:
                break  # too far below, or lying over the value (a stamp's text), not its next line
            if ":" in text or any(a <= s < b for s, _e, _lb in self.labels_by_row[j]):
                break
            if any(label_x - 2 * height <= row.x_at(s) <= value_x for s, _e, _lb in self.labels_by_row[j]):
                break  # the row below has its own label in our column: its value, not ours
            box, conf, raw = row.span(a, b)
            cand = _Candidate(
                cand.text + raw, _union([cand.box, box]), min(cand.confidence, conf), cand.page, cand.strong
            )
            cur = j
        return cand

    def _hanging(self, j: int, cand: _Candidate, value_x: float, label_x: float, height: float) -> bool:
        """Row j holds, right under the value, an unlabelled line that starts left of it (under the
        label): the rest of a wrapped value, or something else — the reading cannot tell."""
        row = self.rows[j]
        for k, ln in enumerate(row.lines):
            if not (label_x - 1.5 * height <= ln.box[0] < value_x - 1.5 * height):
                continue
            if ln.box[1] - cand.box[3] > 0.8 * height or min(ln.box[2], cand.box[2]) - value_x <= 0:
                continue
            chars = [p for p, o in enumerate(row.owner) if o == k]
            text = row.text[chars[0] : chars[-1] + 1]
            if ":" in text or text.endswith(("。", ".")) or _is_clause(text):
                continue
            if any(s <= chars[-1] for s, _e, _lb in self.labels_by_row[j]):
                continue  # a label's own line, or the value of a label before it
            return True
        return False

    def covered(self, cand: _Candidate) -> bool:
        """Another line of the page lies over the value (a stamp's or a signature's text read over it)."""
        x0, y0, x1, y1 = cand.box
        h = y1 - y0
        for page in self.doc.pages:
            if page.number != cand.page:
                continue
            for ln in page.lines:
                bx0, by0, bx1, by1 = ln.box
                if bx0 >= x0 - 0.5 and bx1 <= x1 + 0.5 and by0 >= y0 - 0.5 and by1 <= y1 + 0.5:
                    continue  # a line of the value itself
                dx = min(x1, bx1) - max(x0, bx0)
                middle = (by0 + by1) / 2
                # its middle inside ours: not a neighbouring row whose (tilted) box reaches into ours
                if y0 + 0.15 * h <= middle <= y1 - 0.15 * h and dx >= 1.5 * min(h, by1 - by0):
                    return True
        return False

    def candidates(self, spec: DocField, labels: Sequence[str], *, ranged: bool = False) -> list[_Candidate]:
        out: list[_Candidate] = []
        wanted = set(labels)
        # free text has no format to check, so only labels that stand as labels are trusted; text with
        # a closed set of wordings (choices) can be checked like a structured value
        free_text = spec.type == "names" or (spec.type == "text" and spec.choices is None)
        for i, row in enumerate(self.rows):
            for s, e, lb in self.labels_by_row[i]:
                if lb not in wanted:
                    continue
                if spec.section and not self._in_section(spec, i, s):
                    continue
                if (spec.excluded_sublabels or spec.shared_sublabels) and self._whose(spec, i, s) != "party":
                    continue  # an agent's or representative's line inside the party's block
                others = [lb for lb in self.labels_by_row[i] if lb[2] not in wanted]
                if _signature_line(row, e, others):
                    continue  # 出卖人（签章）：where the party signs, not where it is named
                at_start = _at_segment_start(row, s, e)
                if free_text and _is_clause(_segment(row, s)):
                    continue
                # inside running text a label is only trusted for values with a checkable format
                if free_text and not (
                    at_start or (_after_boundary(row, s) and row.text[e : e + 1] in (":", " "))
                ):
                    continue
                for cand in self._values_after(
                    i,
                    s,
                    e,
                    kind=spec.type,
                    multiline=spec.type == "text" or ranged,
                    below=at_start,
                    structured=not free_text,
                    listed=spec.type in ("names", "id_numbers"),
                    ranged=ranged,
                    synonyms=frozenset(wanted),
                ):
                    if spec.type == "names" and not all(
                        _NAME.match(n) for n in re.split(r"[、，,;；/\s]+", cand.text) if n
                    ):
                        continue
                    cand.strong = _after_boundary(row, s) or at_start
                    if not cand.strong and spec.type in ("text", "names") and spec.choices is None:
                        continue  # a label glued to a preceding word may be part of another term
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
    _check_ranges(fields, found, problems)
    return Extraction(
        kind=kind,
        pages=len(doc.pages),
        method=doc.method,
        fields=found,
        problems=problems,
    )


def _check_ranges(
    fields: dict[str, DocField], found: dict[str, ExtractedField], problems: list[Problem]
) -> None:
    """The two ends of a range (fields with `range_part` start and end and the same `range_labels`, e.g.
    有效期起 / 有效期止): when the end is not after the start, one of them is misread, so neither is
    given (`range_inverted`)."""
    for start_name, start in fields.items():
        if start.range_part != "start" or start.type != "date":
            continue
        for end_name, end in fields.items():
            if end.range_part != "end" or end.type != "date" or end.range_labels != start.range_labels:
                continue
            a, b = found.get(start_name), found.get(end_name)
            if a is None or b is None or str(b.value) > str(a.value):
                continue
            del found[start_name], found[end_name]
            for name in (start_name, end_name):
                problems.append(
                    Problem(
                        code="range_inverted",
                        message=f"“{end.title}”（{b.value}）不晚于“{start.title}”（{a.value}），无法确定",
                        field=name,
                        page=a.page,
                    )
                )


_ORDINAL = re.compile(r"[(（][一二三四五六七八九十0-9]{1,2}[)）]")
_CHECKSUMMED = ("id_number", "id_numbers", "credit_code")
_FILLER = "共为约计合是均自"
"""Words between a label and its number in running text (建筑面积共 108.00 平方米)."""
_RANGE_SPLIT = re.compile(r"至|到|[~～—–―]+|(?<=[日号])[-一]|(?<=\d)-(?=\d{4})|(?<=[日号])(?=\d{4}年)")


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
    parse = P.FORMATS[spec.format] if spec.format is not None else _PARSERS[spec.type]
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
        if _doubtful(ex, name, spec, [c for c, _ in parsed], problems):
            return None
        if ex.shared_in_section(spec):
            problems.append(
                Problem(
                    code="party_unclear",
                    message=f"“{spec.title}”：当事人一栏另列有共有人等，无法确定哪些属于该当事人",
                    field=name,
                    page=parsed[0][0].page,
                )
            )
            return None
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
    if _doubtful(ex, name, spec, [c for c, _ in parsed], problems):
        return None
    value = p.value
    return ExtractedField(
        value=value,
        confidence=_clip(cand.confidence * p.confidence_factor),
        page=cand.page,
        box=cand.box,
        raw=cand.text,
        corrections=tuple(p.corrections),
    )


_TICKED = re.compile(r"[【\[(（〔]\s*[√☑✓✔✅■Vv]\s*([^】\])）〕]*)[】\])）〕]")
_OPTION = re.compile(r"[【\[〔]([^】\]〕]*)[】\]〕]")


def _doubtful(
    ex: _Extractor, name: str, spec: DocField, used: Sequence[_Candidate], problems: list[Problem]
) -> bool:
    """A reading that may be incomplete or is covered by other text is not given: a problem instead."""
    for cand in used:
        if cand.doubt == "may_continue" and spec.type == "text" and spec.choices is None:
            problems.append(
                Problem(
                    code="value_may_continue",
                    message=f"“{spec.title}”可能在下一行继续，无法确定完整内容",
                    field=name,
                    page=cand.page,
                )
            )
            return True
        if ex.covered(cand):
            problems.append(
                Problem(
                    code="value_covered",
                    message=f"“{spec.title}”被印章或其他文字覆盖，无法确定",
                    field=name,
                    page=cand.page,
                )
            )
            return True
    return False


def _choose(value: str, choices: dict[str, str]) -> str | None:
    """The value of the wording printed, or of the one option ticked among 【…】 options; None when the
    wording is unknown or several options could be meant."""
    ticked = _TICKED.findall(value)
    if ticked:
        if len(ticked) != 1:
            return None
        value = ticked[0]
    elif len(_OPTION.findall(value)) > 1:
        return None  # options printed but none ticked
    hits = [w for w in choices if w in value]
    if not hits:
        return None
    longest = max(hits, key=len)
    if any(choices[w] != choices[longest] for w in hits if w not in longest):
        return None  # two different wordings: 住宅 and 商业
    return choices[longest]


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
    if any(c.strong for c, _ in parsed):
        parsed = [(c, p) for c, p in parsed if c.strong]
    distinct = {p.value for _, p in parsed}
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
    digits = parsed[0] if parsed else None
    if digits is not None:
        agreeing = [c for c in capitals if c[1].value in (digits[1].value, *digits[1].alternatives)]
        capitals = agreeing or capitals
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
