#!/usr/bin/env python3
"""Render sample documents (scans, text-layer PDFs, scanned PDFs) with ground truth.

Three document kinds (the extraction contract of docs/architecture.md):
  purchase_contract  商品房/存量房买卖合同   buyer_names, buyer_id_numbers, seller, house_address,
                                             area_m2, price_yuan, signed_on
  business_licence   营业执照               name, credit_code, legal_representative, address,
                                             established_on
  safety_permit      安全生产许可证         permit_no, enterprise_name, valid_from, valid_to

The values come from the shared data and the sample cases (../shared-data/*.csv,
../deed-tax/cases, ../safety-permit-renewal/cases), so the documents can be attached to golden
cases. Every output file gets a `<stem>.truth.json` beside it, and `index.json` lists them all.

Deterministic: every random choice comes from a generator seeded by the document id. Needs
Pillow, numpy, reportlab, python-stdnum and the font of Debian's `fonts-wqy-zenhei` (only to
render; the written files need no font). Run:

    .venv/bin/python samples/documents/generate.py
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import shutil
import sys
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from stdnum.cn import uscc

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent
SHARED = SAMPLES / "shared-data"
FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
PDF_FONT = "STSong-Light"
KINDS = ("purchase_contract", "business_licence", "safety_permit")
MM_PT = 72 / 25.4  # points per millimetre

BLACK = (20, 20, 20)
RED = (214, 32, 38)
BLUE = (25, 40, 120)
GREY = (90, 90, 90)


# ============================================================================================
# Small helpers: seeds, money, dates
# ============================================================================================


def seed_of(*parts: object) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def q2(value: str | Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


DIGITS_CAP = "零壹贰叁肆伍陆柒捌玖"


def cn_capital(value: str | Decimal) -> str:
    """人民币大写金额: 1580000 -> 壹佰伍拾捌万元整, 1350000.50 -> 壹佰叁拾伍万元零伍角整."""
    v = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    cents = int(v * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10

    def four(n: int) -> str:
        out, zero = "", False
        for d, unit in zip(f"{n:04d}", ("仟", "佰", "拾", ""), strict=True):
            if d == "0":
                zero = bool(out)
            else:
                if zero:
                    out += "零"
                    zero = False
                out += DIGITS_CAP[int(d)] + unit
        return out

    out = ""
    prev_ends_zero = False
    skipped = False
    for g, unit in ((yuan // 10**8, "亿"), (yuan // 10**4 % 10**4, "万"), (yuan % 10**4, "")):
        if g == 0:
            skipped = bool(out)
            continue
        if out and (prev_ends_zero or skipped or g < 1000):
            out += "零"
        out += four(g) + unit
        prev_ends_zero, skipped = g % 10 == 0, False
    if yuan:
        out += "元"
    if jiao == 0 and fen == 0:
        return (out or "零元") + "整"
    if jiao:
        if yuan and (yuan % 10 == 0):
            out += "零"
        out += DIGITS_CAP[jiao] + "角"
        return out + ("整" if fen == 0 else DIGITS_CAP[fen] + "分")
    return out + ("零" if yuan else "") + DIGITS_CAP[fen] + "分"


def money_digits(value: str | Decimal) -> str:
    return f"{Decimal(value):,.2f}"


HAN = "〇一二三四五六七八九"


def han_number(n: int) -> str:
    if n <= 10:
        return "十" if n == 10 else HAN[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else HAN[tens]) + "十" + (HAN[ones] if ones else "")


def fmt_date(iso: str, style: str) -> str:
    d = date.fromisoformat(iso)
    if style == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "cn0":
        return f"{d.year}年{d.month:02d}月{d.day:02d}日"
    if style == "iso":
        return d.isoformat()
    if style == "han":
        return "".join(HAN[int(c)] for c in str(d.year)) + f"年{han_number(d.month)}月{han_number(d.day)}日"
    raise ValueError(style)


# ============================================================================================
# Page model (millimetres, origin top left) shared by the Pillow and the reportlab renderers
# ============================================================================================


@dataclass
class Text:
    x: float
    base: float  # baseline
    s: str
    size: float  # points
    color: tuple[int, int, int] = BLACK
    bold: bool = False
    underline: bool = False


@dataclass
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    w: float = 0.3
    color: tuple[int, int, int] = BLACK


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    w: float = 0.3
    color: tuple[int, int, int] = BLACK
    fill: tuple[int, int, int] | None = None


@dataclass
class QR:
    x: float
    y: float
    size: float
    seed: int


@dataclass
class Signature:
    x: float
    y: float
    w: float
    h: float
    seed: int
    color: tuple[int, int, int] = BLUE


@dataclass
class Seal:
    cx: float
    cy: float
    d: float  # diameter (mm)
    text: str
    bottom: str = ""
    shape: str = "round"  # round | rect | finger
    angle: float = 0.0
    seed: int = 0


@dataclass
class Run:
    text: str
    field: str | None = None
    u: bool = False
    b: bool = False
    nobreak: bool = False


_FONTS: dict[int, ImageFont.FreeTypeFont] = {}


def font(px: int) -> ImageFont.FreeTypeFont:
    if px not in _FONTS:
        _FONTS[px] = ImageFont.truetype(str(FONT_PATH), px, index=0)
    return _FONTS[px]


def text_mm(s: str, size: float) -> float:
    """Width of a string in mm at size points (measured with the render font)."""
    return font(200).getlength(s) / 200 * size / MM_PT


TOKEN = re.compile(r"[A-Za-z0-9.,¥￥\-\[\]()%/:'@]+|.", re.S)


class Doc:
    """Flows text onto A4 pages and remembers where each field value was placed."""

    def __init__(
        self, *, landscape: bool = False, margins: tuple[float, float, float, float] = (20, 20, 18, 18)
    ):
        self.w, self.h = (297.0, 210.0) if landscape else (210.0, 297.0)
        self.left, self.right, self.top, self.bottom = (
            margins[0],
            self.w - margins[1],
            margins[2],
            self.h - margins[3],
        )
        self.pages: list[list[Any]] = [[]]
        self.y = self.top
        self.boxes: dict[str, list[list[float]]] = defaultdict(list)
        self.labels: dict[str, str] = {}
        self.printed: dict[str, str] = defaultdict(str)  # field (#index) -> text as printed

    # -- primitives -------------------------------------------------------------------------
    def add(self, item: Any) -> None:
        self.pages[-1].append(item)

    def new_page(self) -> None:
        self.pages.append([])
        self.y = self.top

    def gap(self, mm: float) -> None:
        self.y += mm

    def ensure(self, mm: float) -> None:
        if self.y + mm > self.bottom:
            self.new_page()

    def label(self, fld: str, text: str) -> str:
        self.labels.setdefault(fld, text.rstrip("：: ").replace("\u3000", "").replace(" ", ""))
        return text

    def place(self, x: float, base: float, run: Run, size: float, color=BLACK) -> float:
        """One segment on one line; returns its width."""
        w = text_mm(run.text, size)
        self.add(Text(x, base, run.text, size, color, run.b, run.u))
        if run.field and run.text.strip():
            self.printed[run.field] += run.text
            key = run.field.split("#")[0]
            asc = size / MM_PT
            self.boxes[key].append([len(self.pages), x, base - 0.86 * asc, x + w, base + 0.14 * asc])
        return w

    # -- inline layout --------------------------------------------------------------------------
    @staticmethod
    def lay(runs: list[Run], x0: float, x1: float, size: float, indent: float = 0.0):
        """Break runs into lines: [[(x, Run-segment)], ...] relative to x0."""
        lines: list[list[tuple[float, Run]]] = [[]]
        x = indent
        width = x1 - x0
        for run in runs:
            units = [run.text] if run.nobreak else TOKEN.findall(run.text)
            for u in units:
                uw = text_mm(u, size)
                if x + uw > width + 0.01 and x > 0:
                    lines.append([])
                    x = 0.0
                    if u == " ":
                        continue
                cur = lines[-1]
                if cur and getattr(cur[-1][1], "_src", None) is run:
                    seg = cur[-1][1]
                    seg.text += u
                else:
                    seg = Run(u, run.field, run.u, run.b)
                    seg._src = run  # type: ignore[attr-defined]
                    cur.append((x, seg))
                x += uw
        return lines

    def flow(
        self,
        runs: list[Run] | str,
        size: float = 10.5,
        *,
        x0: float | None = None,
        x1: float | None = None,
        leading: float = 1.7,
        indent: float = 0.0,
        align: str = "left",
        before: float = 0.0,
        after: float = 0.0,
        color=BLACK,
    ) -> None:
        if isinstance(runs, str):
            runs = [Run(runs)]
        x0 = self.left if x0 is None else x0
        x1 = self.right if x1 is None else x1
        self.y += before
        lh = size / MM_PT * leading
        for line in self.lay(runs, x0, x1, size, indent):
            if not line:
                continue
            self.ensure(lh)
            base = self.y + lh / 2 + 0.36 * size / MM_PT
            width = line[-1][0] + text_mm(line[-1][1].text, size)
            shift = {"left": 0.0, "center": (x1 - x0 - width) / 2, "right": x1 - x0 - width}[align]
            for x, seg in line:
                self.place(x0 + shift + x, base, seg, size, color)
            self.y += lh
        self.y += after

    def cell(
        self,
        runs: list[Run],
        x0: float,
        x1: float,
        y: float,
        size: float,
        leading: float = 1.45,
        pad: float = 1.6,
        valign_h: float | None = None,
        align: str = "left",
    ) -> float:
        """Lay runs in a table cell starting at y; returns the height used (without placing if
        valign_h is None it places top aligned)."""
        lines = [ln for ln in self.lay(runs, x0 + pad, x1 - pad, size) if ln]
        lh = size / MM_PT * leading
        h = len(lines) * lh + 2 * pad
        top = y + pad
        if valign_h is not None:
            top = y + (valign_h - len(lines) * lh) / 2
        for i, line in enumerate(lines):
            base = top + i * lh + lh / 2 + 0.36 * size / MM_PT
            width = line[-1][0] + text_mm(line[-1][1].text, size)
            shift = (x1 - x0 - 2 * pad - width) / 2 if align == "center" else 0.0
            for x, seg in line:
                self.place(x0 + pad + shift + x, base, seg, size)
        return h

    def measure_cell(
        self, runs: list[Run], x0: float, x1: float, size: float, leading: float = 1.45, pad: float = 1.6
    ) -> float:
        lines = [ln for ln in self.lay(runs, x0 + pad, x1 - pad, size) if ln]
        return len(lines) * size / MM_PT * leading + 2 * pad

    def row(
        self,
        cells: list[tuple[float, float, list[Run], str]],
        size: float = 10.5,
        min_h: float = 8.5,
        line_w: float = 0.3,
    ) -> None:
        """A table row: cells (x0, x1, runs, align) with borders, vertically centred."""
        h = max([min_h] + [self.measure_cell(r, a, b, size) for a, b, r, _ in cells])
        self.ensure(h)
        for a, b, r, al in cells:
            self.add(Box(a, self.y, b, self.y + h, line_w))
            self.cell(r, a, b, self.y, size, valign_h=h, align=al)
        self.y += h


# ============================================================================================
# Rendering: Pillow (scans) and reportlab (text PDFs)
# ============================================================================================


def qr_matrix(seed: int, n: int = 25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.random((n, n)) < 0.48
    for r0, c0 in ((0, 0), (0, n - 7), (n - 7, 0)):
        m[r0 : r0 + 7, c0 : c0 + 7] = False
        m[r0 : r0 + 7, c0] = m[r0 : r0 + 7, c0 + 6] = True
        m[r0, c0 : c0 + 7] = m[r0 + 6, c0 : c0 + 7] = True
        m[r0 + 2 : r0 + 5, c0 + 2 : c0 + 5] = True
        # quiet separator
        for rr in range(max(0, r0 - 1), min(n, r0 + 8)):
            for cc in range(max(0, c0 - 1), min(n, c0 + 8)):
                if not (r0 <= rr < r0 + 7 and c0 <= cc < c0 + 7):
                    m[rr, cc] = False
    m[6, 8 : n - 8] = [i % 2 == 0 for i in range(n - 16)]
    m[8 : n - 8, 6] = [i % 2 == 0 for i in range(n - 16)]
    return m


def signature_points(sig: Signature) -> list[tuple[float, float]]:
    rng = random.Random(sig.seed)
    pts = []
    k = rng.randint(3, 5)
    phases = [rng.uniform(0, 6.28) for _ in range(3)]
    for i in range(160):
        t = i / 159
        x = sig.x + sig.w * t + 2.2 * math.sin(t * k * 6.28 + phases[0])
        y = (
            sig.y
            + sig.h / 2
            + sig.h
            * 0.42
            * math.sin(t * k * 2 * 6.28 + phases[1])
            * (0.6 + 0.4 * math.sin(t * 6.28 + phases[2]))
        )
        pts.append((x, y))
    return pts


def seal_image(seal: Seal, px_per_mm: float, texture: bool = True) -> Image.Image:
    """A red seal as an RGBA image (ink texture included)."""
    rng = np.random.default_rng(seal.seed)
    if seal.shape == "rect":
        w_mm, h_mm = seal.d, seal.d * 0.42
    else:
        w_mm = h_mm = seal.d
    W, H = max(8, round(w_mm * px_per_mm)), max(8, round(h_mm * px_per_mm))
    mask = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(mask)
    s = px_per_mm
    if seal.shape == "round":
        ring = max(2, round(1.1 * s))
        d.ellipse([ring / 2, ring / 2, W - ring / 2, H - ring / 2], outline=255, width=ring)
        cx, cy, r = W / 2, H / 2, W / 2
        # star
        rs, ri = r * 0.30, r * 0.12
        star = []
        for i in range(10):
            a = -math.pi / 2 + i * math.pi / 5
            rr = rs if i % 2 == 0 else ri
            star.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        d.polygon(star, fill=255)
        # arc text
        n = len(seal.text)
        ch = r * 0.34
        f = font(max(6, round(ch)))
        span = min(250.0, 24.0 * n)
        rt = r - ring - ch * 0.62
        for i, c in enumerate(seal.text):
            a = -90 - span / 2 + span * (i + 0.5) / n
            ci = Image.new("L", (round(ch * 1.4), round(ch * 1.4)), 0)
            ImageDraw.Draw(ci).text((ci.width / 2, ci.height / 2), c, font=f, fill=255, anchor="mm")
            ci = ci.rotate(-(a + 90), resample=Image.BICUBIC)
            px = cx + rt * math.cos(math.radians(a)) - ci.width / 2
            py = cy + rt * math.sin(math.radians(a)) - ci.height / 2
            mask.paste(255, (round(px), round(py)), ci)
        if seal.bottom:
            fb = font(max(6, round(r * 0.2)))
            d.text((cx, cy + r * 0.52), seal.bottom, font=fb, fill=255, anchor="mm")
    elif seal.shape == "rect":
        lw = max(2, round(0.7 * s))
        d.rectangle([lw / 2, lw / 2, W - lw / 2, H - lw / 2], outline=255, width=lw)
        lines = seal.text.split("\n")
        fs = max(6, round(H / (len(lines) + 0.9) * 0.75))
        for i, ln in enumerate(lines):
            d.text(
                (W / 2, H * (i + 0.5 + 0.25) / (len(lines) + 0.5)), ln, font=font(fs), fill=255, anchor="mm"
            )
    else:  # finger print: concentric ridges in an oval
        for k in range(0, 14):
            inset = k * s * 0.55
            if inset * 2 >= min(W, H) * 0.95:
                break
            d.ellipse(
                [inset * 0.75, inset, W - inset * 0.75, H - inset], outline=255, width=max(1, round(0.22 * s))
            )
    arr = np.asarray(mask, dtype=np.float32) / 255
    noise = rng.random(arr.shape, dtype=np.float32)
    blotch = (
        np.asarray(
            Image.fromarray((rng.random((max(2, H // 12), max(2, W // 12))) * 255).astype(np.uint8)).resize(
                (W, H), Image.BILINEAR
            ),
            dtype=np.float32,
        )
        / 255
    )
    if texture:
        alpha = arr * np.clip(0.55 + 0.45 * blotch, 0, 1) * np.where(noise < 0.05, 0.3, 1.0) * 0.88
    else:
        alpha = arr * 0.85
    img = Image.new("RGBA", (W, H), (*RED, 0))
    img.putalpha(
        Image.fromarray((alpha * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.35 * s / 6))
    )
    if seal.angle:
        img = img.rotate(seal.angle, resample=Image.BICUBIC, expand=True)
    return img


def render(doc: Doc, page_no: int, dpi: int, paper=(255, 255, 255)) -> Image.Image:
    s = dpi / 25.4
    img = Image.new("RGB", (round(doc.w * s), round(doc.h * s)), paper)
    d = ImageDraw.Draw(img)
    seals = []
    for it in doc.pages[page_no]:
        if isinstance(it, Text):
            px = max(6, round(it.size / 72 * dpi))
            sw = max(1, round(px / 28)) if it.bold else 0
            d.text(
                (it.x * s, it.base * s),
                it.s,
                font=font(px),
                fill=it.color,
                anchor="ls",
                stroke_width=sw,
                stroke_fill=it.color,
            )
            if it.underline:
                uy = (it.base + 0.16 * it.size / MM_PT * 1.0) * s + 1
                d.line(
                    [(it.x * s, uy), ((it.x + text_mm(it.s, it.size)) * s, uy)],
                    fill=it.color,
                    width=max(1, round(0.25 * s)),
                )
        elif isinstance(it, Line):
            d.line(
                [(it.x0 * s, it.y0 * s), (it.x1 * s, it.y1 * s)], fill=it.color, width=max(1, round(it.w * s))
            )
        elif isinstance(it, Box):
            d.rectangle(
                [it.x0 * s, it.y0 * s, it.x1 * s, it.y1 * s],
                outline=it.color,
                fill=it.fill,
                width=max(1, round(it.w * s)),
            )
        elif isinstance(it, QR):
            m = qr_matrix(it.seed)
            cs = it.size / m.shape[0]
            for r, c in zip(*np.nonzero(m), strict=True):
                d.rectangle(
                    [
                        (it.x + c * cs) * s,
                        (it.y + r * cs) * s,
                        (it.x + (c + 1) * cs) * s - 1,
                        (it.y + (r + 1) * cs) * s - 1,
                    ],
                    fill=BLACK,
                )
        elif isinstance(it, Signature):
            pts = [(x * s, y * s) for x, y in signature_points(it)]
            d.line(pts, fill=it.color, width=max(1, round(0.45 * s)), joint="curve")
        elif isinstance(it, Seal):
            seals.append(it)
    if seals:
        arr = np.asarray(img, dtype=np.float32)
        for seal in seals:
            st = seal_image(seal, s)
            a = np.asarray(st, dtype=np.float32)
            x0, y0 = round(seal.cx * s - st.width / 2), round(seal.cy * s - st.height / 2)
            xa, ya, xb, yb = (
                max(0, x0),
                max(0, y0),
                min(arr.shape[1], x0 + st.width),
                min(arr.shape[0], y0 + st.height),
            )
            if xa >= xb or ya >= yb:
                continue
            sub = a[ya - y0 : yb - y0, xa - x0 : xb - x0]
            alpha = sub[..., 3:4] / 255
            colour = sub[..., :3] / 255
            arr[ya:yb, xa:xb] *= 1 - alpha + alpha * colour  # multiply: text under the seal stays dark
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img


_PDF_FONT_READY = False


def pdf_font() -> None:
    global _PDF_FONT_READY
    if not _PDF_FONT_READY:
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
        _PDF_FONT_READY = True


def write_text_pdf(doc: Doc, path: Path, title: str) -> None:
    pdf_font()
    W, H = doc.w * MM_PT, doc.h * MM_PT
    c = canvas.Canvas(str(path), pagesize=(W, H), invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("miaopi samples")
    for page in doc.pages:
        for it in page:
            if isinstance(it, Text):
                c.setFillColorRGB(*(v / 255 for v in it.color))
                t = c.beginText(it.x * MM_PT, H - it.base * MM_PT)
                t.setFont(PDF_FONT, it.size)
                if it.bold:
                    c.setStrokeColorRGB(*(v / 255 for v in it.color))
                    c.setLineWidth(it.size / 30)
                    t.setTextRenderMode(2)
                t.textOut(it.s)
                c.drawText(t)
                if it.underline:
                    c.setStrokeColorRGB(*(v / 255 for v in it.color))
                    c.setLineWidth(0.5)
                    uy = H - (it.base + 0.16 * it.size / MM_PT) * MM_PT - 1
                    c.line(it.x * MM_PT, uy, (it.x + text_mm(it.s, it.size)) * MM_PT, uy)
            elif isinstance(it, Line):
                c.setStrokeColorRGB(*(v / 255 for v in it.color))
                c.setLineWidth(it.w * MM_PT)
                c.line(it.x0 * MM_PT, H - it.y0 * MM_PT, it.x1 * MM_PT, H - it.y1 * MM_PT)
            elif isinstance(it, Box):
                c.setStrokeColorRGB(*(v / 255 for v in it.color))
                c.setLineWidth(it.w * MM_PT)
                if it.fill:
                    c.setFillColorRGB(*(v / 255 for v in it.fill))
                c.rect(
                    it.x0 * MM_PT,
                    H - it.y1 * MM_PT,
                    (it.x1 - it.x0) * MM_PT,
                    (it.y1 - it.y0) * MM_PT,
                    stroke=1,
                    fill=1 if it.fill else 0,
                )
            elif isinstance(it, QR):
                m = qr_matrix(it.seed)
                cs = it.size / m.shape[0]
                c.setFillColorRGB(0.08, 0.08, 0.08)
                for r, col in zip(*np.nonzero(m), strict=True):
                    c.rect(
                        (it.x + col * cs) * MM_PT,
                        H - (it.y + (r + 1) * cs) * MM_PT,
                        cs * MM_PT,
                        cs * MM_PT,
                        stroke=0,
                        fill=1,
                    )
            elif isinstance(it, Signature):
                c.setStrokeColorRGB(*(v / 255 for v in it.color))
                c.setLineWidth(0.45 * MM_PT)
                p = c.beginPath()
                pts = signature_points(it)
                p.moveTo(pts[0][0] * MM_PT, H - pts[0][1] * MM_PT)
                for x, y in pts[1:]:
                    p.lineTo(x * MM_PT, H - y * MM_PT)
                c.drawPath(p, stroke=1, fill=0)
            elif isinstance(it, Seal):
                # electronic seal: an image (no text in the text layer), as e-contract stamps are
                st = seal_image(it, 8.0, texture=False)
                w, h = st.width / 8.0, st.height / 8.0
                c.drawImage(
                    ImageReader(st),
                    (it.cx - w / 2) * MM_PT,
                    H - (it.cy + h / 2) * MM_PT,
                    w * MM_PT,
                    h * MM_PT,
                    mask="auto",
                )
        c.showPage()
    c.save()


# ============================================================================================
# Scan degradations
# ============================================================================================

PROFILES: dict[str, dict[str, Any]] = {
    # readable
    "clean": {"rot": 0.6, "blur": 0.25, "noise": 1.5, "contrast": (0.97, 1.03), "quality": (80, 88)},
    "mild": {"rot": 1.2, "blur": 0.45, "noise": 2.5, "contrast": (0.92, 1.08), "quality": (65, 80)},
    "medium": {"rot": 2.2, "blur": 0.7, "noise": 4.0, "contrast": (0.85, 1.12), "quality": (48, 62)},
    "rough": {
        "rot": 3.0,
        "blur": 0.9,
        "noise": 6.0,
        "contrast": (0.8, 0.9),
        "quality": (30, 42),
        "bright": 0.92,
    },
    # unreadable (a person could not read the key fields reliably)
    "unreadable-blur": {"rot": 1.5, "blur": 7.0, "noise": 4.0, "contrast": (0.9, 1.0), "quality": (55, 60)},
    "unreadable-lowres": {
        "rot": 2.0,
        "lowres": 19,
        "noise": 3.0,
        "contrast": (0.9, 1.0),
        "quality": (35, 40),
    },
    "unreadable-noise": {
        "rot": 2.5,
        "blur": 2.2,
        "noise": 95.0,
        "coarse": 2,
        "contrast": (0.35, 0.4),
        "quality": (40, 45),
    },
    "unreadable-dark": {
        "rot": 1.0,
        "blur": 1.6,
        "noise": 10.0,
        "contrast": (0.3, 0.32),
        "quality": (45, 50),
        "bright": 0.16,
    },
}


def rotate_point(x: float, y: float, cx: float, cy: float, deg: float) -> tuple[float, float]:
    t = math.radians(deg)
    dx, dy = x - cx, y - cy
    return cx + dx * math.cos(t) + dy * math.sin(t), cy - dx * math.sin(t) + dy * math.cos(t)


def degrade(
    img: Image.Image,
    profile: str,
    dpi: int,
    rng: random.Random,
    *,
    gray: bool = False,
    scanner_edge: bool = False,
) -> tuple[Image.Image, list[str], float]:
    """Apply scan defects; returns image, a description list and the rotation in degrees."""
    p = PROFILES[profile]
    nrng = np.random.default_rng(rng.randrange(2**32))
    steps: list[str] = []
    scale = dpi / 150
    # uneven illumination / paper tone
    arr = np.asarray(img, dtype=np.float32)
    hgt, wid = arr.shape[:2]
    gx = np.linspace(0, 1, wid, dtype=np.float32)[None, :]
    gy = np.linspace(0, 1, hgt, dtype=np.float32)[:, None]
    shade = 1 - 0.05 * (rng.random() * gx + rng.random() * gy)
    tone = np.array([1.0, 0.99, 0.965 if rng.random() < 0.5 else 0.985], dtype=np.float32)
    arr = arr * shade[..., None] * tone
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    steps.append("paper_tone")
    # rotation
    angle = 0.0
    if p.get("rot"):
        angle = round(rng.uniform(0.25, p["rot"]) * rng.choice((-1, 1)), 2)
        fill = (60, 60, 62) if scanner_edge else (246, 245, 240)
        img = img.rotate(angle, resample=Image.BICUBIC, fillcolor=fill)
        steps.append(f"rotate:{angle:+.2f}")
    if p.get("lowres"):
        low = p["lowres"]
        small = img.resize(
            (max(1, round(img.width * low / dpi)), max(1, round(img.height * low / dpi))), Image.BOX
        )
        img = small.resize(img.size, Image.BILINEAR)
        steps.append(f"lowres:{low}dpi")
    if p.get("blur"):
        r = round(p["blur"] * scale * rng.uniform(0.8, 1.0), 2)
        img = img.filter(ImageFilter.GaussianBlur(r))
        steps.append(f"blur:{r}")
    lo, hi = p["contrast"]
    con = round(rng.uniform(lo, hi), 2)
    img = ImageEnhance.Contrast(img).enhance(con)
    if abs(con - 1) > 0.005:
        steps.append(f"contrast:{con}")
    if p.get("bright"):
        img = ImageEnhance.Brightness(img).enhance(p["bright"])
        steps.append(f"brightness:{p['bright']}")
    if p.get("noise"):
        sigma = p["noise"]
        arr = np.asarray(img, dtype=np.float32)
        if p.get("coarse"):
            k = p["coarse"]
            n = nrng.normal(0, sigma, (arr.shape[0] // k + 1, arr.shape[1] // k + 1)).astype(np.float32)
            n = np.repeat(np.repeat(n, k, 0), k, 1)[: arr.shape[0], : arr.shape[1]]
        else:
            n = nrng.normal(0, sigma, arr.shape[:2]).astype(np.float32)
        arr = arr + n[..., None]
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        steps.append(f"gaussian_noise:{sigma:g}")
    if gray:
        img = img.convert("L")
        steps.append("grayscale")
    return img, steps, angle


def auto_levels(img: Image.Image, white: int = 212, black: int = 40) -> Image.Image:
    """What a scanner's document mode does: paper to pure white, ink to black."""
    lut = [max(0, min(255, round((v - black) * 255 / (white - black)))) for v in range(256)]
    return img.point(lut * len(img.getbands()))


def jpeg_bytes(img: Image.Image, quality: int, dpi: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True, dpi=(dpi, dpi))
    return buf.getvalue()


# ============================================================================================
# Shared data
# ============================================================================================


def load_csv(name: str) -> list[dict[str, str]]:
    with open(SHARED / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class Data:
    def __init__(self) -> None:
        self.population = {r["id_number"]: r for r in load_csv("population.csv")}
        self.filings = {r["filing_no"]: r for r in load_csv("contract_filings.csv")}
        self.enterprises = {r["credit_code"]: r for r in load_csv("enterprises.csv")}
        self.permits = {r["cert_no"]: r for r in load_csv("certificates.csv") if r["kind"] == "safety_permit"}
        self.cases: dict[str, dict[str, Any]] = {}
        for item in ("deed-tax", "safety-permit-renewal"):
            for p in sorted((SAMPLES / item / "cases").glob("*.json")):
                body = json.loads(p.read_text(encoding="utf-8"))
                self.cases[body["case_id"]] = body
        self.used_people = {c["applicant"].get("id_number") for c in self.cases.values()}
        self.used_people |= {r["holder_id"] for r in load_csv("certificates.csv")}
        self.used_people |= {e["legal_rep_id_number"] for e in self.enterprises.values()}
        self.used_people |= {r["buyer_id_number"] for r in self.filings.values()}
        for c in self.cases.values():
            self.used_people.add(c["form"].get("spouse_id_number"))
            for st in c["form"].get("staff", []):
                self.used_people.add(st["id_number"])

    def case(self, prefix: str) -> dict[str, Any]:
        hits = [c for cid, c in self.cases.items() if cid == prefix or cid.startswith(prefix + "-")]
        if len(hits) != 1:
            sys.exit(f"documents: expected exactly one case {prefix!r}, found {len(hits)}")
        return hits[0]

    def name(self, id_number: str) -> str:
        return self.population[id_number]["name"]

    def bystanders(self, n: int, salt: str) -> list[str]:
        """People of the population register not used by any case (sellers, other buyers)."""
        pool = sorted(
            i
            for i, r in self.population.items()
            if i not in self.used_people and r["status"] == "normal" and r["birth_date"] < "2000-01-01"
        )
        rng = random.Random(salt)
        return rng.sample(pool, n)


DEVELOPERS = [
    "成都天府锦程置业有限公司",
    "四川蓉城安居房地产开发有限公司",
    "成都西岭置地有限公司",
    "成都望江华府房地产开发有限公司",
    "四川青城山水置业有限公司",
    "成都锦官新城房地产开发有限公司",
]


def make_uscc(key: str) -> str:
    """A valid unified social credit code derived from a name (GB 32100 / GB 11714 check characters)."""
    rng = random.Random("uscc/" + key)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body8 = "MA6" + "".join(rng.choice(alphabet) for _ in range(5))
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body8]
    rest = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    code = (
        "91"
        + rng.choice(["510100", "510104", "510107", "510116"])
        + body8
        + {10: "X", 11: "0"}.get(rest, str(rest))
    )
    code += uscc.calc_check_digit(code)
    assert uscc.is_valid(code), code
    return code


AGENCIES = ["成都链家房地产经纪有限公司", "成都安居乐房地产经纪有限公司", "四川蜀居房地产经纪有限公司"]
STREET_CONTACT = [
    "成都市武侯区人民南路四段",
    "成都市锦江区红星路三段",
    "成都市青羊区顺城大街",
    "成都市成华区建设北路二段",
    "成都市高新区天府大道北段",
    "成都市金牛区一环路北三段",
]


# ============================================================================================
# Document kinds: content builders
# ============================================================================================

CLAUSES_NEW = [
    (
        "付款方式及期限",
        "买受人采取下列第二种方式付款：（一）一次性付款；（二）分期付款；（三）贷款方式付款。买受人应当于本合同签订之日起7日内支付首付款，剩余价款按照贷款银行的放款时间支付。",
    ),
    (
        "交付时间和手续",
        "出卖人应当在2027年6月30日前向买受人交付该商品房。该商品房交付时，出卖人应当出示《建设工程竣工验收备案表》、《住宅质量保证书》和《住宅使用说明书》。",
    ),
    (
        "面积差异处理方式",
        "该商品房交付时，出卖人应当向买受人出示房屋测绘报告。建筑面积误差比绝对值在3%以内（含3%）的，据实结算房价款；超出3%的，买受人有权解除合同。",
    ),
    (
        "逾期付款责任",
        "买受人逾期支付房价款的，应当按照逾期时间，分别处理：逾期在30日之内，买受人按日计算向出卖人支付逾期应付款万分之一的违约金。",
    ),
    (
        "不动产登记",
        "双方同意共同向不动产登记机构申请办理该商品房转移登记。因出卖人的原因，买受人未能在该商品房交付之日起360日内取得不动产权属证书的，由出卖人承担违约责任。",
    ),
    (
        "物业管理",
        "出卖人依法选聘的前期物业服务企业为成都锦城物业服务有限公司，物业服务时间从本合同签订之日起至业主委员会代表全体业主与业主大会选聘的物业服务企业签订的物业服务合同生效时止。",
    ),
    (
        "保修责任",
        "该商品房实行保修制度。保修期从该商品房交付之日起计算，屋面防水工程、有防水要求的卫生间、房间和外墙面的防渗漏为5年，供热与供冷系统为2个采暖期、供冷期。",
    ),
    (
        "争议解决方式",
        "本合同在履行过程中发生的争议，由双方当事人协商解决；协商不成的，依法向房屋所在地人民法院起诉。",
    ),
    (
        "合同生效",
        "本合同自双方签字或盖章之日起生效。本合同一式肆份，出卖人、买受人各执一份，不动产登记机构、贷款银行各执一份，具有同等法律效力。",
    ),
]
CLAUSES_OLD = [
    (
        "房屋权属情况",
        "出卖人保证该房屋权属清楚，不存在产权纠纷，未设定抵押，未被司法机关查封，且房屋所占用范围内的土地使用权已依法取得。",
    ),
    (
        "付款方式",
        "买受人于本合同签订之日支付定金人民币贰万元整，余款通过资金监管账户支付，在办理完毕转移登记后由监管机构划转出卖人。",
    ),
    (
        "房屋交付",
        "出卖人应当在转移登记完成之日起15日内将该房屋交付买受人，并结清交付前的水、电、燃气、物业服务等费用。",
    ),
    ("税费承担", "办理转移登记所产生的税费，由买卖双方按照国家及成都市有关规定各自承担。"),
    (
        "违约责任",
        "任何一方未按本合同约定履行义务的，应当向对方支付房屋总价款百分之五的违约金；给对方造成损失的，还应赔偿损失。",
    ),
    ("争议解决", "本合同履行中发生争议的，双方协商解决；协商不成的，依法向该房屋所在地人民法院提起诉讼。"),
    (
        "其他约定",
        "本合同未尽事宜，双方可另行签订补充协议，补充协议与本合同具有同等法律效力。本合同一式叁份，买卖双方各执一份，登记机构存档一份。",
    ),
]
USAGE_CN = {"residential": "住宅", "office": "办公", "commercial": "商业"}


@dataclass
class Spec:
    """One output document: which record, how it is laid out and how it is degraded."""

    doc_id: str
    kind: str
    fmt: str  # jpeg | png | tiff-g4 | tiff-jpeg | tiff-lzw | pdf-text | pdf-scan | pdf-scan-2p
    layout: str
    record: dict[str, Any]
    dpi: int = 150
    profile: str = "mild"
    gray: bool = False
    edge: bool = False
    note: str = ""
    links: dict[str, Any] = field(default_factory=dict)
    seal_on_date: bool = False

    @property
    def readable(self) -> bool:
        return not self.profile.startswith("unreadable")


def colon(rng: random.Random, table: bool = False) -> str:
    if table:
        return rng.choice(["", "", "", "：", ":"])
    return rng.choice(["：", "：", "：", ":", " ", "\u3000"])


def build_contract(spec: Spec, filler: int, split: bool = False) -> Doc:
    r = spec.record
    rng = random.Random(spec.doc_id)
    layout = spec.layout
    new_house = r["seller_kind"] == "developer"
    doc = Doc(margins=(22, 20, 16, 16))
    L = {
        "buyer": rng.choice(
            ["买受人", "买方", "承购人"] if not new_house else ["买受人", "买受人", "买方", "承购人"]
        ),
        "seller": rng.choice(["出卖人", "卖方"] if not new_house else ["出卖人", "出卖人", "卖方"]),
        "address": rng.choice(["房屋坐落", "房屋地址", "坐落"]),
        "area": rng.choice(["建筑面积", "房屋建筑面积"]),
        "price": rng.choice(["总价款", "成交价", "合同总价"]),
        "signed": rng.choice(["签订日期", "签约日期", "合同签订日期"]),
        "id": rng.choice(["身份证号码", "证件号码", "身份证号"]),
    }
    date_style = rng.choice(["cn", "cn", "iso", "han", "cn0"])
    signed_txt = fmt_date(r["signed_on"], date_style)
    area_unit = rng.choice(["平方米", "平方米", "㎡", " m²"])
    sz = 10.5 if layout != "table" else 10.0
    buyers = r["buyers"]
    title = (
        ("商品房买卖合同" + rng.choice(["（现售）", "（预售）", ""]))
        if new_house
        else rng.choice(["存量房买卖合同", "成都市存量房买卖合同", "二手房买卖合同"])
    )

    # header
    if layout != "clause" or rng.random() < 0.5:
        doc.add(QR(doc.right - 20, doc.top, 20, seed_of(spec.doc_id, "qr")))
        doc.flow("扫码查验", 7, x0=doc.right - 20, x1=doc.right, align="center", before=20.5, color=GREY)
        doc.y = doc.top
    doc.flow([Run("合同编号："), Run(r["contract_no"])], 9, x1=doc.right - 24)
    if r.get("filing_no"):
        doc.flow([Run("网签备案号："), Run(r["filing_no"])], 9, x1=doc.right - 24)
    doc.flow([Run(title, b=True)], 20, align="center", before=4, after=1)
    doc.flow(
        "GF—2014—0171" if new_house else "成都市住房和城乡建设局　成都市市场监督管理局　制定",
        9,
        align="center",
        after=3,
        color=GREY,
    )

    def party_lines() -> None:
        c = colon(rng)
        if layout == "clause":
            c = "："
        doc.flow(
            [
                Run(doc.label("seller", L["seller"] + c), b=True),
                Run(r["seller"], "seller", u=layout == "clause"),
            ],
            sz,
            before=1,
        )
        if new_house:
            doc.flow(
                [Run("统一社会信用代码：" + r["seller_code"] + "\u3000\u3000法定代表人：" + r["seller_rep"])],
                sz - 0.5,
            )
            doc.flow([Run("通讯地址：" + r["seller_addr"])], sz - 0.5)
        else:
            doc.flow(
                [Run("身份证号码：" + r["seller_id"] + "\u3000\u3000联系电话：" + r["seller_phone"])],
                sz - 0.5,
            )
        both = len(buyers) == 2 and rng.random() < 0.5
        if both:
            doc.flow(
                [
                    Run(doc.label("buyer_names", L["buyer"] + c), b=True),
                    Run(buyers[0][0], "buyer_names#0", u=layout == "clause"),
                    Run("、"),
                    Run(buyers[1][0], "buyer_names#1", u=layout == "clause"),
                ],
                sz,
                before=1.5,
            )
            doc.flow(
                [
                    Run(doc.label("buyer_id_numbers", L["id"] + c)),
                    Run(buyers[0][1], "buyer_id_numbers#0"),
                    Run("、"),
                    Run(buyers[1][1], "buyer_id_numbers#1"),
                ],
                sz,
            )
        else:
            for i, (nm, idn) in enumerate(buyers):
                tag = f"（{'一二'[i]}）" if len(buyers) == 2 else ""
                runs = [
                    Run(doc.label("buyer_names", L["buyer"] + tag + c), b=True),
                    Run(nm, f"buyer_names#{i}", u=layout == "clause"),
                ]
                if rng.random() < 0.6:
                    runs += [
                        Run("\u3000\u3000" + doc.label("buyer_id_numbers", L["id"] + c)),
                        Run(idn, f"buyer_id_numbers#{i}"),
                    ]
                    doc.flow(runs, sz, before=1.5)
                else:
                    doc.flow(runs, sz, before=1.5)
                    doc.flow(
                        [
                            Run("证件类型：居民身份证\u3000" + doc.label("buyer_id_numbers", L["id"] + c)),
                            Run(idn, f"buyer_id_numbers#{i}"),
                        ],
                        sz,
                    )
        doc.flow("联系电话：" + r["buyer_phone"] + "\u3000\u3000通讯地址：" + r["buyer_contact"], sz - 0.5)
        if not new_house:
            doc.flow("居间方（经纪机构）：" + r["agency"], sz - 0.5)

    if layout in ("form", "clause"):
        party_lines()
        doc.flow(
            "根据《中华人民共和国民法典》《中华人民共和国城市房地产管理法》等法律、法规的规定，"
            + L["seller"]
            + "和"
            + L["buyer"]
            + "在平等、自愿、公平、协商一致的基础上，就"
            + ("商品房" if new_house else "存量房屋")
            + "买卖事项达成如下协议：",
            sz,
            indent=2 * sz / MM_PT,
            before=2,
            after=1,
        )
        house = "该商品房" if new_house else "该房屋"
        if layout == "form":
            c = colon(rng)
            doc.flow([Run("第一条　房屋基本情况", b=True)], sz + 0.5, before=1)
            doc.flow(
                [Run(doc.label("house_address", L["address"] + c)), Run(r["house_address"], "house_address")],
                sz,
            )
            runs = [Run(doc.label("area_m2", L["area"] + c)), Run(r["area_m2"], "area_m2"), Run(area_unit)]
            if new_house:
                runs += [Run("\u3000\u3000套内建筑面积：" + r["inner_area"] + area_unit)]
            doc.flow(runs, sz)
            doc.flow(
                f"规划用途：{USAGE_CN[r['usage']]}\u3000\u3000房屋结构：钢筋混凝土\u3000\u3000所在楼层：{r['floor']}层",
                sz,
            )
            doc.flow([Run("第二条　房屋价款", b=True)], sz + 0.5, before=1)
            doc.flow(
                [
                    Run(
                        doc.label("price_yuan", L["price"] + c)
                        + "人民币（小写）"
                        + rng.choice(["¥", "￥", ""])
                    ),
                    Run(money_digits(r["price_yuan"]), "price_yuan"),
                    Run("元"),
                ],
                sz,
            )
            doc.flow([Run("人民币（大写）："), Run(cn_capital(r["price_yuan"]), "price_yuan_capital")], sz)
            if rng.random() < 0.6:
                doc.flow(f"（按建筑面积计算，单价为每平方米{money_digits(r['unit_price'])}元。）", sz - 0.5)
            if split:
                doc.new_page()
        else:  # clause: values inside sentences, underlined
            doc.flow([Run("第一条　" + house + "基本状况", b=True)], sz + 0.5, before=1)
            lead = (
                house + doc.label("house_address", "坐落") + "于"
                if L["address"] == "坐落"
                else doc.label("house_address", L["address"]) + "："
            )
            doc.flow(
                [
                    Run("1. " + lead),
                    Run(r["house_address"], "house_address", u=True),
                    Run("。" if L["address"] == "坐落" else ""),
                ],
                sz,
                indent=2 * sz / MM_PT,
            )
            doc.flow(
                [
                    Run(
                        f"2. {house}的用途为{USAGE_CN[r['usage']]}，" + doc.label("area_m2", L["area"]) + "共"
                    ),
                    Run(r["area_m2"], "area_m2", u=True),
                    Run(
                        f"平方米，其中套内建筑面积{r['inner_area']}平方米，分摊共有建筑面积{r['shared_area']}平方米。"
                    ),
                ],
                sz,
                indent=2 * sz / MM_PT,
            )
            doc.flow([Run("第二条　价款", b=True)], sz + 0.5, before=1)
            doc.flow(
                [
                    Run(f"{house}" + doc.label("price_yuan", L["price"]) + "为人民币"),
                    Run(money_digits(r["price_yuan"]), "price_yuan", u=True),
                    Run("元（大写："),
                    Run(cn_capital(r["price_yuan"]), "price_yuan_capital", u=True),
                    Run("）。"),
                ],
                sz,
                indent=2 * sz / MM_PT,
            )
            if split:
                doc.new_page()
    else:  # table layout
        c = colon(rng, table=True)
        X0, X1 = doc.left, doc.right
        lab = 34.0
        doc.gap(2)

        def lr(label: str, runs: list[Run], fld: str | None = None) -> None:
            if fld:
                doc.label(fld, label)
            doc.row([(X0, X0 + lab, [Run(label + c)], "center"), (X0 + lab, X1, runs, "left")], sz)

        def below(label: str, runs: list[Run], fld: str | None = None) -> None:
            if fld:
                doc.label(fld, label)
            doc.row([(X0, X1, [Run(label + c, b=True)], "left")], sz, min_h=7)
            doc.row([(X0, X1, runs, "left")], sz, min_h=9)

        lr(L["seller"], [Run(r["seller"], "seller")], "seller")
        if new_house:
            lr("统一社会信用代码", [Run(r["seller_code"])])
        else:
            lr("身份证号码", [Run(r["seller_id"])])
        for i, (nm, idn) in enumerate(buyers):
            tag = f"（{'一二'[i]}）" if len(buyers) == 2 else ""
            lr(L["buyer"] + tag, [Run(nm, f"buyer_names#{i}")], "buyer_names")
            lr(L["id"], [Run(idn, f"buyer_id_numbers#{i}")], "buyer_id_numbers")
        doc.row([(X0, X1, [Run("房屋基本情况", b=True)], "center")], sz, min_h=7)
        if rng.random() < 0.5:
            below(L["address"], [Run(r["house_address"], "house_address")], "house_address")
            doc.row(
                [
                    (X0, X0 + lab, [Run(doc.label("area_m2", L["area"]) + c)], "center"),
                    (X0 + lab, X0 + 84, [Run(r["area_m2"], "area_m2"), Run(area_unit)], "left"),
                    (X0 + 84, X0 + 84 + lab, [Run("规划用途" + c)], "center"),
                    (X0 + 84 + lab, X1, [Run(USAGE_CN[r["usage"]])], "left"),
                ],
                sz,
            )
        else:  # narrow value cell: the address wraps inside the cell
            doc.label("house_address", L["address"])
            doc.label("area_m2", L["area"])
            doc.row(
                [
                    (X0, X0 + 26, [Run(L["address"] + c)], "center"),
                    (X0 + 26, X0 + 88, [Run(r["house_address"], "house_address")], "left"),
                    (X0 + 88, X0 + 118, [Run(L["area"] + c)], "center"),
                    (X0 + 118, X1, [Run(r["area_m2"], "area_m2"), Run(area_unit)], "left"),
                ],
                sz,
            )
        if split:
            doc.new_page()
        price_runs = [
            Run(rng.choice(["¥", "人民币", "￥"])),
            Run(money_digits(r["price_yuan"]), "price_yuan"),
            Run("元"),
        ]
        cap_runs = [Run("大写："), Run(cn_capital(r["price_yuan"]), "price_yuan_capital")]
        if rng.random() < 0.5:
            below(L["price"], [*price_runs, Run("\u3000"), *cap_runs], "price_yuan")
        else:
            doc.label("price_yuan", L["price"])
            doc.row([(X0, X0 + lab, [Run(L["price"] + c)], "center"), (X0 + lab, X1, price_runs, "left")], sz)
            doc.row([(X0, X0 + lab, [Run("金额大写" + c)], "center"), (X0 + lab, X1, cap_runs, "left")], sz)
        lr(L["signed"], [Run(signed_txt, "signed_on")], "signed_on")
        doc.gap(2)

    # filler clauses
    clauses = CLAUSES_NEW if new_house else CLAUSES_OLD
    start = 3 if layout != "table" else 1
    for i, (head, body) in enumerate(clauses[:filler]):
        num = "第" + han_number(start + i) + "条"
        doc.flow([Run(f"{num}　{head}", b=True)], sz + 0.5, before=1)
        doc.flow(body, sz, indent=2 * sz / MM_PT, leading=1.6)

    # signatures
    over_date = layout != "table" and spec.seal_on_date  # the seller's seal sits on the signing date
    doc.ensure(52 if over_date or layout == "table" else 62)
    doc.gap(4)
    y0 = doc.y
    mid = (doc.left + doc.right) / 2
    doc.flow([Run(L["seller"] + "（签章）：", b=True)], sz, x1=mid)
    doc.y = y0
    doc.flow([Run(L["buyer"] + "（签章）：", b=True)], sz, x0=mid + 5)
    sig_y = doc.y
    for i, _ in enumerate(buyers):
        doc.add(Signature(mid + 10 + 30 * i, sig_y, 25, 8, seed_of(spec.doc_id, "sig", i)))
    if new_house:
        doc.add(
            Seal(
                doc.left + 30,
                y0 + (14 if over_date else 9),
                40,
                r["seller"],
                "合同专用章",
                angle=rng.uniform(-20, 20),
                seed=seed_of(spec.doc_id, "seal"),
            )
        )
        doc.add(Signature(doc.left + 50, y0 + 12, 22, 6, seed_of(spec.doc_id, "rep")))
    else:
        doc.add(Signature(doc.left + 8, sig_y, 25, 8, seed_of(spec.doc_id, "sel")))
        doc.add(
            Seal(
                doc.left + 36,
                sig_y + 4,
                11,
                "",
                shape="finger",
                angle=rng.uniform(-30, 30),
                seed=seed_of(spec.doc_id, "fp"),
            )
        )
        doc.add(
            Seal(
                mid + 42,
                sig_y + 5,
                11,
                "",
                shape="finger",
                angle=rng.uniform(-30, 30),
                seed=seed_of(spec.doc_id, "fp2"),
            )
        )
    doc.y = sig_y + (24 if new_house and not over_date and layout != "table" else 14)
    if layout != "table":
        c = colon(rng)
        doc.flow(
            [Run(doc.label("signed_on", L["signed"] + c)), Run(signed_txt, "signed_on")], sz, x1=mid, before=2
        )
    doc.flow("签订地点：" + r["sign_place"], sz, x1=mid)
    if not new_house:
        doc.add(
            Seal(
                doc.right - 32,
                doc.y - 6,
                38,
                r["agency"],
                "合同专用章",
                angle=rng.uniform(-20, 20),
                seed=seed_of(spec.doc_id, "agency"),
            )
        )
    return doc


APPROVAL = "（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
LICENCE_SCOPE = {
    "建设": "房屋建筑工程施工；市政公用工程施工；建筑装修装饰工程；机电工程施工；建筑材料销售。" + APPROVAL,
    "建筑": "建设工程施工；建筑劳务分包；施工专业作业；住宅室内装饰装修。"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动，具体经营项目以相关部门批准文件或许可证件为准）",
    "市政": "市政设施管理；城市道路、桥梁、给排水工程施工；园林绿化工程施工；土石方工程施工。" + APPROVAL,
    "劳务": "建筑劳务分包；施工专业作业；劳务服务（不含劳务派遣）；建筑材料销售。" + APPROVAL,
    "钢结构": "钢结构工程施工；金属结构制造；金属结构销售；建筑用钢筋产品销售。" + APPROVAL,
    "装饰": "住宅室内装饰装修；建筑装饰工程施工；门窗制造加工；家具安装和维修服务。" + APPROVAL,
    "机电": "机电设备安装工程施工；电气安装服务；消防设施工程施工；通用设备修理。" + APPROVAL,
    "人力": "人力资源服务（不含职业中介活动、劳务派遣服务）；劳务派遣服务；职业中介活动；企业管理咨询。"
    + APPROVAL,
}


def scope_for(name: str) -> str:
    for k in ("人力", "劳务", "钢结构", "装饰", "机电", "市政", "建筑", "建设"):
        if k in name:
            return LICENCE_SCOPE[k]
    return LICENCE_SCOPE["建设"]


def build_licence(spec: Spec, split: bool = False) -> Doc:
    r = spec.record
    rng = random.Random(spec.doc_id)
    L = {
        "credit_code": rng.choice(["统一社会信用代码", "统一社会信用代码", "信用代码"]),
        "legal_representative": rng.choice(["法定代表人", "法定代表人", "负责人"]),
        "address": rng.choice(["住所", "住所", "地址"]),
        "established_on": rng.choice(["成立日期", "成立日期", "注册日期"]),
    }
    ds = rng.choice(["cn", "cn0", "cn0", "iso"])
    est = fmt_date(r["established_on"], ds)
    cap = (
        cn_capital(r["capital"]) if rng.random() < 0.5 else f"{int(Decimal(r['capital']) / 10000)}万元人民币"
    )
    etype = "其他有限责任公司" if "集团" in r["name"] else "有限责任公司（自然人投资或控股）"
    issued = fmt_date(r["issued_on"], "cn")
    if spec.layout == "original":
        doc = Doc(landscape=True, margins=(22, 22, 16, 14))
        doc.add(Box(8, 8, doc.w - 8, doc.h - 8, 1.6, (150, 110, 50)))
        doc.add(Box(11, 11, doc.w - 11, doc.h - 11, 0.4, (150, 110, 50)))
        doc.add(Seal(doc.w / 2, 26, 18, "", shape="round", seed=seed_of(spec.doc_id, "emblem")))
        doc.y = 38
        doc.flow([Run("营　业　执　照", b=True)], 30, align="center")
        doc.flow("（副　　本）", 13, align="center", after=1)
        # top left: credit code, number
        lab = doc.label("credit_code", L["credit_code"])
        y = doc.y
        doc.y = 40
        doc.flow([Run(lab)], 11, x0=22, x1=110)
        doc.flow([Run(r["credit_code"], "credit_code")], 12, x0=22, x1=110)
        doc.flow("证照编号：" + r["licence_no"], 9, x0=22, x1=110, color=GREY)
        doc.add(QR(doc.w - 52, 30, 24, seed_of(spec.doc_id, "qr")))
        doc.y = 55
        doc.flow(
            "扫描二维码登录“国家企业信用信息公示系统”了解更多登记、备案、许可、监管信息。",
            6.5,
            x0=doc.w - 60,
            x1=doc.w - 22,
            color=GREY,
        )
        doc.y = max(y, 76)
        ystart = doc.y
        c = rng.choice(["", "", "\u3000"])
        labw = 30
        lx, lx1, rx, rx1 = 24, 150, 160, doc.w - 22

        def fieldrow(x0, x1, label, runs, size=11.5, fld=None):
            if fld:
                doc.label(fld, label)
            yy = doc.y
            doc.flow([Run(label + c)], size, x0=x0, x1=x0 + labw)
            doc.y = yy
            doc.flow(runs, size, x0=x0 + labw + 2, x1=x1, leading=1.55, after=2.5)

        fieldrow(lx, lx1, "名\u3000\u3000称", [Run(r["name"], "name")])
        fieldrow(lx, lx1, "类\u3000\u3000型", [Run(etype)])
        fieldrow(
            lx,
            lx1,
            "法定代表人" if L["legal_representative"] == "法定代表人" else "负\u3000责\u3000人",
            [Run(r["legal_representative"], "legal_representative")],
            fld="legal_representative",
        )
        fieldrow(lx, lx1, "经营范围", [Run(scope_for(r["name"]))], size=10)
        doc.y = ystart
        fieldrow(rx, rx1, "注册资本", [Run(cap)])
        fieldrow(rx, rx1, L["established_on"], [Run(est, "established_on")], fld="established_on")
        fieldrow(
            rx, rx1, "营业期限", [Run(f"{est}至" + rng.choice(["长期", "长期", fmt_date(r["term_to"], ds)]))]
        )
        lab_addr = "住\u3000\u3000所" if L["address"] == "住所" else "地\u3000\u3000址"
        fieldrow(rx, rx1, lab_addr, [Run(r["address"], "address")], fld="address")
        # registration authority, date and seal
        doc.y = doc.h - 52
        doc.flow("登记机关", 12, x0=doc.w - 100, x1=doc.w - 40, align="right")
        doc.flow(issued, 12, x0=doc.w - 100, x1=doc.w - 30, align="right", before=6)
        doc.add(
            Seal(
                doc.w - 62,
                doc.h - 38,
                40,
                r["authority"],
                "",
                angle=rng.uniform(-10, 10),
                seed=seed_of(spec.doc_id, "auth"),
            )
        )
        doc.y = doc.h - 28
        doc.flow("国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", 8, x0=22, x1=150, color=GREY)
        doc.flow(
            "市场主体应当于每年1月1日至6月30日通过国家企业信用信息公示系统报送公示年度报告。",
            8,
            x0=22,
            x1=170,
            color=GREY,
        )
        doc.labels.setdefault("name", "名称")
        return doc

    # copy layout: portrait, label:value lines, photocopy stamp
    doc = Doc(margins=(24, 22, 18, 18))
    doc.add(QR(doc.right - 22, doc.top, 22, seed_of(spec.doc_id, "qr")))
    doc.y = 30
    doc.flow([Run("营业执照", b=True)], 24, align="center")
    doc.flow("（副本）" + rng.choice(["", "（1-1）"]), 11, align="center", after=6)
    c = colon(rng)
    lab = 40

    def kv(label, runs, fld=None, size=11.5):
        if fld:
            doc.label(fld, label)
        yy = doc.y
        doc.flow([Run(label + c)], size, x1=doc.left + lab)
        doc.y = yy
        doc.flow(runs, size, x0=doc.left + lab, leading=1.6, after=2.2)

    kv(L["credit_code"], [Run(r["credit_code"], "credit_code")], "credit_code")
    kv(rng.choice(["名称", "企业名称", "名\u3000\u3000称"]), [Run(r["name"], "name")], "name")
    kv("类型", [Run(etype)])
    kv(
        L["legal_representative"],
        [Run(r["legal_representative"], "legal_representative")],
        "legal_representative",
    )
    kv("注册资本", [Run(cap)])
    kv(L["established_on"], [Run(est, "established_on")], "established_on")
    kv("营业期限", [Run(f"{est}至" + rng.choice(["长期", fmt_date(r["term_to"], ds)]))])
    if split:
        doc.gap(6)
        doc.flow("（续见下页）", 9, align="right", color=GREY)
        doc.new_page()
        doc.y = 30
        doc.flow([Run("营业执照（副本）续页", b=True)], 14, align="center", after=6)
        kv("名称", [Run(r["name"])])
    kv(L["address"], [Run(r["address"], "address")], "address")
    kv("经营范围", [Run(scope_for(r["name"]))], size=10.5)
    doc.gap(10)
    doc.flow("登记机关：" + r["authority"], 11, x0=doc.right - 90)
    doc.flow(issued, 11, x0=doc.right - 90, before=3)
    doc.add(
        Seal(
            doc.right - 50,
            doc.y - 8,
            40,
            r["authority"],
            "",
            angle=rng.uniform(-12, 12),
            seed=seed_of(spec.doc_id, "auth"),
        )
    )
    doc.gap(10)
    doc.flow("国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", 8.5, color=GREY)
    doc.flow("提示：每年1月1日至6月30日通过国家企业信用信息公示系统报送上一年度年度报告。", 8.5, color=GREY)
    if r.get("copy_stamp"):
        # 复印件核对章, partly over the address value
        ys = [b for b in doc.boxes["address"] if b[0] == len(doc.pages)]
        yb = ys[0][2] if ys else doc.h / 2
        doc.add(
            Seal(
                doc.left + 95,
                yb + 2,
                46,
                "与原件核对一致\n经办人：",
                shape="rect",
                angle=rng.uniform(-6, 6),
                seed=seed_of(spec.doc_id, "copy"),
            )
        )
    return doc


def permit_notes(doc: Doc) -> None:
    doc.y = max(doc.y, doc.bottom - 34)
    doc.flow([Run("注意事项", b=True)], 9, after=0.5)
    for t in (
        "一、本证副本与正本具有同等法律效力。",
        "二、本证有效期为3年。有效期满需要延期的，企业应当于期满前3个月向原安全生产许可证颁发管理机关办理延期手续。",
        "三、企业名称、地址、法定代表人等发生变更的，应当在变更后10日内办理许可证变更手续。",
    ):
        doc.flow(t, 8.5, leading=1.5, color=GREY)
    doc.flow("中华人民共和国住房和城乡建设部监制", 8.5, align="center", before=1.5, color=GREY)


def build_permit(spec: Spec, split: bool = False) -> Doc:
    r = spec.record
    rng = random.Random(spec.doc_id)
    ds = rng.choice(["cn", "cn", "cn0", "han", "iso"])
    L = {
        "permit_no": rng.choice(["编号", "证书编号", "许可证编号"]),
        "enterprise_name": rng.choice(["企业名称", "单位名称"]),
        "valid": rng.choice(["有效期", "有效期限"]),
    }
    vf, vt = fmt_date(r["valid_from"], ds), fmt_date(r["valid_to"], ds)
    doc = Doc(margins=(26, 24, 18, 18))
    doc.add(Box(10, 10, doc.w - 10, doc.h - 10, 1.4, (40, 90, 60)))
    doc.add(Box(13, 13, doc.w - 13, doc.h - 13, 0.35, (40, 90, 60)))
    doc.add(Seal(doc.w / 2, 32, 18, "", seed=seed_of(spec.doc_id, "emblem")))
    doc.y = 46
    doc.flow([Run("安全生产许可证", b=True)], 28, align="center")
    doc.flow("（副　本）", 13, align="center", after=6)
    c = colon(rng)
    if spec.layout == "certificate":
        doc.flow(
            [Run(doc.label("permit_no", L["permit_no"] + c)), Run(r["permit_no"], "permit_no", nobreak=True)],
            12,
            align="center",
            after=8,
        )
        lab = 34

        def kv(label, runs, fld=None):
            if fld:
                doc.label(fld, label)
            yy = doc.y
            doc.flow([Run(label + c)], 12, x0=doc.left + 4, x1=doc.left + 4 + lab)
            doc.y = yy
            doc.flow(runs, 12, x0=doc.left + 4 + lab, leading=1.6, after=4)

        kv(L["enterprise_name"], [Run(r["enterprise_name"], "enterprise_name")], "enterprise_name")
        kv("主要负责人", [Run(r["principal"])])
        kv("单位地址", [Run(r["address"])])
        kv("经济类型", [Run(r["etype"])])
        kv("许可范围", [Run("建筑施工")])
        if split:
            doc.gap(4)
            doc.flow("（第1页　共2页）", 9, align="center", color=GREY)
            doc.new_page()
            doc.y = 40
            doc.flow([Run("安全生产许可证（副本）", b=True)], 16, align="center", after=8)
        doc.label("valid_from", L["valid"])
        doc.label("valid_to", L["valid"])
        kv(L["valid"], [Run(vf, "valid_from"), Run(rng.choice(["至", "至", " 至 "])), Run(vt, "valid_to")])
        doc.gap(18)
        doc.flow("发证机关：" + r["authority"], 12, x0=doc.right - 95)
        doc.flow("发证日期：" + fmt_date(r["valid_from"], "cn"), 12, x0=doc.right - 95, before=4)
        doc.add(
            Seal(
                doc.right - 45,
                doc.y - 10,
                42,
                r["authority"],
                "",
                angle=rng.uniform(-12, 12),
                seed=seed_of(spec.doc_id, "auth"),
            )
        )
        doc.gap(12)
        permit_notes(doc)
        return doc

    # table layout with separate 起/止 rows and a renewal record
    X0, X1, lab = doc.left, doc.right, 36
    tc = colon(rng, table=True)

    def lr(label, runs, fld=None):
        if fld:
            doc.label(fld, label)
        doc.row([(X0, X0 + lab, [Run(label + tc)], "center"), (X0 + lab, X1, runs, "left")], 11, min_h=11)

    lr(L["permit_no"], [Run(r["permit_no"], "permit_no", nobreak=True)], "permit_no")
    lr(L["enterprise_name"], [Run(r["enterprise_name"], "enterprise_name")], "enterprise_name")
    lr("统一社会信用代码", [Run(r["credit_code"])])
    lr("主要负责人", [Run(r["principal"])])
    lr("单位地址", [Run(r["address"])])
    lr("经济类型", [Run(r["etype"])])
    lr("许可范围", [Run("建筑施工")])
    if split:
        doc.new_page()
        doc.y = 40
        doc.flow([Run("安全生产许可证（副本）续页", b=True)], 16, align="center", after=8)
        lr(L["permit_no"], [Run(r["permit_no"])])
    style = rng.choice(["qz", "zizhi"])
    if style == "qz":
        lr(doc.label("valid_from", L["valid"] + "起"), [Run(vf, "valid_from")])
        lr(doc.label("valid_to", L["valid"] + "止"), [Run(vt, "valid_to")])
    else:
        doc.label("valid_from", L["valid"])
        doc.label("valid_to", L["valid"])
        doc.row(
            [
                (X0, X0 + lab, [Run(L["valid"] + tc)], "center"),
                (X0 + lab, X1, [Run("自\u3000"), Run(vf, "valid_from"), Run("\u3000起")], "left"),
            ],
            11,
            min_h=11,
        )
        doc.row(
            [
                (X0, X0 + lab, [Run("")], "center"),
                (X0 + lab, X1, [Run("至\u3000"), Run(vt, "valid_to"), Run("\u3000止")], "left"),
            ],
            11,
            min_h=11,
        )
    doc.gap(6)
    if r.get("previous"):
        doc.flow([Run("延续记录", b=True)], 11, after=1)
        doc.row(
            [(X0, X0 + 50, [Run("原有效期")], "center"), (X0 + 50, X1, [Run(r["previous"])], "left")],
            10,
            min_h=9,
        )
        doc.row(
            [(X0, X0 + 50, [Run("延续批准日期")], "center"), (X0 + 50, X1, [Run(r["renewed_on"])], "left")],
            10,
            min_h=9,
        )
    doc.gap(14)
    doc.flow("发证机关：" + r["authority"], 12, x0=doc.right - 95)
    doc.flow("发证日期：" + fmt_date(r["valid_from"], "cn0"), 12, x0=doc.right - 95, before=4)
    doc.add(
        Seal(
            doc.right - 45,
            doc.y - 10,
            42,
            r["authority"],
            "",
            angle=rng.uniform(-12, 12),
            seed=seed_of(spec.doc_id, "auth"),
        )
    )
    if not split:
        permit_notes(doc)
    return doc


def build(spec: Spec, split: bool = False, max_pages: int | None = 1) -> Doc:
    if spec.kind == "purchase_contract":
        filler = 9 if max_pages is None else 6
        while True:
            doc = build_contract(spec, filler, split)
            want = (2 if split else 1) if max_pages is not None else 99
            if len(doc.pages) <= want or filler == 0:
                break
            filler -= 1
        return doc
    if spec.kind == "business_licence":
        return build_licence(spec, split)
    return build_permit(spec, split)


# ============================================================================================
# Records (the values printed) and the document plan
# ============================================================================================


def contract_from_case(
    data: Data,
    case_prefix: str,
    *,
    seller_kind: str | None = None,
    second_buyer: bool = False,
    **override: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    c = data.case(case_prefix)
    f = c["form"]
    filing = data.filings.get(f.get("contract_filing_no") or "")
    rng = random.Random("contract/" + c["case_id"])
    buyers = [(c["applicant"]["name"], c["applicant"]["id_number"])]
    if second_buyer and f.get("spouse_id_number") in data.population:
        buyers.append((data.name(f["spouse_id_number"]), f["spouse_id_number"]))
    seller = filing["seller_name"] if filing else None
    kind = seller_kind or ("developer" if seller or rng.random() < 0.5 else "person")
    rec: dict[str, Any] = {
        "buyers": buyers,
        "house_address": f["house_address"],
        "area_m2": q2(f["area_m2"]),
        "price_yuan": q2(f["price_yuan"]),
        "signed_on": f["contract_signed_on"],
        "usage": f.get("usage", "residential"),
        "filing_no": filing["filing_no"] if filing else None,
    }
    if filing:  # the contract is the deal registered online: print the filing's values
        rec.update(
            house_address=filing["address"],
            area_m2=q2(filing["area_m2"]),
            price_yuan=q2(filing["price_yuan"]),
            signed_on=filing["signed_on"],
            usage=filing["usage"],
        )
        if (
            filing["buyer_id_number"] != c["applicant"]["id_number"]
            and filing["buyer_id_number"] in data.population
        ):
            buyers[0] = (data.name(filing["buyer_id_number"]), filing["buyer_id_number"])
    if kind == "developer":
        seller = seller or rng.choice(DEVELOPERS)
        rec.update(
            seller_kind="developer",
            seller=seller,
            seller_code=make_uscc(seller),
            seller_rep=rng.choice(["李建国", "陈志强", "王德明", "张晓东", "刘永红"]),
            seller_addr=rng.choice(STREET_CONTACT) + f"{rng.randrange(1, 400)}号",
        )
    else:
        sid = data.bystanders(1, "seller/" + c["case_id"])[0]
        rec.update(
            seller_kind="person",
            seller=data.name(sid),
            seller_id=sid,
            agency=rng.choice(AGENCIES),
            seller_phone=f"1{rng.choice('3589')}{rng.randrange(10**8, 10**9)}",
        )
    rec.update(override)
    if "buyer" in override:
        rec["buyers"] = [override.pop("buyer")]
        rec.pop("buyer", None)
    area = Decimal(rec["area_m2"])
    rec.update(
        contract_no=f"HT{rec['signed_on'][:4]}{rng.randrange(10**7, 10**8)}",
        inner_area=q2(area * Decimal("0.80")),
        shared_area=q2(area - Decimal(q2(area * Decimal("0.80")))),
        unit_price=q2(Decimal(rec["price_yuan"]) / area),
        floor=rng.randrange(2, 33),
        buyer_phone=f"1{rng.choice('3589')}{rng.randrange(10**8, 10**9)}",
        buyer_contact=rng.choice(STREET_CONTACT) + f"{rng.randrange(1, 900)}号",
        sign_place="成都市" + rng.choice(["锦江区", "武侯区", "成华区", "高新区", "青羊区"]),
    )
    links = {"case": c["case_id"], "filing_no": rec["filing_no"]}
    return rec, links


def licence_record(data: Data, code: str, *, case_prefix: str | None = None, **override: Any):
    ent = data.enterprises.get(code)
    rng = random.Random(
        "licence/" + code
    )  # one enterprise, one licence: same invented details in every rendering
    if ent:
        rec = {
            "name": ent["name"],
            "credit_code": code,
            "legal_representative": data.name(ent["legal_rep_id_number"]),
            "address": ent["address"],
            "established_on": ent["established_on"],
            "capital": ent["registered_capital_yuan"],
        }
    else:  # not in the market-entity register: values from the case (and the permit register)
        c = data.case(case_prefix or "")
        principal = next(s for s in c["form"]["staff"] if s["role"] == "principal")
        rec = {
            "name": c["form"]["enterprise_name"],
            "credit_code": code,
            "legal_representative": principal["name"],
            "address": "成都市双流区"
            + rng.choice(["藏卫路南二段", "白河路", "西航港大道"])
            + f"{rng.randrange(10, 999)}号",
            "established_on": date(
                2000 + rng.randrange(5, 16), rng.randrange(1, 13), rng.randrange(1, 29)
            ).isoformat(),
            "capital": "50000000.00",
        }
    est = date.fromisoformat(rec["established_on"])
    district = {
        "510104": "锦江区",
        "510105": "青羊区",
        "510106": "金牛区",
        "510107": "武侯区",
        "510108": "成华区",
        "510116": "双流区",
    }.get(code[2:8], "")
    rec.update(
        licence_no=f"{code[2:8]}{rng.randrange(10**11, 10**12)}",
        authority=f"成都市{district}市场监督管理局" if district else "成都市市场监督管理局",
        issued_on=f"20{rng.randrange(22, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        term_to=date(est.year + 30, est.month, min(est.day, 28)).isoformat(),
    )
    rec.update(override)
    return rec


def permit_record(data: Data, registered_no: str, **override: Any):
    permit_no = registered_no
    cert = data.permits[permit_no]
    rng = random.Random("permit/" + permit_no)
    ent = data.enterprises.get(cert["holder_id"])
    if ent:
        principal, address = data.name(ent["legal_rep_id_number"]), ent["address"]
    else:
        c = next(
            (c for c in data.cases.values() if c["applicant"].get("credit_code") == cert["holder_id"]), None
        )
        principal = next(s["name"] for s in c["form"]["staff"] if s["role"] == "principal") if c else "王强"
        address = "成都市双流区藏卫路南二段" + f"{rng.randrange(10, 999)}号"
    rec = {
        "permit_no": permit_no,
        "enterprise_name": cert["holder_name"],
        "valid_from": cert["issued_on"],
        "valid_to": cert["expires_on"],
        "credit_code": cert["holder_id"],
        "principal": principal,
        "address": address,
        "etype": "有限责任公司" if rng.random() < 0.8 else "股份有限公司",
        "authority": "四川省住房和城乡建设厅",
    }
    if rng.random() < 0.5:
        vf = date.fromisoformat(cert["issued_on"])
        pf = date(vf.year - 3, vf.month, vf.day)
        pt = date.fromordinal(vf.toordinal() - 1)
        rec["previous"] = f"{fmt_date(pf.isoformat(), 'cn')}至{fmt_date(pt.isoformat(), 'cn')}"
        rec["renewed_on"] = fmt_date(
            date.fromordinal(vf.toordinal() - rng.randrange(10, 40)).isoformat(), "cn"
        )
    rec.update(override)
    return rec


def plan(data: Data) -> list[Spec]:
    specs: list[Spec] = []

    # -- purchase contracts --------------------------------------------------------------------
    def pc(
        n,
        fmt,
        layout,
        case,
        dpi=150,
        profile="mild",
        note="",
        gray=False,
        edge=False,
        seal_on_date=False,
        **kw,
    ):
        rec, links = contract_from_case(data, case, **kw)
        specs.append(
            Spec(
                f"pc-{n:02d}-{case}",
                "purchase_contract",
                fmt,
                layout,
                rec,
                dpi,
                profile,
                gray,
                edge,
                note,
                links,
                seal_on_date,
            )
        )

    other = data.bystanders(2, "other-buyers")
    pc(1, "jpeg", "form", "dt-34", 200, "mild", "与 dt-34 表单一致（无网签备案）", seller_kind="developer")
    pc(2, "png", "table", "dt-34", 150, "clean", "与 dt-34 表单一致", seller_kind="developer")
    pc(
        3,
        "jpeg",
        "table",
        "dt-36",
        150,
        "medium",
        "与 dt-36 表单一致（备案号查无此号），存量房",
        seller_kind="person",
    )
    pc(4, "jpeg", "form", "dt-36", 200, "rough", "与 dt-36 表单一致，存量房", seller_kind="person", edge=True)
    pc(
        5,
        "jpeg",
        "clause",
        "dt-40",
        150,
        "mild",
        "与 dt-40 表单及网签备案一致；印章压住签订日期",
        seal_on_date=True,
    )
    pc(6, "jpeg", "form", "dt-01", 150, "medium", "与 dt-01 备案一致")
    pc(7, "jpeg", "table", "dt-02", 200, "mild", "夫妻共同买受，与 dt-02 备案一致", second_buyer=True)
    pc(
        8,
        "jpeg",
        "clause",
        "dt-03",
        150,
        "rough",
        "夫妻共同买受，与 dt-03 备案一致",
        second_buyer=True,
        gray=True,
    )
    pc(9, "tiff-jpeg", "form", "dt-05", 200, "mild", "夫妻共同买受，与 dt-05 备案一致", second_buyer=True)
    pc(10, "jpeg", "table", "dt-11", 300, "medium", "夫妻共同买受，与 dt-11 备案一致", second_buyer=True)
    pc(11, "jpeg", "form", "dt-14", 150, "mild", "价款含角（1350000.50），商业用途")
    pc(12, "png", "clause", "dt-17", 200, "clean", "与 dt-17 备案一致；印章压住签订日期", seal_on_date=True)
    pc(13, "jpeg", "table", "dt-18", 200, "medium", "面积 120.50（备案库写作 120.5）")
    pc(
        14,
        "jpeg",
        "form",
        "dt-30",
        150,
        "medium",
        "合同按备案价 2400000.00 打印：与 dt-30 表单价格不一致，与备案一致",
        gray=True,
    )
    pc(
        15,
        "jpeg",
        "table",
        "dt-35",
        150,
        "mild",
        "dt-35 未提交合同：可用于补正后的变体",
        seller_kind="person",
    )
    pc(
        16,
        "tiff-g4",
        "form",
        "dt-37",
        300,
        "clean",
        "dt-37 未提交合同：可用于补正后的变体；黑白传真式扫描",
        seller_kind="developer",
    )
    pc(
        17,
        "jpeg",
        "form",
        "dt-34",
        200,
        "mild",
        "不一致：价款 1980000.00 ≠ dt-34 表单 1950000.00",
        seller_kind="developer",
        price_yuan="1980000.00",
    )
    pc(
        18,
        "jpeg",
        "table",
        "dt-36",
        150,
        "mild",
        "不一致：面积 126.00 ≠ dt-36 表单 116.00",
        seller_kind="person",
        area_m2="126.00",
    )
    pc(
        19,
        "jpeg",
        "clause",
        "dt-34",
        150,
        "medium",
        "不一致：买受人为他人（非 dt-34 申请人）；印章压住签订日期",
        seller_kind="developer",
        seal_on_date=True,
        buyer=(data.name(other[0]), other[0]),
    )
    pc(20, "jpeg", "form", "dt-34", 150, "unreadable-blur", "不可读：严重模糊", seller_kind="developer")
    pc(21, "jpeg", "table", "dt-36", 150, "unreadable-lowres", "不可读：分辨率过低", seller_kind="person")
    pc(22, "jpeg", "clause", "dt-40", 150, "unreadable-dark", "不可读：过暗", seal_on_date=True)
    pc(23, "pdf-text", "clause", "dt-34", note="与 dt-34 表单一致（文字层 PDF）", seller_kind="developer")
    pc(24, "pdf-text", "table", "dt-36", note="与 dt-36 表单一致（文字层 PDF），存量房", seller_kind="person")
    pc(25, "pdf-text", "form", "dt-40", note="与 dt-40 备案一致；电子印章压住签订日期", seal_on_date=True)
    pc(26, "pdf-text", "form", "dt-21", note="夫妻共同买受，与 dt-21 备案一致", second_buyer=True)
    pc(27, "pdf-text", "table", "dt-16", note="面积 140.01，与 dt-16 备案一致")
    pc(
        28,
        "pdf-text",
        "form",
        "dt-36",
        note="不一致：价款 2100000.00 ≠ dt-36 表单 2040000.00",
        seller_kind="person",
        price_yuan="2100000.00",
    )
    pc(
        29,
        "pdf-scan",
        "form",
        "dt-34",
        200,
        "mild",
        "与 dt-34 表单一致（扫描件 PDF）",
        seller_kind="developer",
    )
    pc(
        30,
        "pdf-scan-2p",
        "table",
        "dt-36",
        150,
        "medium",
        "与 dt-36 表单一致；两页扫描件，字段分布在第1、2页",
        seller_kind="person",
    )
    pc(31, "pdf-scan", "clause", "dt-15", 150, "medium", "面积恰为 140.00，与 dt-15 备案一致")

    # -- business licences ----------------------------------------------------------------------
    def bl(n, fmt, layout, code, dpi=150, profile="mild", note="", case=None, gray=False, edge=False, **kw):
        rec = licence_record(data, code, case_prefix=case, **kw)
        cid = case and data.case(case)["case_id"]
        tag = case or code[-6:]
        specs.append(
            Spec(
                f"bl-{n:02d}-{tag}",
                "business_licence",
                fmt,
                layout,
                rec,
                dpi,
                profile,
                gray,
                edge,
                note,
                {"case": cid, "credit_code": code},
            )
        )

    def sp_code(prefix: str) -> str:
        return data.case(prefix)["applicant"]["credit_code"]

    owner = (
        data.permits["(川)JZ安许证字[2024]010231"]["holder_id"]
        if "(川)JZ安许证字[2024]010231" in data.permits
        else None
    )
    dispatch = next((k for k, e in data.enterprises.items() if "人力资源" in e["name"]), None)
    bl(
        1,
        "jpeg",
        "original",
        sp_code("sp-10"),
        200,
        "mild",
        "sp-10：市场主体库查无此企业，执照与表单一致",
        case="sp-10",
    )
    bl(
        2,
        "png",
        "copy",
        sp_code("sp-10"),
        150,
        "clean",
        "sp-10：复印件，与表单一致",
        case="sp-10",
        copy_stamp=True,
    )
    bl(3, "jpeg", "original", sp_code("sp-01"), 150, "mild", "与登记一致", case="sp-01")
    bl(4, "jpeg", "copy", sp_code("sp-02"), 200, "medium", "与登记一致", case="sp-02", copy_stamp=True)
    bl(5, "jpeg", "original", sp_code("sp-03"), 150, "rough", "与登记一致", case="sp-03", edge=True)
    bl(6, "jpeg", "copy", sp_code("sp-04"), 150, "mild", "与登记一致", case="sp-04", gray=True)
    bl(7, "tiff-g4", "copy", sp_code("sp-05"), 300, "clean", "与登记一致；黑白扫描", case="sp-05")
    bl(8, "jpeg", "original", sp_code("sp-06"), 200, "medium", "与登记一致", case="sp-06")
    bl(
        9,
        "jpeg",
        "original",
        sp_code("sp-08"),
        150,
        "mild",
        "企业已吊销（登记状态 revoked），执照内容与登记一致",
        case="sp-08",
    )
    bl(
        10,
        "jpeg",
        "copy",
        sp_code("sp-09"),
        150,
        "mild",
        "sp-09：执照为现名称（与登记一致），表单填旧名称",
        case="sp-09",
        copy_stamp=True,
    )
    bl(
        11,
        "jpeg",
        "original",
        sp_code("sp-09"),
        200,
        "mild",
        "sp-09：旧版执照印旧名称（与表单一致，与登记不一致）",
        case="sp-09",
        name=data.case("sp-09")["form"]["enterprise_name"],
    )
    bl(12, "jpeg", "copy", sp_code("sp-12"), 150, "medium", "与登记一致", case="sp-12")
    bl(13, "tiff-lzw", "original", sp_code("sp-15"), 150, "clean", "与登记一致", case="sp-15", gray=True)
    bl(14, "jpeg", "copy", sp_code("sp-22"), 200, "rough", "与登记一致", case="sp-22", copy_stamp=True)
    bl(
        15,
        "jpeg",
        "original",
        sp_code("sp-26"),
        150,
        "mild",
        "不一致：法定代表人与登记不同",
        case="sp-26",
        legal_representative="赵建华",
    )
    bl(
        16,
        "jpeg",
        "copy",
        sp_code("sp-27"),
        150,
        "medium",
        "不一致：住所与登记不同（迁址前旧执照）",
        case="sp-27",
        address="成都市新都区新都大道8号",
    )
    bl(
        17,
        "jpeg",
        "original",
        sp_code("sp-29"),
        200,
        "mild",
        "不一致：成立日期与登记不同",
        case="sp-29",
        established_on="2016-05-18",
    )
    if owner:
        bl(
            18,
            "jpeg",
            "copy",
            owner,
            150,
            "mild",
            "许可证 010231 的持有企业（sp-13 引用其许可证号），与登记一致",
        )
    if dispatch:
        bl(19, "png", "original", dispatch, 150, "clean", "劳务派遣公司（sp-36 挂证），与登记一致")
    bl(20, "jpeg", "copy", sp_code("sp-01"), 150, "unreadable-noise", "不可读：强噪声", case="sp-01")
    bl(21, "jpeg", "original", sp_code("sp-02"), 150, "unreadable-blur", "不可读：严重模糊", case="sp-02")
    bl(22, "jpeg", "copy", sp_code("sp-10"), 150, "unreadable-dark", "不可读：过暗", case="sp-10")
    bl(
        23,
        "pdf-text",
        "copy",
        sp_code("sp-10"),
        note="sp-10：电子执照（文字层 PDF），与表单一致",
        case="sp-10",
    )
    bl(24, "pdf-text", "original", sp_code("sp-01"), note="与登记一致", case="sp-01")
    bl(
        25,
        "pdf-text",
        "copy",
        sp_code("sp-09"),
        note="sp-09：现名称（与登记一致，与表单不一致）",
        case="sp-09",
    )
    bl(26, "pdf-text", "original", sp_code("sp-45"), note="与登记一致", case="sp-45")
    bl(
        27,
        "pdf-text",
        "copy",
        sp_code("sp-26"),
        note="不一致：法定代表人与登记不同",
        case="sp-26",
        legal_representative="赵建华",
    )
    bl(
        28,
        "pdf-scan",
        "original",
        sp_code("sp-10"),
        200,
        "mild",
        "sp-10：扫描件 PDF，与表单一致",
        case="sp-10",
    )
    bl(
        29,
        "pdf-scan-2p",
        "copy",
        sp_code("sp-02"),
        150,
        "mild",
        "两页扫描件，字段分布在第1、2页，与登记一致",
        case="sp-02",
    )
    bl(30, "pdf-scan", "copy", sp_code("sp-46"), 150, "medium", "与登记一致", case="sp-46", copy_stamp=True)

    # -- safety permits -------------------------------------------------------------------------
    def sp(
        n,
        fmt,
        layout,
        case=None,
        permit_no=None,
        dpi=150,
        profile="mild",
        note="",
        gray=False,
        edge=False,
        **kw,
    ):
        c = data.case(case) if case else None
        pno = permit_no or c["form"]["permit_no"]
        if "printed_no" in kw:
            kw["permit_no"] = kw.pop("printed_no")
        rec = permit_record(data, pno, **kw)
        tag = case or pno[-6:]
        specs.append(
            Spec(
                f"sp-{n:02d}-{tag}",
                "safety_permit",
                fmt,
                layout,
                rec,
                dpi,
                profile,
                gray,
                edge,
                note,
                {"case": c and c["case_id"], "permit_no": pno},
            )
        )

    sp(
        1,
        "jpeg",
        "certificate",
        "sp-13",
        dpi=200,
        note="sp-13：许可证号 010231 的原件，持有人为另一企业（与登记一致，与申请人不一致）",
    )
    sp(
        2,
        "jpeg",
        "table",
        "sp-13",
        profile="medium",
        note="sp-13：印申请人名称但号码属他人（与登记不一致）",
        enterprise_name=data.case("sp-13")["form"]["enterprise_name"],
    )
    sp(3, "jpeg", "certificate", "sp-01", dpi=150, profile="mild", note="与登记一致")
    sp(4, "png", "table", "sp-02", dpi=150, profile="clean", note="与登记一致")
    sp(
        5,
        "jpeg",
        "certificate",
        "sp-12",
        dpi=200,
        profile="rough",
        note="许可证已暂扣（登记 suspended），证面与登记一致",
        edge=True,
    )
    sp(6, "jpeg", "table", "sp-15", dpi=150, profile="mild", note="已过有效期（2026-11-10），与登记一致")
    sp(
        7,
        "jpeg",
        "certificate",
        "sp-16",
        dpi=150,
        profile="medium",
        note="已过有效期（登记 expired），与登记一致",
        gray=True,
    )
    sp(8, "tiff-g4", "table", "sp-17", dpi=300, profile="clean", note="与登记一致；黑白扫描")
    sp(
        9,
        "jpeg",
        "certificate",
        "sp-18",
        dpi=200,
        profile="mild",
        note="有效期止于受理日 2026-11-20，与登记一致",
    )
    sp(10, "jpeg", "table", "sp-19", dpi=150, profile="medium", note="与登记一致")
    sp(11, "jpeg", "certificate", "sp-20", dpi=150, profile="mild", note="与登记一致（有效期止 5 月 31 日）")
    sp(12, "tiff-jpeg", "table", "sp-40", dpi=200, profile="mild", note="与登记一致（已过期）")
    sp(13, "jpeg", "certificate", "sp-03", dpi=300, profile="medium", note="与登记一致")
    sp(14, "jpeg", "table", "sp-04", dpi=150, profile="rough", note="与登记一致", edge=True)
    sp(
        15,
        "jpeg",
        "certificate",
        "sp-05",
        dpi=150,
        profile="mild",
        note="不一致：有效期止被改为 2028-06-14（登记 2027-06-14）",
        valid_to="2028-06-14",
    )
    sp(
        16,
        "jpeg",
        "table",
        "sp-06",
        dpi=200,
        profile="mild",
        note="不一致：许可证编号末位不同",
        printed_no=data.case("sp-06")["form"]["permit_no"][:-1] + "9",
    )
    sp(17, "png", "certificate", "sp-22", dpi=150, profile="clean", note="与登记一致")
    sp(
        18,
        "jpeg",
        "table",
        "sp-15",
        dpi=150,
        profile="mild",
        note="不一致：有效期起止与登记不同（旧证）",
        valid_from="2020-11-11",
        valid_to="2023-11-10",
    )
    sp(19, "jpeg", "certificate", "sp-01", dpi=150, profile="unreadable-lowres", note="不可读：分辨率过低")
    sp(20, "jpeg", "table", "sp-13", dpi=150, profile="unreadable-noise", note="不可读：强噪声")
    sp(21, "jpeg", "certificate", "sp-02", dpi=150, profile="unreadable-blur", note="不可读：严重模糊")
    sp(22, "pdf-text", "certificate", "sp-13", note="sp-13：电子证照，持有人为另一企业（与登记一致）")
    sp(23, "pdf-text", "table", "sp-01", note="与登记一致")
    sp(24, "pdf-text", "certificate", "sp-18", note="与登记一致")
    sp(25, "pdf-text", "table", "sp-12", note="与登记一致（暂扣）")
    sp(
        26,
        "pdf-text",
        "certificate",
        "sp-05",
        note="不一致：有效期止被改为 2028-06-14",
        valid_to="2028-06-14",
    )
    sp(
        27,
        "pdf-scan",
        "certificate",
        "sp-10",
        dpi=200,
        profile="mild",
        note="sp-10 企业的许可证（企业不在市场主体库），与证照库一致",
    )
    sp(
        28,
        "pdf-scan-2p",
        "certificate",
        "sp-19",
        dpi=150,
        profile="mild",
        note="两页扫描件：编号、名称在第1页，有效期在第2页",
    )
    sp(29, "pdf-scan", "table", "sp-45", dpi=150, profile="medium", note="与登记一致")
    return specs


# ============================================================================================
# Output
# ============================================================================================


def truth_fields(spec: Spec) -> dict[str, Any]:
    r = spec.record
    if spec.kind == "purchase_contract":
        return {
            "buyer_names": [b[0] for b in r["buyers"]],
            "buyer_id_numbers": [b[1] for b in r["buyers"]],
            "seller": r["seller"],
            "house_address": r["house_address"],
            "area_m2": q2(r["area_m2"]),
            "price_yuan": q2(r["price_yuan"]),
            "signed_on": r["signed_on"],
        }
    if spec.kind == "business_licence":
        return {k: r[k] for k in ("name", "credit_code", "legal_representative", "address", "established_on")}
    return {k: r[k] for k in ("permit_no", "enterprise_name", "valid_from", "valid_to")}


def compare(data: Data, spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    """Differences against the case form and against the registry record (computed, not claimed)."""
    out: dict[str, Any] = {}
    cid = spec.links.get("case")
    case = data.cases.get(cid) if cid else None
    if spec.kind == "purchase_contract":
        f = case["form"] if case else {}
        diffs = []
        if case:
            if case["applicant"]["id_number"] not in fields["buyer_id_numbers"]:
                diffs.append("buyer_id_numbers")
            if case["applicant"]["name"] not in fields["buyer_names"]:
                diffs.append("buyer_names")
            for k, fk in (
                ("house_address", "house_address"),
                ("area_m2", "area_m2"),
                ("price_yuan", "price_yuan"),
                ("signed_on", "contract_signed_on"),
            ):
                a, b = fields[k], f.get(fk)
                if k in ("area_m2", "price_yuan"):
                    a, b = Decimal(a), Decimal(b)
                if a != b:
                    diffs.append(k)
            out["consistent_with_case"] = not diffs
            out["differences_from_case"] = diffs
        filing = data.filings.get(spec.links.get("filing_no") or "")
        if filing:
            d2 = []
            if filing["buyer_id_number"] not in fields["buyer_id_numbers"]:
                d2.append("buyer_id_numbers")
            for k, fk in (
                ("seller", "seller_name"),
                ("house_address", "address"),
                ("area_m2", "area_m2"),
                ("price_yuan", "price_yuan"),
                ("signed_on", "signed_on"),
            ):
                a, b = fields[k], filing[fk]
                if k in ("area_m2", "price_yuan"):
                    a, b = Decimal(a), Decimal(b)
                if a != b:
                    d2.append(k)
            out["registry"] = {"contract_filings": filing["filing_no"]}
            out["consistent_with_registry"] = not d2
            out["differences_from_registry"] = d2
        else:
            out["registry"] = None
            out["consistent_with_registry"] = None
    elif spec.kind == "business_licence":
        if case:
            d = [
                k
                for k, v in (
                    ("credit_code", case["applicant"]["credit_code"]),
                    ("name", case["form"]["enterprise_name"]),
                )
                if fields[k] != v
            ]
            out["consistent_with_case"] = not d
            out["differences_from_case"] = d
        ent = data.enterprises.get(spec.links["credit_code"])
        if ent:
            exp = {
                "name": ent["name"],
                "credit_code": ent["credit_code"],
                "legal_representative": data.name(ent["legal_rep_id_number"]),
                "address": ent["address"],
                "established_on": ent["established_on"],
            }
            d = [k for k in exp if fields[k] != exp[k]]
            out["registry"] = {"enterprises": ent["credit_code"], "status": ent["status"]}
            out["consistent_with_registry"] = not d
            out["differences_from_registry"] = d
        else:
            out["registry"] = None
            out["consistent_with_registry"] = None
            out["registry_note"] = "credit code not in enterprises.csv"
    else:
        if case:
            d = [
                k
                for k, v in (
                    ("permit_no", case["form"]["permit_no"]),
                    ("enterprise_name", case["form"]["enterprise_name"]),
                )
                if fields[k] != v
            ]
            out["consistent_with_case"] = not d
            out["differences_from_case"] = d
        cert = data.permits.get(spec.links["permit_no"])
        if cert:
            exp = {
                "permit_no": cert["cert_no"],
                "enterprise_name": cert["holder_name"],
                "valid_from": cert["issued_on"],
                "valid_to": cert["expires_on"],
            }
            d = [k for k in exp if fields[k] != exp[k]]
            out["registry"] = {
                "certificates": cert["cert_no"],
                "holder_id": cert["holder_id"],
                "status": cert["status"],
            }
            out["consistent_with_registry"] = not d
            out["differences_from_registry"] = d
    return out


def field_pages(doc_boxes: dict[str, list[list[float]]]) -> dict[str, Any]:
    return {k: sorted({int(b[0]) for b in v}) for k, v in doc_boxes.items() if k != "price_yuan_capital"}


def boxes_px(doc: Doc, dpi: int, angle: float) -> dict[str, list[list[int]]]:
    s = dpi / 25.4
    W, H = round(doc.w * s), round(doc.h * s)
    cx, cy = W / 2, H / 2
    out: dict[str, list[list[int]]] = {}
    for k, bl in doc.boxes.items():
        lst = []
        for pg, x0, y0, x1, y1 in bl:
            pts = [
                rotate_point(x * s, y * s, cx, cy, angle) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))
            ]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            lst.append(
                [int(pg), math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))]
            )
        out[k] = lst
    return out


def boxes_pt(doc: Doc) -> dict[str, list[list[float]]]:
    return {
        k: [[int(b[0])] + [round(v * MM_PT, 1) for v in b[1:]] for b in bl] for k, bl in doc.boxes.items()
    }


def stamps_over_fields(doc: Doc) -> list[str]:
    """Fields whose printed value a red seal (or copy stamp) overlaps."""
    hits = set()
    for pno, page in enumerate(doc.pages, 1):
        for it in page:
            if not isinstance(it, Seal) or it.shape == "finger" or not it.text:
                continue
            hw, hh = it.d / 2, (it.d * 0.42 if it.shape == "rect" else it.d) / 2
            for k, bl in doc.boxes.items():
                for pg, x0, y0, x1, y1 in bl:
                    if (
                        pg == pno
                        and x0 < it.cx + hw
                        and x1 > it.cx - hw
                        and y0 < it.cy + hh
                        and y1 > it.cy - hh
                    ):
                        hits.add(k.replace("price_yuan_capital", "price_yuan"))
    return sorted(hits)


def write_spec(data: Data, spec: Spec) -> dict[str, Any]:
    folder = HERE / spec.kind
    rng = random.Random("scan/" + spec.doc_id)
    fields = truth_fields(spec)
    fmt = spec.fmt
    truth: dict[str, Any] = {
        "kind": spec.kind,
        "fields": fields,
        "readable": spec.readable,
        "layout": spec.layout,
    }
    if fmt == "pdf-text":
        doc = build(spec, max_pages=None)
        path = folder / f"{spec.doc_id}.pdf"
        write_text_pdf(doc, path, spec.kind)
        truth.update(
            format="pdf-text",
            dpi=None,
            pages=len(doc.pages),
            degradations=[],
            text_layer=True,
            field_pages=field_pages(doc.boxes),
            labels=doc.labels,
            boxes=boxes_pt(doc),
            box_units="pt, origin top left of the page",
        )
    else:
        two = fmt == "pdf-scan-2p"
        doc = build(spec, split=two, max_pages=2 if two else 1)
        if (two and len(doc.pages) != 2) or (not two and len(doc.pages) != 1):
            sys.exit(f"documents: {spec.doc_id} has {len(doc.pages)} pages")
        pages, degr, angles = [], [], []
        for i in range(len(doc.pages)):
            img = render(doc, i, spec.dpi)
            img, steps, angle = degrade(
                img, spec.profile, spec.dpi, rng, gray=spec.gray, scanner_edge=spec.edge
            )
            if spec.edge:
                steps.append("scanner_edge")
            pages.append(img)
            degr.append(steps)
            angles.append(angle)
        for i, page in enumerate(doc.pages):
            if any(isinstance(it, Seal) and it.shape in ("round", "rect") and it.text for it in page):
                degr[i].append("red_stamp")
        lo, hi = PROFILES[spec.profile]["quality"]
        quality = rng.randrange(lo, hi + 1)
        ext = {"jpeg": "jpg", "png": "png", "tiff-g4": "tif", "tiff-jpeg": "tif", "tiff-lzw": "tif"}.get(
            fmt, "pdf"
        )
        path = folder / f"{spec.doc_id}.{ext}"
        img = pages[0]
        if fmt == "jpeg":
            path.write_bytes(jpeg_bytes(img, quality, spec.dpi))
            degr[0].append(f"jpeg:q{quality}")
        elif fmt == "png":
            # scanned, then passed through a JPEG once (artefacts), saved as a 64-level grey/colour PNG
            img = Image.open(io.BytesIO(jpeg_bytes(img, quality, spec.dpi)))
            img.load()
            degr[0].append(f"jpeg_artefacts:q{quality}")
            img = auto_levels(img)
            img = img.quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            degr[0] += ["auto_levels", "quantized:16"]
            img.save(path, "PNG", optimize=True, dpi=(spec.dpi, spec.dpi))
        elif fmt == "tiff-g4":
            g = img.convert("L")
            bw = g.point(lambda v: 255 if v > 150 else 0, mode="1")
            bw.save(path, "TIFF", compression="group4", dpi=(spec.dpi, spec.dpi))
            degr[0].append("bilevel:threshold150")
        elif fmt == "tiff-jpeg":
            img.save(path, "TIFF", compression="jpeg", quality=quality, dpi=(spec.dpi, spec.dpi))
            degr[0].append(f"tiff_jpeg:q{quality}")
        elif fmt == "tiff-lzw":
            img = Image.open(io.BytesIO(jpeg_bytes(img, quality, spec.dpi)))
            img = auto_levels(img.convert("L")).quantize(colors=16, dither=Image.Dither.NONE).convert("L")
            img.save(path, "TIFF", compression="tiff_lzw", dpi=(spec.dpi, spec.dpi))
            degr[0] += [f"jpeg_artefacts:q{quality}", "auto_levels", "quantized:16"]
        else:  # scanned PDF: page images only, no text layer
            W, H = doc.w * MM_PT, doc.h * MM_PT
            c = canvas.Canvas(str(path), pagesize=(W, H), invariant=1, pageCompression=1)
            for i, im in enumerate(pages):
                c.drawImage(ImageReader(io.BytesIO(jpeg_bytes(im, quality, spec.dpi))), 0, 0, W, H)
                degr[i].append(f"jpeg:q{quality}")
                c.showPage()
            c.save()
        boxes = {}
        for i, a in enumerate(angles):
            sub = Doc(landscape=doc.w > doc.h)
            sub.boxes = {k: [b for b in v if b[0] == i + 1] for k, v in doc.boxes.items()}
            for k, v in boxes_px(sub, spec.dpi, a).items():
                boxes.setdefault(k, []).extend(v)
        truth.update(
            format=fmt,
            dpi=spec.dpi,
            pages=len(doc.pages),
            degradations=degr[0]
            if len(degr) == 1
            else [f"page{i + 1}:{s}" for i, st in enumerate(degr) for s in st],
            text_layer=False,
            field_pages=field_pages(doc.boxes),
            labels=doc.labels,
            boxes=boxes,
            box_units="px of the page image, origin top left (after rotation)",
        )
    printed: dict[str, Any] = {}
    for k, v in sorted(doc.printed.items()):
        name, _, idx = k.partition("#")
        if idx:
            printed.setdefault(name, []).append(v)
        else:
            printed[name] = v
    truth["printed"] = printed
    truth["stamp_over_fields"] = stamps_over_fields(doc)
    if truth["format"] != "pdf-text":
        truth["degradations"] += [f"red_stamp_over:{k}" for k in truth["stamp_over_fields"]]
    truth["description"] = spec.note
    missing = [k for k in fields if k not in doc.boxes]
    if missing:
        sys.exit(f"documents: {spec.doc_id}: fields not printed: {missing}")
    (folder / f"{spec.doc_id}.truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    entry = {
        "id": spec.doc_id,
        "kind": spec.kind,
        "path": f"{spec.kind}/{path.name}",
        "truth": f"{spec.kind}/{spec.doc_id}.truth.json",
        "format": truth["format"],
        "readable": spec.readable,
        "layout": spec.layout,
        "dpi": truth["dpi"],
        "pages": truth["pages"],
        "case": spec.links.get("case"),
        "description": spec.note,
    }
    entry.update(compare(data, spec, fields))
    return entry


def main() -> None:
    if not FONT_PATH.exists():
        sys.exit(f"documents: font {FONT_PATH} missing: apt-get install -y fonts-wqy-zenhei")
    data = Data()
    specs = plan(data)
    ids = [s.doc_id for s in specs]
    assert len(ids) == len(set(ids)), "duplicate document ids"
    for kind in KINDS:
        shutil.rmtree(HERE / kind, ignore_errors=True)
        (HERE / kind).mkdir(parents=True)
    entries = []
    for spec in specs:
        entries.append(write_spec(data, spec))
        print(f"  {entries[-1]['path']}", file=sys.stderr)
    index = {
        "description": "Sample documents with ground truth (samples/documents/generate.py). "
        "Field names and value formats: docs/architecture.md, section 5.",
        "documents": entries,
    }
    (HERE / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # summary
    total = 0
    for kind in KINDS:
        files = [p for p in (HERE / kind).iterdir() if not p.name.endswith(".json")]
        total += sum(p.stat().st_size for p in (HERE / kind).iterdir())
        by = defaultdict(int)
        for e in entries:
            if e["kind"] == kind:
                by[e["format"]] += 1
        unread = sum(1 for e in entries if e["kind"] == kind and not e["readable"])
        print(f"{kind}: {len(files)} files {dict(sorted(by.items()))}, unreadable {unread}")
    print(f"total {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
