"""Drawing layer of the held-out generator: pages as display lists in millimetres, laid out once and
rendered either to a bitmap (Pillow) or to a text-layer PDF (reportlab, fonts embedded), plus the
scan, photocopy and phone-photo defects. Written independently of samples/documents."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS: dict[str, tuple[str, int]] = {
    "song": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),  # AR PL UMing CN (Ming/Song)
    "kai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),  # AR PL UKai CN
    "hei": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # WenQuanYi Micro Hei
    "nsans": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Noto Sans CJK SC
    "nsansb": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    "nserif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),  # Noto Serif CJK SC
    "nserifb": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
}
PDF_FONTS = ("song", "kai", "hei")
"""TrueType-outline fonts reportlab can embed (the Noto CJK collections are CFF)."""
PDF_FALLBACK = {"nsans": "hei", "nsansb": "hei", "nserif": "song", "nserifb": "song"}

INK = (20, 20, 22)
RED = (205, 32, 36)
PT_MM = 25.4 / 72


@cache
def pil_font(name: str, px: int) -> ImageFont.FreeTypeFont:
    path, index = FONTS[name]
    return ImageFont.truetype(path, max(px, 4), index=index)


def text_width(s: str, font: str, size_pt: float) -> float:
    """Width in mm of `s` at `size_pt` points."""
    return pil_font(font, 200).getlength(s) * size_pt * PT_MM / 200


@dataclass
class Page:
    w: float = 210.0
    h: float = 297.0
    ops: list[tuple[Any, ...]] = field(default_factory=list)

    def text(
        self,
        x: float,
        y: float,
        s: str,
        font: str = "song",
        size: float = 10.5,
        color=INK,
        layer: str = "ink",
        rot: float = 0.0,
    ) -> float:
        """Baseline-left text at (x, y) mm; returns its width in mm. `rot` (degrees, counter-
        clockwise) turns it about its centre (used for seal characters)."""
        if s:
            self.ops.append(("text", x, y, s, font, size, color, layer, rot))
        return text_width(s, font, size)

    def ctext(self, cx: float, y: float, s: str, font: str = "song", size: float = 10.5, **kw: Any) -> None:
        self.text(cx - text_width(s, font, size) / 2, y, s, font, size, **kw)

    def rtext(self, rx: float, y: float, s: str, font: str = "song", size: float = 10.5, **kw: Any) -> None:
        self.text(rx - text_width(s, font, size), y, s, font, size, **kw)

    def line(
        self, x0: float, y0: float, x1: float, y1: float, w: float = 0.25, color=INK, layer: str = "ink"
    ) -> None:
        self.ops.append(("line", x0, y0, x1, y1, w, color, layer))

    def rect(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        w: float = 0.3,
        color=INK,
        fill: Any = None,
        layer: str = "ink",
    ) -> None:
        self.ops.append(("rect", x0, y0, x1, y1, w, color, fill, layer))

    def circle(
        self,
        cx: float,
        cy: float,
        r: float,
        w: float = 0.3,
        color=INK,
        layer: str = "ink",
        ry: float | None = None,
        fill: Any = None,
    ) -> None:
        self.ops.append(("ellipse", cx, cy, r, ry if ry is not None else r, w, color, layer, fill))

    def poly(self, pts: list[tuple[float, float]], color=INK, layer: str = "ink") -> None:
        self.ops.append(("poly", pts, color, layer))


# ---------------------------------------------------------------------------------------------
# Flowing text with fill-ins


@dataclass
class Seg:
    kind: str  # b body, f fill-in (Kai over an underline), x struck blank, u empty blank, k tick
    text: str = ""
    tag: str | None = None
    minw: float = 0.0  # minimum width of a fill-in, in em


def B(t: str) -> Seg:
    return Seg("b", t)


def F(t: str, tag: str | None = None, minw: float = 3.0) -> Seg:
    return Seg("f", t, tag, minw)


def X(n: float = 4.0) -> Seg:
    return Seg("x", "", None, n)


def U(n: float = 3.0) -> Seg:
    return Seg("u", "", None, n)


def K(tag: str | None = None) -> Seg:
    return Seg("k", "√", tag)


_NO_START = set("，。；：、）】」》？！,.;:)%")


class Doc:
    """Pages of one document with a writing cursor; `para` flows segments onto lines and pages."""

    def __init__(
        self,
        w: float = 210,
        h: float = 297,
        margin: tuple[float, float, float, float] = (25, 22, 25, 22),
        font: str = "song",
        fill_font: str = "kai",
        size: float = 10.5,
        lead: float = 1.85,
        fill_color=INK,
    ) -> None:
        self.w, self.h = w, h
        self.ml, self.mt, self.mr, self.mb = margin
        self.font, self.fill_font, self.size, self.lead = font, fill_font, size, lead
        self.fill_color = fill_color
        self.pages: list[Page] = []
        self.boxes: dict[str, list[list[float]]] = {}
        self.new_page()

    @property
    def page(self) -> Page:
        return self.pages[-1]

    @property
    def pno(self) -> int:
        return len(self.pages)

    def new_page(self) -> Page:
        self.pages.append(Page(self.w, self.h))
        self.y = self.mt
        return self.page

    def box(self, tag: str, x0: float, y0: float, x1: float, y1: float, page: int | None = None) -> None:
        self.boxes.setdefault(tag, []).append(
            [page or self.pno, round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)]
        )

    def space(self, mm: float) -> None:
        self.y += mm
        if self.y > self.h - self.mb:
            self.new_page()

    def need(self, mm: float) -> None:
        if self.y + mm > self.h - self.mb:
            self.new_page()

    def heading(
        self, s: str, size: float = 12, font: str | None = None, center: bool = True, before: float = 2.5
    ) -> None:
        self.need(size * PT_MM * 3.2)
        self.y += before + size * PT_MM * 1.2
        f = font or ("hei" if self.font != "hei" else "nsansb")
        if center:
            self.page.ctext(self.w / 2, self.y, s, f, size)
        else:
            self.page.text(self.ml, self.y, s, f, size)
        self.y += size * PT_MM * 0.7

    def para(
        self,
        segs: list[Seg],
        indent: float = 0.0,
        first: float = 0.0,
        size: float | None = None,
        x0: float | None = None,
        width: float | None = None,
    ) -> None:
        size = size or self.size
        em = size * PT_MM
        fsize = size * 1.05
        x0 = self.ml if x0 is None else x0
        width = (self.w - self.ml - self.mr) if width is None else width
        # atoms: (width, text, font, size, underline, tag, kind)
        atoms: list[tuple[float, str, str, float, bool, str | None, str]] = []
        for seg in segs:
            if seg.kind == "b":
                for ch in _split(seg.text):
                    atoms.append((text_width(ch, self.font, size), ch, self.font, size, False, None, "b"))
            elif seg.kind == "k":
                atoms.append(
                    (text_width("√", self.fill_font, fsize), "√", self.fill_font, fsize, False, seg.tag, "f")
                )
            elif seg.kind == "f":
                pad = em * 0.6
                atoms.append((pad, "", "", 0, True, None, "p"))
                used = 0.0
                for ch in _split(seg.text):
                    wch = text_width(ch, self.fill_font, fsize)
                    used += wch
                    atoms.append((wch, ch, self.fill_font, fsize, True, seg.tag, "f"))
                rest = max(pad, seg.minw * em - used - pad)
                atoms.append((rest, "", "", 0, True, None, "p"))
            else:  # blank (u) or struck blank (x)
                atoms.append(
                    (
                        seg.minw * em,
                        "×" if seg.kind == "x" else "",
                        self.fill_font,
                        fsize,
                        True,
                        None,
                        seg.kind,
                    )
                )
        lines: list[list[tuple[float, tuple]]] = []
        cur: list[tuple[float, tuple]] = []
        x = first
        for a in atoms:
            limit = width - (indent if lines else 0)
            if (
                cur
                and x + a[0] > limit + 0.01
                and not (a[1] and a[1][0] in _NO_START and x + a[0] < limit + em)
            ):
                if a[6] == "p" and not a[1]:
                    continue  # an underline pad does not start a line
                lines.append(cur)
                cur, x = [], 0.0
            cur.append((x, a))
            x += a[0]
        if cur:
            lines.append(cur)
        lh = em * self.lead
        for i, ln in enumerate(lines):
            if self.y + lh > self.h - self.mb:
                self.new_page()
            base = self.y + em * 1.05
            lx = x0 + (indent if i else 0.0)
            under_start: float | None = None
            tags: dict[str, list[float]] = {}
            for j, (ax, a) in enumerate(ln):
                w, t, font, sz, under, tag, kind = a
                X0 = lx + ax
                if t and kind in ("b", "f"):
                    self.page.text(X0, base, t, font, sz, color=self.fill_color if kind == "f" else INK)
                elif kind == "x":
                    self.page.ctext(X0 + w / 2, base, "×", font, sz, color=self.fill_color)
                if tag:
                    r = tags.setdefault(tag, [X0, X0 + w])
                    r[1] = X0 + w
                if under and under_start is None:
                    under_start = X0
                nxt_under = j + 1 < len(ln) and ln[j + 1][1][4]
                if under and not nxt_under and under_start is not None:
                    self.page.line(under_start, base + em * 0.22, X0 + w, base + em * 0.22, 0.22)
                    under_start = None
            for tag, (a0, a1) in tags.items():
                self.box(tag, a0, base - em * 1.0, a1, base + em * 0.3)
            self.y += lh


def _split(s: str) -> list[str]:
    """Characters, with runs of ASCII letters/digits kept together (they do not break)."""
    out: list[str] = []
    for ch in s:
        prev = out[-1][-1] if out else ""
        if (
            out
            and ch.isascii()
            and (ch.isalnum() or ch in ".,")
            and prev.isascii()
            and (prev.isalnum() or prev in ".,")
        ):
            out[-1] += ch
        else:
            out.append(ch)
    return out


# ---------------------------------------------------------------------------------------------
# Seals and QR codes


def seal(
    page: Page,
    cx: float,
    cy: float,
    r: float,
    ring_text: str,
    center: str = "",
    star: bool = True,
    font: str = "song",
    rot: float = 0.0,
    oval: bool = False,
) -> None:
    """A round red seal: double ring, text along the upper arc, a star, a line of text below it."""
    ry = r * 0.72 if oval else r
    page.circle(cx, cy, r, 0.9 if r > 14 else 0.7, RED, "seal", ry=ry)
    n = len(ring_text)
    span = 250.0 if n > 8 else 200.0
    rr0 = r * 0.78
    size = min(r * 0.3, rr0 * math.radians(span) / max(n, 1) * 0.92) / PT_MM
    for i, ch in enumerate(ring_text):
        ang = 90 + span / 2 - span * (i + 0.5) / n + rot
        a = math.radians(ang)
        rr = r - size * PT_MM * 0.75
        page.text(
            cx + rr * math.cos(a), cy - rr * math.sin(a) * (ry / r), ch, font, size, RED, "seal", rot=ang - 90
        )
    if star:
        sr = r * 0.3
        pts = []
        for k in range(10):
            a = math.radians(90 + k * 36 + rot)
            rad = sr if k % 2 == 0 else sr * 0.4
            pts.append((cx + rad * math.cos(a), cy - rad * math.sin(a)))
        page.poly(pts, RED, "seal")
    if center:
        s = min(r * 0.3 / PT_MM, r * 1.4 / max(len(center), 1) / PT_MM)
        page.ctext(cx, cy + r * 0.62 * (ry / r), center, font, s, color=RED, layer="seal")


def box_stamp(
    page: Page, x: float, y: float, lines: list[str], size: float = 11, font: str = "hei", color=RED
) -> None:
    """A rectangular rubber stamp (与原件核对一致 …)."""
    w = max(text_width(s, font, size) for s in lines) + 6
    h = len(lines) * size * PT_MM * 1.5 + 3
    page.rect(x, y, x + w, y + h, 0.8, color, layer="seal")
    for i, s in enumerate(lines):
        page.ctext(
            x + w / 2, y + 2 + (i + 1) * size * PT_MM * 1.45 - 1, s, font, size, color=color, layer="seal"
        )


def qr(page: Page, x: float, y: float, size: float, data: str) -> None:
    import segno

    m = segno.make(data, error="m").matrix
    n = len(m)
    cell = size / n
    for r, row in enumerate(m):
        for c, v in enumerate(row):
            if v:
                page.rect(
                    x + c * cell,
                    y + r * cell,
                    x + (c + 1) * cell + 0.02,
                    y + (r + 1) * cell + 0.02,
                    0,
                    INK,
                    fill=INK,
                )


# ---------------------------------------------------------------------------------------------
# Rendering


def render(page: Page, dpi: int) -> Image.Image:
    s = dpi / 25.4
    W, H = round(page.w * s), round(page.h * s)
    ink = Image.new("RGB", (W, H), (255, 255, 255))
    seal_img: Image.Image | None = None
    draws = {"ink": ImageDraw.Draw(ink)}
    targets = {"ink": ink}
    for op in page.ops:
        layer = op[7] if op[0] in ("text", "ellipse") else op[-1]
        if layer == "seal" and seal_img is None:
            seal_img = Image.new("RGB", (W, H), (255, 255, 255))
            draws["seal"] = ImageDraw.Draw(seal_img)
            targets["seal"] = seal_img
        d = draws[layer]
        kind = op[0]
        if kind == "text":
            _, x, y, txt, font, size, color, _, rot = op
            f = pil_font(font, round(size / 72 * dpi))
            if not rot:
                d.text((x * s, y * s), txt, font=f, fill=color, anchor="ls")
            else:
                tw = int(f.getlength(txt)) + 8
                th = int(size / 72 * dpi * 1.6) + 8
                tmp = Image.new("L", (tw, th), 0)
                ImageDraw.Draw(tmp).text((tw / 2, th / 2), txt, font=f, fill=255, anchor="mm")
                tmp = tmp.rotate(rot, resample=Image.BICUBIC, expand=True)
                col = Image.new("RGB", tmp.size, color)
                targets[layer].paste(col, (round(x * s - tmp.width / 2), round(y * s - tmp.height / 2)), tmp)
        elif kind == "line":
            _, x0, y0, x1, y1, w, color, _ = op
            d.line([(x0 * s, y0 * s), (x1 * s, y1 * s)], fill=color, width=max(1, round(w * s)))
        elif kind == "rect":
            _, x0, y0, x1, y1, w, color, fill, _ = op
            if fill is not None:
                d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], fill=fill)
            if w:
                d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], outline=color, width=max(1, round(w * s)))
        elif kind == "ellipse":
            _, cx, cy, rx, ry, w, color, _, fill = op
            d.ellipse(
                [(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s],
                outline=color,
                width=max(1, round(w * s)),
                fill=fill,
            )
        elif kind == "poly":
            _, pts, color, _ = op
            d.polygon([(px * s, py * s) for px, py in pts], fill=color)
    if seal_img is not None:
        a = np.asarray(ink, dtype=np.float32) * np.asarray(seal_img, dtype=np.float32) / 255.0
        # seal ink is not perfectly opaque and a little uneven
        ink = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return ink


def write_text_pdf(pages: list[Page], path: str, title: str) -> None:
    from reportlab.lib.colors import Color
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    for name in PDF_FONTS:
        if f"HO-{name}" not in pdfmetrics.getRegisteredFontNames():
            p, i = FONTS[name]
            pdfmetrics.registerFont(TTFont(f"HO-{name}", p, subfontIndex=i))
    mm = 72 / 25.4
    c = canvas.Canvas(path, pagesize=(pages[0].w * mm, pages[0].h * mm), invariant=1)
    c.setTitle(title)
    c.setCreator("miaopi held-out generator")
    for page in pages:
        c.setPageSize((page.w * mm, page.h * mm))
        H = page.h * mm

        def col(rgb: tuple[int, int, int], layer: str) -> Color:
            return Color(rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, alpha=0.85 if layer == "seal" else 1)

        for op in page.ops:
            kind = op[0]
            if kind == "text":
                _, x, y, txt, font, size, color, layer, rot = op
                fname = "HO-" + PDF_FALLBACK.get(font, font)
                c.setFillColor(col(color, layer))
                c.setFont(fname, size)
                if not rot:
                    c.drawString(x * mm, H - y * mm, txt)
                else:
                    c.saveState()
                    c.translate(x * mm, H - y * mm)
                    c.rotate(rot)
                    c.drawCentredString(0, -size * 0.36, txt)
                    c.restoreState()
            elif kind == "line":
                _, x0, y0, x1, y1, w, color, layer = op
                c.setStrokeColor(col(color, layer))
                c.setLineWidth(w * mm)
                c.line(x0 * mm, H - y0 * mm, x1 * mm, H - y1 * mm)
            elif kind == "rect":
                _, x0, y0, x1, y1, w, color, fill, layer = op
                if fill is not None:
                    c.setFillColor(col(fill, layer))
                c.setStrokeColor(col(color, layer))
                c.setLineWidth(max(w, 0.01) * mm)
                c.rect(
                    x0 * mm,
                    H - y1 * mm,
                    (x1 - x0) * mm,
                    (y1 - y0) * mm,
                    stroke=1 if w else 0,
                    fill=1 if fill is not None else 0,
                )
            elif kind == "ellipse":
                _, cx, cy, rx, ry, w, color, layer, fill = op
                c.setStrokeColor(col(color, layer))
                c.setLineWidth(w * mm)
                if fill is not None:
                    c.setFillColor(col(fill, layer))
                c.ellipse(
                    (cx - rx) * mm,
                    H - (cy + ry) * mm,
                    (cx + rx) * mm,
                    H - (cy - ry) * mm,
                    stroke=1,
                    fill=1 if fill is not None else 0,
                )
            elif kind == "poly":
                _, pts, color, layer = op
                c.setFillColor(col(color, layer))
                p = c.beginPath()
                p.moveTo(pts[0][0] * mm, H - pts[0][1] * mm)
                for px, py in pts[1:]:
                    p.lineTo(px * mm, H - py * mm)
                p.close()
                c.drawPath(p, stroke=0, fill=1)
        c.showPage()
    c.save()


def write_image_pdf(images: list[Image.Image], path: str, dpis: list[float], quality: int) -> None:
    """A scanned PDF: one JPEG per page (passed through as DCT), no text layer."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(path, invariant=1)
    c.setCreator("miaopi held-out generator (scan)")
    for im, dpi in zip(images, dpis, strict=True):
        w, h = im.width * 72 / dpi, im.height * 72 / dpi
        c.setPageSize((w, h))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality, optimize=True)
        buf.seek(0)
        c.drawImage(ImageReader(buf), 0, 0, w, h)
        c.showPage()
    c.save()


# ---------------------------------------------------------------------------------------------
# Defects


def _lowfreq(rng: np.random.Generator, h: int, w: int, cells: int = 6) -> np.ndarray:
    small = rng.random((cells, cells)).astype(np.float32)
    return (
        np.asarray(
            Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), dtype=np.float32
        )
        / 255.0
    )


def scan(
    im: Image.Image,
    rng: np.random.Generator,
    log: list[str],
    *,
    tone: bool = True,
    angle: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    grey: bool = False,
    contrast: float = 1.0,
    brightness: float = 0.0,
    edges: bool = False,
) -> Image.Image:
    a = np.asarray(im.convert("RGB"), dtype=np.float32)
    h, w = a.shape[:2]
    if tone:
        t = np.array([1.0, 0.975 - rng.random() * 0.02, 0.93 - rng.random() * 0.04], dtype=np.float32)
        light = 1.0 - 0.07 * _lowfreq(rng, h, w)
        a = a * t[None, None, :] * light[:, :, None]
        log.append("paper_tone")
    if contrast != 1.0 or brightness:
        a = (a - 128) * contrast + 128 + brightness
        log.append(f"contrast:{contrast:.2f}")
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if angle:
        bg = tuple(int(v) for v in np.asarray(out)[5, 5])
        out = out.rotate(angle, resample=Image.BICUBIC, fillcolor=bg)
        log.append(f"rotate:{angle:.2f}")
    if edges:
        a = np.asarray(out, dtype=np.float32).copy()
        e = int(w * 0.012)
        a[:, :e] *= 0.35
        a[: int(h * 0.008), :] *= 0.4
        out = Image.fromarray(a.astype(np.uint8))
        log.append("dark_edges")
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
        log.append(f"blur:{blur:.2f}")
    if noise:
        a = np.asarray(out, dtype=np.float32)
        a = a + rng.normal(0, noise, a.shape[:2])[:, :, None]
        out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        log.append(f"noise:{noise:.1f}")
    if grey:
        out = out.convert("L")
        log.append("grey")
    return out


def photocopy(im: Image.Image, rng: np.random.Generator, log: list[str]) -> Image.Image:
    """Toner copy: grey, hard contrast, speckles, a grey band from the copier lid, slight skew."""
    a = np.asarray(im.convert("L"), dtype=np.float32)
    h, w = a.shape
    a = 255 / (1 + np.exp(-(a - 150) / 22))
    a = a * (1 - 0.18 * _lowfreq(rng, h, w, 4))
    speck = rng.random((h, w)) < 0.0015
    a[speck] = rng.uniform(0, 90, int(speck.sum()))
    band = int(h * rng.uniform(0.01, 0.03))
    a[:band] *= 0.55
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    ang = float(rng.uniform(-1.5, 1.5))
    out = out.rotate(ang, resample=Image.BICUBIC, fillcolor=235)
    log.extend(["photocopy", f"rotate:{ang:.2f}", "toner_speckle"])
    return out


def _perspective_coeffs(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """Coefficients for PIL's PERSPECTIVE transform mapping output points `dst` to input `src`."""
    m = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        m.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        m.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = np.array([c for pt in src for c in pt], dtype=np.float64)
    return list(np.linalg.solve(np.array(m, dtype=np.float64), b))


def desk(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    kind = int(rng.integers(0, 3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:  # wood grain
        base = np.array([150, 105, 70], dtype=np.float32)
        g = np.sin(xx / rng.uniform(9, 20) + 3 * np.sin(yy / rng.uniform(120, 300))) * 0.5 + 0.5
        a = base[None, None, :] * (0.8 + 0.25 * g[:, :, None])
    elif kind == 1:  # grey office desk
        base = np.array([120, 124, 128], dtype=np.float32)
        a = base[None, None, :] * (0.9 + 0.15 * _lowfreq(rng, h, w, 8)[:, :, None])
    else:  # dark glass / table cloth
        base = np.array([60, 62, 72], dtype=np.float32)
        a = base[None, None, :] * (0.85 + 0.3 * _lowfreq(rng, h, w, 5)[:, :, None])
    a = a + rng.normal(0, 6, (h, w))[:, :, None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def photo(
    im: Image.Image,
    rng: np.random.Generator,
    log: list[str],
    *,
    tilt: float,
    long_side: int,
    turn: int = 0,
    blur: float = 1.0,
    dark: float = 0.0,
) -> Image.Image:
    """A phone photo of a page on a desk: perspective from a camera `tilt` degrees off the normal,
    a few degrees of in-plane rotation, shadow and uneven light, blur, lower resolution, maybe turned."""
    pw, ph = im.size
    W, H = int(pw * 1.14), int(ph * 1.1)
    bg = desk(rng, W, H)
    t = math.tan(math.radians(tilt))
    k = 0.5 * t  # foreshortening of the far edge
    cx, cy = W / 2 + rng.uniform(-0.04, 0.04) * W, H / 2 + rng.uniform(-0.03, 0.03) * H
    sc = rng.uniform(0.9, 0.97)
    hw, hh = pw * sc / 2, ph * sc / 2
    far = 1 - k * 0.9
    side = rng.choice([-1.0, 1.0]) * rng.uniform(0, 0.25) * t
    quad = [(-hw * far, -hh * (1 - 0.3 * k)), (hw * far, -hh * (1 - 0.3 * k)), (hw, hh), (-hw, hh)]
    quad = [(x + side * y * 0.4, y + side * x * 0.15) for x, y in quad]
    rot = math.radians(rng.uniform(-6, 6))
    quad = [
        (cx + x * math.cos(rot) - y * math.sin(rot), cy + x * math.sin(rot) + y * math.cos(rot))
        for x, y in quad
    ]
    src = [(0, 0), (pw, 0), (pw, ph), (0, ph)]
    coeffs = _perspective_coeffs(quad, src)
    warped = im.convert("RGB").transform((W, H), Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    mask = Image.new("L", im.size, 255).transform((W, H), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    # a soft drop shadow of the sheet on the desk
    shadow = mask.filter(ImageFilter.GaussianBlur(W / 150))
    bga = np.asarray(bg, dtype=np.float32) * (
        1 - 0.45 * np.asarray(shadow, dtype=np.float32)[:, :, None] / 255
    )
    bg = Image.fromarray(bga.astype(np.uint8))
    bg.paste(warped, (0, 0), mask)
    a = np.asarray(bg, dtype=np.float32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    grad = (xx / W - 0.5) * math.cos(ang) + (yy / H - 0.5) * math.sin(ang)
    light = 1.0 - rng.uniform(0.15, 0.35) * (grad + 0.5) - dark
    # the phone's (or hand's) shadow: a soft dark blob over part of the sheet
    bx, by = rng.uniform(0.2, 0.8) * W, rng.uniform(0.55, 1.0) * H
    rad = rng.uniform(0.25, 0.45) * W
    blob = np.exp(-(((xx - bx) ** 2 + (yy - by) ** 2) / (2 * rad**2)))
    light = light * (1 - rng.uniform(0.15, 0.3) * blob)
    warm = np.array([1.0, 0.97, 0.9], dtype=np.float32) if rng.random() < 0.6 else np.array([0.95, 0.98, 1.0])
    a = a * light[:, :, None] * warm[None, None, :]
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    scale = long_side / max(W, H)
    out = out.resize((round(W * scale), round(H * scale)), Image.LANCZOS)
    out = out.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(out, dtype=np.float32) + rng.normal(0, 3.0, (out.height, out.width, 1))
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    log.extend(
        [
            f"photo_tilt:{tilt:.1f}",
            f"inplane:{math.degrees(rot):.1f}",
            "desk_background",
            "shadow",
            "uneven_light",
            f"blur:{blur:.2f}",
            f"long_side:{long_side}",
        ]
    )
    if dark:
        log.append(f"dark:{dark:.2f}")
    if turn:
        out = out.rotate(turn, expand=True)
        log.append(f"turned:{turn}")
    return out
