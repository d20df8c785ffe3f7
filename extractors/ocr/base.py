"""What every OCR backend offers, the factory that picks one by name, and the geometry shared by the
backends: quads to boxes, reading order, approximate word boxes."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from extractors.model import Box, Line, Word

BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "rapidocr": ("extractors.ocr.rapid:RapidOcrBackend", {}),
    "rapidocr-openvino": ("extractors.ocr.rapid:RapidOcrBackend", {"engine": "openvino"}),
    "paddleocr": ("extractors.ocr.paddle:PaddleOcrBackend", {}),
}
"""Backend name → (`module:class`, default constructor options). Modules are imported only when their
backend is asked for. `rapidocr-openvino` needs the `openvino` package (not a default dependency)."""


@runtime_checkable
class OcrBackend(Protocol):
    """Reads the text lines of one page image."""

    name: str

    def recognise(self, image: np.ndarray) -> list[Line]:
        """RGB uint8 array (height x width x 3) → lines in reading order, each with its axis-aligned box
        in image pixels, a confidence in 0..1 and, where the backend gives them, word boxes."""
        ...


def get_backend(name: str, *, threads: int, **options: Any) -> OcrBackend:
    """The backend called `name`, its runtime limited to `threads` intra-op threads. Extra keyword
    options go to the backend's constructor. Unknown names raise ValueError listing the choices."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise ValueError(f"unknown OCR backend {name!r}; choose one of: {', '.join(sorted(BACKENDS))}")
    target, defaults = entry
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: OcrBackend = cls(threads=threads, **{**defaults, **options})
    return backend


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as a C-contiguous RGB uint8 array, or ValueError saying what is wrong with it."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image of shape (height, width, 3), got {image.shape}")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if min(image.shape[:2]) < 8:
        raise ValueError(f"image too small: {image.shape[1]}x{image.shape[0]}")
    return np.ascontiguousarray(image)


def quad_to_box(points: Any) -> Box:
    """The axis-aligned box (x0, y0, x1, y1) around a detected quadrilateral (or any point list)."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = arr.min(axis=0)
    x1, y1 = arr.max(axis=0)
    return (round(float(x0), 1), round(float(y0), 1), round(float(x1), 1), round(float(y1), 1))


def clamp_confidence(value: Any) -> float:
    """A confidence in 0..1 (NaN counts as 0)."""
    v = float(value)
    if math.isnan(v):
        return 0.0
    return min(1.0, max(0.0, v))


def split_words(text: str, box: Box, confidence: float) -> tuple[Word, ...]:
    """Approximate word boxes for a line when the backend gives none: the line box split in proportion
    to the characters' widths (a CJK character counts as two Latin ones). CJK characters are words of
    their own; runs of Latin letters, digits and number punctuation stay together."""
    tokens: list[tuple[str, int]] = []  # (text, start index in the line)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if _is_wide(ch):
            tokens.append((ch, i))
            i += 1
            continue
        j = i
        while j < len(text) and not text[j].isspace() and not _is_wide(text[j]):
            j += 1
        tokens.append((text[i:j], i))
        i = j
    if not tokens:
        return ()
    widths = [_char_width(c) for c in text]
    total = sum(widths) or 1.0
    x0, y0, x1, y1 = box
    scale = (x1 - x0) / total
    offsets = [0.0]
    for w in widths:
        offsets.append(offsets[-1] + w)
    words = []
    for token, start in tokens:
        left = x0 + offsets[start] * scale
        right = x0 + offsets[start + len(token)] * scale
        words.append(Word(text=token, box=(round(left, 1), y0, round(right, 1), y1), confidence=confidence))
    return tuple(words)


def _is_wide(ch: str) -> bool:
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF  # CJK radicals, kana, unified ideographs
        or 0xAC00 <= o <= 0xD7AF  # Hangul
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0xFF00 <= o <= 0xFFEF  # full-width forms (，：（）)
        or 0x3000 <= o <= 0x303F  # CJK punctuation (、。)
        or 0x20000 <= o <= 0x3FFFF
    )


def _char_width(ch: str) -> float:
    return 2.0 if _is_wide(ch) else 1.0


def order_lines(lines: Iterable[Line]) -> list[Line]:
    """Lines in reading order: rows from top to bottom, boxes within a row from left to right. A box
    joins a row when its vertical overlap with every box already in it is at least half the shorter
    one's height: that holds for pieces of one line on a page rotated a few degrees (where a fixed
    pixel threshold does not), and a tall box such as a seal between two lines cannot chain them
    into one row."""
    items = sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2)
    rows: list[list[Line]] = []
    for line in items:
        placed = False
        for row in reversed(rows[-3:]):  # only the last few rows can still overlap
            if all(_same_row(line.box, other.box) for other in row):
                row.append(line)
                placed = True
                break
        if not placed:
            rows.append([line])
    ordered: list[Line] = []
    for row in rows:
        ordered.extend(sorted(row, key=lambda ln: ln.box[0]))
    return ordered


def _same_row(a: Box, b: Box) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    shorter = min(a[3] - a[1], b[3] - b[1])
    if shorter <= 0:
        return False
    horizontally_apart = a[2] <= b[0] + 1 or b[2] <= a[0] + 1
    return overlap >= 0.5 * shorter and horizontally_apart


def make_line(
    text: str,
    quad: Any,
    confidence: Any,
    words: Sequence[tuple[str, Any, Any]] | None = None,
) -> Line:
    """A Line from a backend's raw result: `quad` the detected polygon, `words` optional
    (text, confidence, polygon) triples. Words whose texts do not add up to the line's text are
    replaced by proportional boxes, so a caller can always rely on `words`."""
    box = quad_to_box(quad)
    conf = clamp_confidence(confidence)
    line_words: tuple[Word, ...] = ()
    if words:
        joined = "".join(w[0] for w in words)
        if joined.replace(" ", "") == text.replace(" ", ""):
            line_words = tuple(
                Word(text=w_text, box=quad_to_box(w_quad), confidence=clamp_confidence(w_conf))
                for w_text, w_conf, w_quad in words
                if w_text.strip()
            )
    if not line_words:
        line_words = split_words(text, box, conf)
    return Line(text=text, box=box, confidence=conf, words=line_words)
