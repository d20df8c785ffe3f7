"""PDF documents: PDFium (pypdfium2) for structure, encryption and rendering; pdfplumber for the text
layer, with PDFium's own text as the fallback where pdfminer cannot map glyphs to Unicode.

PDFium is not thread-safe, not even across different documents, so every PDFium call in this module
runs under one process-wide lock. pdfplumber is pure Python and runs outside it.

Why one module of this length: every PDFium call must sit behind the one process-wide lock defined here,
so structure checks, text layer, table rulings and rendering stay together."""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any, Literal

import numpy as np
import pdfplumber
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pdfminer.layout import LTChar, LTContainer, LTLine, LTRect
from pdfplumber.utils.text import WordExtractor

from extractors.errors import DocumentError
from extractors.model import Line, Word
from extractors.options import ExtractOptions

PDFIUM_LOCK = threading.RLock()
"""Held around every PDFium call in the process (PDFium is not thread-safe)."""

TEXT_LAYER_MIN_CHARS = 10
"""A page whose text layer yields fewer non-space characters than this is read by OCR instead."""

ROW_OVERLAP = 0.5
"""Two words are on one row when their vertical extents overlap by this share of the smaller height."""

COLUMN_GAP = 2.0
"""A horizontal gap wider than this many row heights splits a row into separate lines, as an OCR text
detector would (so text-layer and OCR pages have the same shape for the field parsers)."""

WORD_GAP = 0.15
"""Characters further apart than this share of the font size start a new word: Latin text set without
space characters (TeX) keeps its word breaks."""

CJK_WORD_GAP = 0.6
"""Between two CJK characters the gap must exceed this share of the font size: justified Chinese text
is set with extra spacing between characters, which must not split 买受人 into 买 受 人."""

_CID = re.compile(r"\(cid:\d+\)")

PLAUSIBLE_SHARE = 0.9
"""PDFium's text is used only when this share of its characters is ordinary Chinese or Latin text."""

DEDUPE_TOLERANCE = 1.0
"""Identical characters drawn within this distance (points) of each other are one (fake bold)."""

TextSource = Literal["pdfplumber", "pdfium"]


@dataclass(frozen=True)
class TextLayer:
    """The text layer of one page: lines in PDF points (origin top-left) and how many non-space
    characters it held. `usable` says whether it is enough to skip OCR."""

    width: float
    height: float
    lines: tuple[Line, ...]
    chars: int
    source: TextSource

    @property
    def usable(self) -> bool:
        return self.chars >= TEXT_LAYER_MIN_CHARS


@dataclass(frozen=True)
class _Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 0.0)


class PdfFile:
    """An open PDF. Construct it from the file's bytes; raises DocumentError `corrupt_pdf`,
    `encrypted_pdf` or `too_many_pages`. Close it (or use `with`) to free PDFium's memory."""

    def __init__(self, data: bytes, *, options: ExtractOptions) -> None:
        self._data = data
        self._closed = False
        self._plumber: Any = None
        self._plumber_failed = False
        with PDFIUM_LOCK:
            try:
                self._doc = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                code = getattr(exc, "err_code", None)
                if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
                    raise DocumentError(
                        "encrypted_pdf", "PDF 已加密，需要密码才能打开；请上传未加密的文件"
                    ) from exc
                raise DocumentError("corrupt_pdf", "PDF 文件已损坏或不完整，无法打开") from exc
            except Exception as exc:  # PDFium wrappers raise plain errors on odd input too
                raise DocumentError("corrupt_pdf", f"PDF 文件无法打开（{type(exc).__name__}）") from exc
            try:
                self.page_count = len(self._doc)
            except Exception as exc:
                self._doc.close()
                raise DocumentError("corrupt_pdf", "PDF 文件已损坏，读不出页数") from exc
        if self.page_count < 1:
            self.close()
            raise DocumentError("corrupt_pdf", "PDF 文件里没有页面")
        if self.page_count > options.max_pages:
            self.close()
            raise DocumentError(
                "too_many_pages", f"PDF 有 {self.page_count} 页，超过上限 {options.max_pages} 页"
            )

    def __enter__(self) -> PdfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with PDFIUM_LOCK:
            if self._closed:
                return
            self._closed = True
            self._doc.close()
        plumber, self._plumber = self._plumber, None
        if plumber is not None:
            with contextlib.suppress(Exception):  # closing must not mask the real outcome
                plumber.close()

    def discard_text_reader(self) -> None:
        """Forget the pdfplumber document (a thread abandoned past its deadline may still be using it);
        the next `read_text` opens a fresh one."""
        self._plumber = None

    def read_text(self, index: int) -> TextLayer:
        """The text layer of page `index` (0-based). pdfplumber first; PDFium's text where pdfplumber
        fails or returns mostly unmapped glyphs (`(cid:N)`, e.g. in some encrypted PDFs)."""
        layer = None
        if not self._plumber_failed:
            try:
                layer = self._read_text_plumber(index)
            except Exception:  # pdfminer raises many types on odd input; PDFium gets a chance next
                layer = None
        if layer is not None and layer.usable:
            return layer
        try:
            fallback = self._read_text_pdfium(index)
        except DocumentError:
            if layer is None:
                raise
            return layer
        if layer is None or fallback.chars > layer.chars:
            return fallback
        return layer

    def _read_text_plumber(self, index: int) -> TextLayer | None:
        plumber = self._plumber
        if plumber is None:
            try:
                plumber = pdfplumber.open(io.BytesIO(self._data))
            except Exception:
                self._plumber_failed = True
                return None
            self._plumber = plumber
        page = plumber.pages[index]
        try:
            chars = _dedupe(_page_chars(page))
            width, height = float(page.width), float(page.height)
            rulings = _rulings(page)
        finally:
            page.close()
        upright = [c for c in chars if c.get("upright", True)]
        # Rotated text (watermarks, stamps) is dropped when the page has enough upright text.
        if _count(upright) >= TEXT_LAYER_MIN_CHARS:
            chars = upright
        words: list[_Word] = []
        mapped = unmapped = 0
        extractor = _WORDS
        if rulings:
            extractor = _WordExtractor(use_text_flow=True, keep_blank_chars=False)
            extractor.rulings = rulings
        for w in extractor.extract_words(chars):
            text, n_cid = _CID.subn("\ufffd", fix_cjk(str(w["text"])))
            unmapped += n_cid
            mapped += sum(1 for ch in text if not ch.isspace() and ch != "\ufffd")
            words.append(_Word(text, float(w["x0"]), float(w["top"]), float(w["x1"]), float(w["bottom"])))
        if unmapped > mapped:
            return TextLayer(width, height, (), 0, "pdfplumber")
        return TextLayer(width, height, group_lines(words, rulings), mapped, "pdfplumber")

    def _read_text_pdfium(self, index: int) -> TextLayer:
        chars: list[_Char] = []
        with PDFIUM_LOCK:
            if self._closed:
                raise DocumentError("corrupt_pdf", "PDF 已关闭", page=index + 1)
            try:
                page = self._doc[index]
                try:
                    width, height = page.get_size()
                    textpage = page.get_textpage()
                    try:
                        raw = textpage.raw
                        rect = pdfium_c.FS_RECTF()
                        for i in range(textpage.count_chars()):
                            code = pdfium_c.FPDFText_GetUnicode(raw, i)
                            pdfium_c.FPDFText_GetLooseCharBox(raw, i, ctypes.byref(rect))
                            top, bottom = height - rect.top, height - rect.bottom
                            chars.append(_Char(_chr(code), rect.left, top, rect.right, bottom))
                    finally:
                        textpage.close()
                finally:
                    page.close()
            except pdfium.PdfiumError as exc:
                raise DocumentError("corrupt_pdf", "PDF 页面已损坏，读不出文字", page=index + 1) from exc
        words = [_Word(fix_cjk(w.text), w.x0, w.top, w.x1, w.bottom) for w in _words_from_chars(chars)]
        text = "".join(w.text for w in words)
        if text and sum(map(_plausible, text)) < PLAUSIBLE_SHARE * len(text):
            # PDFium guesses characters for fonts without a Unicode map; OCR reads such a page better.
            return TextLayer(float(width), float(height), (), 0, "pdfium")
        return TextLayer(float(width), float(height), group_lines(words), len(text), "pdfium")

    def render(self, index: int, *, dpi: int, max_pixels: int) -> np.ndarray:
        """Page `index` (0-based) as an RGB uint8 array (H, W, 3) at `dpi`, scaled down when the
        result would exceed `max_pixels`."""
        with PDFIUM_LOCK:
            if self._closed:
                raise DocumentError("corrupt_pdf", "PDF 已关闭", page=index + 1)
            try:
                page = self._doc[index]
                try:
                    width, height = page.get_size()
                    scale = dpi / 72.0
                    pixels = width * height * scale * scale
                    if not (math.isfinite(pixels) and pixels > 0):
                        raise DocumentError("corrupt_pdf", "PDF 页面尺寸无效", page=index + 1)
                    if pixels > max_pixels:
                        scale *= math.sqrt(max_pixels / pixels) * 0.999
                    bitmap = page.render(scale=scale, rev_byteorder=True)
                    try:
                        image = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
                    finally:
                        bitmap.close()
                finally:
                    page.close()
            except pdfium.PdfiumError as exc:
                raise DocumentError("corrupt_pdf", "PDF 页面无法渲染", page=index + 1) from exc
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        elif image.shape[2] == 4:
            image = np.ascontiguousarray(image[:, :, :3])
        return image


def _count(chars: Iterable[dict[str, Any]]) -> int:
    return sum(1 for c in chars for ch in str(c["text"]) if not ch.isspace())


def _plausible(ch: str) -> bool:
    """Characters of Chinese and Latin documents: ASCII and Latin-1, general and CJK punctuation, CJK
    ideographs, full-width forms."""
    return (
        " " <= ch <= "~"
        or "\u00a0" <= ch <= "\u00ff"
        or "\u2000" <= ch <= "\u206f"
        or "\u3000" <= ch <= "\u303f"
        or "\u4e00" <= ch <= "\u9fff"
        or "\uff00" <= ch <= "\uffef"
        or ch in "\u2116\u2103\u00d7\u00f7\u2460\u2461\u2462\u2463\u2464\u25a1\u25a0\u221a"
    )


def _is_cjk(text: str) -> bool:
    return bool(text) and (
        "\u2e80" <= text[0] <= "\u9fff" or "\uf900" <= text[0] <= "\ufaff" or "\uff00" <= text[0] <= "\uffef"
    )


def word_gap(prev: str, curr: str, size: float) -> float:
    """Widest gap (points) between two characters of one word."""
    return (CJK_WORD_GAP if _is_cjk(prev[-1:]) and _is_cjk(curr[:1]) else WORD_GAP) * max(size, 1.0)


Ruling = tuple[float, float, float]
"""A vertical table line: x, top, bottom (points)."""
MIN_RULING = 6.0
"""Vertical lines at least this tall (points) are table rulings: text on both sides is in two cells."""


def _crosses(rulings: Sequence[Ruling], left: float, right: float, top: float, bottom: float) -> bool:
    """A ruling stands between x `left` and `right` at the height of the text top..bottom."""
    middle = (top + bottom) / 2
    return any(left - 0.5 <= x <= right + 0.5 and t <= middle <= b for x, t, b in rulings)


def _rulings(page: Any) -> tuple[Ruling, ...]:
    """Vertical lines of the page's drawing: line segments and the sides of tall rectangles (table
    cells), straight from `page.layout` like the characters (`page.objects`/`page.edges` convert every
    object, e.g. each module of a QR code, and cost several milliseconds a page)."""
    height = float(page.height)
    mb_x0, mb_top = float(page.mediabox[0]), float(page.mediabox[1])
    out: list[Ruling] = []
    stack: list[Iterator[Any]] = [iter(page.layout)]
    while stack:
        obj = next(stack[-1], None)
        if obj is None:
            stack.pop()
        elif isinstance(obj, LTRect | LTLine):
            top, bottom = height - obj.y1 + mb_top, height - obj.y0 + mb_top
            if bottom - top < MIN_RULING:
                continue
            x0, x1 = obj.x0 + mb_x0, obj.x1 + mb_x0
            if x1 - x0 < 2.0:
                out.append(((x0 + x1) / 2, top, bottom))
            elif isinstance(obj, LTRect):
                out += [(x0, top, bottom), (x1, top, bottom)]
        elif isinstance(obj, LTContainer):
            stack.append(iter(obj))
    return tuple(out)


class _WordExtractor(WordExtractor):
    """pdfplumber's word extractor with a gap that scales with the font size and the script, and a
    break at a table's vertical rulings (a cell's text never runs into the next cell's)."""

    rulings: tuple[Ruling, ...] = ()

    def char_begins_new_word(
        self,
        prev_char: dict[str, Any],
        curr_char: dict[str, Any],
        direction: Any,
        x_tolerance: float,
        y_tolerance: float,
    ) -> bool:
        size = float(prev_char.get("size") or (prev_char["bottom"] - prev_char["top"]) or 10.0)
        gap = word_gap(str(prev_char["text"]), str(curr_char["text"]), size)
        if self.rulings and _crosses(
            self.rulings,
            float(prev_char["x1"]),
            float(curr_char["x0"]),
            float(curr_char["top"]),
            float(curr_char["bottom"]),
        ):
            return True
        return bool(super().char_begins_new_word(prev_char, curr_char, direction, gap, y_tolerance))


_WORDS = _WordExtractor(use_text_flow=True, keep_blank_chars=False)


def _page_chars(page: Any) -> list[dict[str, Any]]:
    """The page's characters as the dicts pdfplumber's word extractor needs, built straight from
    `page.layout` (pdfminer's LTChar objects, coordinates converted as pdfplumber does). `page.chars`
    would give the same values but converts every attribute of every character (colours, graphics
    state): half the time of a dense page."""
    height = float(page.height)
    mb_x0, mb_top = float(page.mediabox[0]), float(page.mediabox[1])
    out: list[dict[str, Any]] = []
    stack: list[Iterator[Any]] = [iter(page.layout)]
    while stack:
        obj = next(stack[-1], None)
        if obj is None:
            stack.pop()
        elif isinstance(obj, LTChar):
            top = height - obj.y1 + mb_top
            out.append(
                {
                    "text": obj.get_text(),
                    "x0": obj.x0 + mb_x0,
                    "x1": obj.x1 + mb_x0,
                    "top": top,
                    "doctop": top,
                    "bottom": height - obj.y0 + mb_top,
                    "upright": obj.upright,
                    "size": obj.size,
                    "fontname": obj.fontname,
                }
            )
        elif isinstance(obj, LTContainer):
            stack.append(iter(obj))
    return out


_RADICALS = str.maketrans(
    "⺟⺠⺩⻄⻅⻆⻉⻋⻓⻔⻘⻚⻛⻜⻝⻢⻥⻦⻧⻨⻩⻬⻮⻰⻳",
    "母民王西见角贝车长门青页风飞食马鱼鸟卤麦黄齐齿龙龟",
)


def fix_cjk(text: str) -> str:
    """Map the Kangxi radicals, radical forms and compatibility ideographs that some Chinese fonts'
    ToUnicode tables use (人民币 coming out as ⼈⺠币) to the ordinary characters. Only those blocks:
    full NFKC would also turn the full-width ：（）， of Chinese text into ASCII."""
    if not any("\u2e80" <= ch <= "\u2fdf" or "\uf900" <= ch <= "\ufaff" for ch in text):
        return text
    text = text.translate(_RADICALS)
    return "".join(
        unicodedata.normalize("NFKC", ch) if "\u2f00" <= ch <= "\u2fdf" or "\uf900" <= ch <= "\ufaff" else ch
        for ch in text
    )


def _dedupe(chars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop characters drawn again within DEDUPE_TOLERANCE of an identical one (the fake bold of some
    Chinese word processors), keeping content order. pdfplumber's dedupe_chars is quadratic (about
    170 ms for a page of 1,300 characters); this looks up the neighbouring rows of a grid."""
    tol = DEDUPE_TOLERANCE
    rows: dict[tuple[Any, ...], list[tuple[float, float]]] = {}
    out: list[dict[str, Any]] = []
    for c in chars:
        x0, top = float(c["x0"]), float(c["top"])
        row = math.floor(top / tol)
        key = (c["text"], c.get("fontname"), c.get("size"), c.get("upright"))
        if any(
            abs(x - x0) <= tol and abs(t - top) <= tol
            for dy in (-1, 0, 1)
            for x, t in rows.get((*key, row + dy), ())
        ):
            continue
        rows.setdefault((*key, row), []).append((x0, top))
        out.append(c)
    return out


@dataclass(frozen=True)
class _Char:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float


def _chr(code: int) -> str:
    try:
        ch = chr(code)
    except (ValueError, OverflowError):
        return "\ufffd"
    return "\ufffd" if "\ud800" <= ch <= "\udfff" else ch


def _words_from_chars(chars: Sequence[_Char]) -> list[_Word]:
    """PDFium's characters in content order → words: split at white space (PDFium generates spaces and
    line breaks where it sees them), at gaps and where the line changes."""
    words: list[_Word] = []
    run: list[_Char] = []

    def flush() -> None:
        if run:
            words.append(
                _Word(
                    "".join(c.text for c in run),
                    min(c.x0 for c in run),
                    min(c.top for c in run),
                    max(c.x1 for c in run),
                    max(c.bottom for c in run),
                )
            )
            run.clear()

    for c in chars:
        if not c.text or c.text.isspace() or c.text in "\x00\ufffe\uffff":
            flush()
            continue
        if run:
            last = run[-1]
            height = max(last.bottom - last.top, c.bottom - c.top, 1e-6)
            overlap = min(last.bottom, c.bottom) - max(last.top, c.top)
            gap = word_gap(last.text, c.text, last.bottom - last.top)
            if c.x0 - last.x1 > gap or c.x0 < last.x0 - gap or overlap < ROW_OVERLAP * height:
                flush()
        run.append(c)
    flush()
    return words


def group_lines(words: Sequence[_Word], rulings: Sequence[Ruling] = ()) -> tuple[Line, ...]:
    """Words → lines: rows by vertical overlap (top to bottom), words left to right, a row split where
    the gap between words is wider than COLUMN_GAP row heights or a table ruling stands between them.
    Confidence 1.0 (a text layer)."""
    rows: list[list[_Word]] = []
    for word in sorted(words, key=lambda w: ((w.top + w.bottom) / 2, w.x0)):
        if not word.text.strip():
            continue
        if rows:
            ref = rows[-1][0]
            overlap = min(ref.bottom, word.bottom) - max(ref.top, word.top)
            if overlap >= ROW_OVERLAP * max(min(ref.height, word.height), 1e-6):
                rows[-1].append(word)
                continue
        rows.append([word])
    lines: list[Line] = []
    for row in rows:
        row.sort(key=lambda w: w.x0)
        gap_limit = COLUMN_GAP * max(median(w.height for w in row), 1.0)
        segment: list[_Word] = [row[0]]
        for word in row[1:]:
            if word.x0 - segment[-1].x1 > gap_limit or (
                rulings and _crosses(rulings, segment[-1].x1, word.x0, word.top, word.bottom)
            ):
                lines.append(_line(segment))
                segment = []
            segment.append(word)
        lines.append(_line(segment))
    return tuple(lines)


def _line(words: Sequence[_Word]) -> Line:
    return Line(
        text=" ".join(w.text for w in words),
        box=(
            min(w.x0 for w in words),
            min(w.top for w in words),
            max(w.x1 for w in words),
            max(w.bottom for w in words),
        ),
        confidence=1.0,
        words=tuple(Word(text=w.text, box=(w.x0, w.top, w.x1, w.bottom), confidence=1.0) for w in words),
    )
