"""Tuning documents in real-world layouts, independent of generate.py's one template.

    .venv/bin/python samples/documents/layouts.py        # writes samples/documents/layouts/

Purchase contracts after the national model contract GF-2014-0171/0172 (chapters, party blocks with
legal representatives and agents who carry their own ID numbers, ticked 【√…】 options, values in
articles, fill-ins over underlines, the signing date as three blanks), the Beijing second-hand
contract (出卖人（甲方）, 共有权人, an agent inside the buyer's block, the address split over 【】),
the Shanghai one (甲方（出卖人）, a label-above-value table of buyers, the price in 万元) and a
label-above-value summary table (two buyers stacked in one cell, an address wrapping in its cell).
Business licences in the 2019 landscape edition (two columns, spaced labels, 经营范围 and 住所 wrapping,
a seal over the date), as a certified copy with a 与原件核对一致 stamp beside the address, and as a
label-above-value table. Safety permits with 有效期 written with a dash, with split blanks, and as a
label-above-value table, permit numbers with every bracket style.

Each document is a text-layer PDF (fonts embedded: AR PL UMing / UKai, WenQuanYi Micro Hei) or a
scan of one (rendered with PDFium, lightly degraded). Every random choice is seeded by the document
id. Output: layouts/<kind>/<id>.{pdf,jpg,png} + <id>.truth.json and layouts/index.json in the format
of samples/documents/index.json (paths relative to the index's folder).
"""

from __future__ import annotations

import io
import json
import random
import shutil
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from stdnum.cn import uscc

HERE = Path(__file__).resolve().parent
OUT = HERE / "layouts"
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from extractors.parsers import amount_to_capitals  # noqa: E402

FONTS = {
    "song": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    "kai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    "hei": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
}
MM = 72 / 25.4
RED = (0.85, 0.12, 0.15)
BLACK = (0.05, 0.05, 0.05)
BLUE = (0.1, 0.15, 0.5)


def seed_of(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


_READY = False


def fonts() -> None:
    global _READY
    if not _READY:
        for name, (path, index) in FONTS.items():
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
        _READY = True


def width_mm(s: str, size: float, font: str = "song") -> float:
    fonts()
    return pdfmetrics.stringWidth(s, font, size) / MM


# ---------------------------------------------------------------------------------------------------
# Drawing primitives (mm from the top left)


@dataclass
class Text:
    x: float
    y: float  # baseline
    s: str
    size: float = 10.5
    font: str = "song"
    color: tuple[float, float, float] = BLACK


@dataclass
class Rule:
    x0: float
    y0: float
    x1: float
    y1: float
    w: float = 0.25
    color: tuple[float, float, float] = BLACK


@dataclass
class Seal:
    cx: float
    cy: float
    r: float
    ring: str
    centre: str = ""


@dataclass
class Qr:
    x: float
    y: float
    size: float
    seed: int


@dataclass
class Page:
    w: float = 210.0
    h: float = 297.0
    items: list[Any] = field(default_factory=list)

    def text(self, x: float, y: float, s: str, size: float = 10.5, font: str = "song", **kw: Any) -> float:
        self.items.append(Text(x, y, s, size, font, **kw))
        return x + width_mm(s, size, font)

    def rule(self, x0: float, y0: float, x1: float, y1: float, w: float = 0.25) -> None:
        self.items.append(Rule(x0, y0, x1, y1, w))

    def fill(
        self, x: float, y: float, value: str, width: float, size: float = 10.5, font: str = "kai"
    ) -> float:
        """A blank of `width` mm underlined, the value written over it (centred)."""
        w = max(width, width_mm(value, size, font) + 4)
        vx = x + (w - width_mm(value, size, font)) / 2
        if value:
            self.items.append(Text(vx, y, value, size, font, BLUE if font == "kai" else BLACK))
        self.rule(x, y + 1.2, x + w, y + 1.2, 0.2)
        return x + w

    def flow(
        self,
        x0: float,
        y: float,
        x1: float,
        parts: list[str | tuple[str, float]],
        size: float = 10.5,
        leading: float = 7.0,
        indent: float = 0.0,
        font: str = "song",
    ) -> float:
        """Running text with fill-ins (value, blank width) wrapped between x0 and x1; returns the next y."""
        x = x0 + indent
        for part in parts:
            if isinstance(part, tuple):
                value, wid = part
                need = max(wid, width_mm(value, size, "kai") + 4)
                if x + need > x1:
                    x, y = x0, y + leading
                x = self.fill(x, y, value, wid, size) + 0.8
                continue
            for ch in part:
                cw = width_mm(ch, size, font)
                if x + cw > x1:
                    x, y = x0, y + leading
                self.items.append(Text(x, y, ch, size, font))
                x += cw
        return y + leading


def merge_chars(page: Page) -> None:
    """Consecutive single characters of one flowed line become one text run (smaller PDFs)."""
    out: list[Any] = []
    for it in page.items:
        prev = out[-1] if out else None
        if (
            isinstance(it, Text)
            and isinstance(prev, Text)
            and prev.y == it.y
            and prev.font == it.font
            and prev.size == it.size
            and prev.color == it.color
            and abs(prev.x + width_mm(prev.s, prev.size, prev.font) - it.x) < 0.05
        ):
            prev.s += it.s
            continue
        out.append(it)
    page.items = out


def seal_png(seal: Seal, px_mm: float = 12) -> Image.Image:
    size = round(2 * seal.r * px_mm)
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    ink = (215, 30, 40, 200)
    w = max(2, round(0.9 * px_mm))
    d.ellipse((w, w, size - w, size - w), outline=ink, width=w)
    c = size / 2
    star = ImageFont.truetype(FONTS["hei"][0], round(seal.r * 0.6 * px_mm))
    d.text((c, c), "★", font=star, fill=ink, anchor="mm")
    fnt = ImageFont.truetype(FONTS["hei"][0], round(seal.r * 0.28 * px_mm))
    n = len(seal.ring)
    span = 230.0
    for k, ch in enumerate(seal.ring):
        ang = -90 - span / 2 + span * (k + 0.5) / n
        rad = np.deg2rad(ang)
        rr = c - 0.25 * seal.r * px_mm - w
        tile = Image.new("RGBA", (fnt.size * 2, fnt.size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((fnt.size, fnt.size), ch, font=fnt, fill=ink, anchor="mm")
        tile = tile.rotate(-(ang + 90), resample=Image.BICUBIC)
        img.alpha_composite(
            tile, (round(c + rr * np.cos(rad) - fnt.size), round(c + rr * np.sin(rad) - fnt.size))
        )
    if seal.centre:
        f2 = ImageFont.truetype(FONTS["hei"][0], round(seal.r * 0.22 * px_mm))
        d.text((c, c + 0.55 * seal.r * px_mm), seal.centre, font=f2, fill=ink, anchor="mm")
    return img


def write_pdf(pages: list[Page], path: Path, title: str) -> None:
    fonts()
    c = canvas.Canvas(str(path), pagesize=(pages[0].w * MM, pages[0].h * MM), invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("miaopi layouts")
    for page in pages:
        merge_chars(page)
        H = page.h * MM
        c.setPageSize((page.w * MM, H))
        for it in page.items:
            if isinstance(it, Text):
                c.setFillColorRGB(*it.color)
                c.setFont(it.font, it.size)
                c.drawString(it.x * MM, H - it.y * MM, it.s)
            elif isinstance(it, Rule):
                c.setStrokeColorRGB(*it.color)
                c.setLineWidth(it.w * MM)
                c.line(it.x0 * MM, H - it.y0 * MM, it.x1 * MM, H - it.y1 * MM)
            elif isinstance(it, Qr):
                rng = np.random.default_rng(it.seed)
                n = 25
                m = rng.random((n, n)) < 0.5
                for a, b in ((0, 0), (0, n - 7), (n - 7, 0)):
                    m[a : a + 7, b : b + 7] = True
                    m[a + 1 : a + 6, b + 1 : b + 6] = False
                    m[a + 2 : a + 5, b + 2 : b + 5] = True
                cs = it.size / n
                c.setFillColorRGB(0.1, 0.1, 0.1)
                for r, col in zip(*np.nonzero(m), strict=True):
                    c.rect(
                        (it.x + col * cs) * MM,
                        H - (it.y + (r + 1) * cs) * MM,
                        cs * MM,
                        cs * MM,
                        stroke=0,
                        fill=1,
                    )
        for it in page.items:  # seals last, over the text
            if isinstance(it, Seal):
                img = seal_png(it)
                c.drawImage(
                    ImageReader(img),
                    (it.cx - it.r) * MM,
                    H - (it.cy + it.r) * MM,
                    2 * it.r * MM,
                    2 * it.r * MM,
                    mask="auto",
                )
        c.showPage()
    c.save()


def scan(pdf: Path, dpi: int, rng: random.Random) -> tuple[list[Image.Image], list[str]]:
    """Pages of a PDF rendered like a flatbed scan: slight rotation, blur, noise, paper tone."""
    out: list[Image.Image] = []
    steps: list[str] = []
    doc = pdfium.PdfDocument(str(pdf))
    for i in range(len(doc)):
        img = doc[i].render(scale=dpi / 72).to_pil().convert("RGB")
        angle = round(rng.uniform(-0.8, 0.8), 2)
        img = img.rotate(angle, resample=Image.BICUBIC, fillcolor=(247, 246, 242))
        blur = round(rng.uniform(0.3, 0.7), 2)
        img = img.filter(ImageFilter.GaussianBlur(blur))
        arr = np.asarray(img, dtype=np.float32) * np.array([0.98, 0.975, 0.95], dtype=np.float32)
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 3.0, arr.shape[:2])
        arr = np.clip(arr + noise[..., None], 0, 255).astype(np.uint8)
        out.append(Image.fromarray(arr))
        steps = ["paper_tone", f"rotate:{angle:+.2f}", f"blur:{blur}", "gaussian_noise:3"]
    doc.close()
    return out, steps


# ---------------------------------------------------------------------------------------------------
# Data: names, ID numbers, credit codes, money

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史黎贺顾毛郝龚邵万钱武戴孔汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍"
    "红鹏辉建国志宏海波俊峰晨阳子涵浩然思雨欣怡梓轩雪梅晓东文博嘉怡"
)
AREAS = {
    "110105": "北京市朝阳区",
    "110108": "北京市海淀区",
    "310115": "上海市浦东新区",
    "310104": "上海市徐汇区",
    "510107": "成都市武侯区",
    "510108": "成都市成华区",
    "420106": "武汉市武昌区",
    "420111": "武汉市洪山区",
}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def id_number(rng: random.Random, area: str | None = None) -> str:
    area = area or rng.choice(list(AREAS))
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    body = f"{area}{born:%Y%m%d}{rng.randrange(1000):03d}"
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]
    return body + check


def credit_code(rng: random.Random, region: str = "510100") -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body8 = "MA" + "".join(rng.choice(alphabet) for _ in range(6))
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body8]
    rest = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    code = "91" + region + body8 + {10: "X", 11: "0"}.get(rest, str(rest))
    code += uscc.calc_check_digit(code)
    assert uscc.is_valid(code), code
    return code


def phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "151", "186", "177")) + f"{rng.randrange(10**8):08d}"


def q2(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def sign_date(rng: random.Random) -> date:
    return date(2026, 1, 5) + timedelta(days=rng.randrange(300))


COMPANIES = [
    "锦程置业",
    "天府华庭房地产开发",
    "江城恒信建设工程",
    "楚天建筑安装",
    "申城众合实业",
    "京华远景建设",
    "蜀道安宏建筑劳务",
    "汉江鼎盛市政工程",
]
CITY = {"510100": "成都市", "420100": "武汉市", "110000": "北京市", "310000": "上海市"}
STREETS = ["人民南路四段", "府青路二段", "中山大道", "雄楚大道", "建国路", "望京街", "世纪大道", "漕溪北路"]


def company(rng: random.Random, city: str, suffix: str = "有限公司") -> str:
    return city.rstrip("市") + rng.choice(COMPANIES) + suffix


def address(rng: random.Random, district: str) -> str:
    street = f"{district}{rng.choice(STREETS)}{rng.randrange(1, 999)}号"
    room = f"{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}"
    return f"{street}{rng.randrange(1, 30)}栋{rng.randrange(1, 4)}单元{room}号"


def long_address(rng: random.Random, district: str) -> str:
    return (
        f"{district}{rng.choice(STREETS)}{rng.randrange(1, 999)}号{rng.choice(('天府', '江城', '申城'))}"
        f"国际金融中心{rng.randrange(1, 6)}号楼{rng.randrange(5, 40)}层{rng.randrange(1, 20):02d}号"
    )


def cn_date(d: date, pad: bool = True) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日" if pad else f"{d.year}年{d.month}月{d.day}日"


@dataclass
class Deal:
    seller: str
    seller_person: bool
    seller_id: str
    seller_uscc: str
    buyers: list[str]
    buyer_ids: list[str]
    agent: str
    agent_id: str
    address: str
    area: Decimal
    inner: Decimal
    price: Decimal
    unit: Decimal
    signed: date
    city: str


def deal(
    rng: random.Random, *, person_seller: bool, buyers: int, city: str, round_price: bool = False
) -> Deal:
    areas = [a for a, n in AREAS.items() if n.startswith(city)]
    area = q2(Decimal(rng.randrange(5500, 14500)) / 100)
    inner = q2(area * Decimal("0.81"))
    if round_price:
        price = Decimal(rng.randrange(800, 4000) * 500)
    else:
        price = Decimal(rng.randrange(80, 400) * 10000 + rng.choice((0, 5000, 3800)))
    unit = q2(price / area)
    return Deal(
        seller=person(rng) if person_seller else company(rng, city, "房地产开发有限公司"),
        seller_person=person_seller,
        seller_id=id_number(rng, rng.choice(areas)),
        seller_uscc=credit_code(rng),
        buyers=[person(rng) for _ in range(buyers)],
        buyer_ids=[id_number(rng, rng.choice(areas)) for _ in range(buyers)],
        agent=person(rng),
        agent_id=id_number(rng, rng.choice(areas)),
        address=address(rng, AREAS[rng.choice(areas)]),
        area=area,
        inner=inner,
        price=price,
        unit=unit,
        signed=sign_date(rng),
        city=city,
    )


def contract_truth(d: Deal, usage: str = "residential", address: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "buyer_names": d.buyers,
        "buyer_id_numbers": d.buyer_ids,
        "seller": d.seller,
        "area_m2": str(d.area),
        "price_yuan": str(q2(d.price)),
        "usage": usage,
        "signed_on": d.signed.isoformat(),
    }
    if address:
        out["house_address"] = d.address
    return out


# ---------------------------------------------------------------------------------------------------
# Purchase contracts


def gf2014(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """National model contract GF-2014-0171 (pre-sale) / 0172 (completed home), chapters 1–3."""
    presale = variant == "0171"
    d = deal(rng, person_seller=False, buyers=rng.choice((1, 2)), city=rng.choice(("成都市", "武汉市")))
    L, R, lead = 25.0, 185.0, 7.6
    p1 = Page()
    p1.text(160, 16, f"GF—2014—{variant}", 9, "hei")
    p1.text(62, 34, "商品房买卖合同（" + ("预售" if presale else "现售") + "）示范文本", 17, "hei")
    y = 50.0
    p1.text(L, y, "合同编号：")
    p1.fill(L + 20, y, f"{d.city[:2]}{d.signed.year}{rng.randrange(10**6):06d}", 40, font="song")
    y += 12
    p1.text(88, y, "第一章  合同当事人", 12, "hei")
    y += 10

    def line(label: str, value: str, wid: float = 80, x: float = L) -> float:
        end = p1.text(x, y, label)
        return p1.fill(end + 1, y, value, wid)

    line("出卖人：", d.seller, 95)
    y += lead
    line("通讯地址：", long_address(rng, d.city)[:22], 95)
    y += lead
    line("营业执照注册号：", "/", 40)
    line("统一社会信用代码：", d.seller_uscc, 48, x=L + 72)
    y += lead
    line("企业资质证书号：", f"建开企〔{d.signed.year - 6}〕{rng.randrange(1000, 9999)}号", 60)
    y += lead
    rep = person(rng)
    line("法定代表人：", rep, 30)
    line("联系电话：", phone(rng), 36, x=L + 72)
    y += lead
    line("委托代理人：", person(rng), 30)
    line("联系电话：", phone(rng), 36, x=L + 72)
    y += lead
    line("委托销售经纪机构：", company(rng, d.city, "房地产经纪有限公司"), 70)
    y += lead + 4
    agent_for = rng.randrange(len(d.buyers))
    for k, (name, idn) in enumerate(zip(d.buyers, d.buyer_ids, strict=True)):
        line("买受人：", name, 40)
        y += lead
        line("【法定代表人】【负责人】：", "/", 30)
        p1.text(L + 95, y, "【国籍】【√户籍所在地】：")
        p1.fill(L + 143, y, AREAS[idn[:6]][:3], 18)
        y += lead
        end = p1.text(L, y, "证件类型：【√居民身份证】【护照】【营业执照】【    】，证号：")
        p1.fill(end + 1, y, idn, 48)
        y += lead
        born = date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))
        x = p1.text(L, y, "出生日期：")
        x = p1.text(p1.fill(x, y, str(born.year), 14) + 0.5, y, "年")
        x = p1.text(p1.fill(x + 0.5, y, f"{born.month:02d}", 9) + 0.5, y, "月")
        x = p1.text(p1.fill(x + 0.5, y, f"{born.day:02d}", 9) + 0.5, y, "日，性别：")
        p1.fill(x, y, "女" if int(idn[16]) % 2 == 0 else "男", 10)
        y += lead
        line("通讯地址：", address(rng, AREAS[idn[:6]])[:20], 90)
        y += lead
        line("邮政编码：", f"{rng.randrange(100000, 999999)}", 22)
        line("联系电话：", phone(rng), 36, x=L + 72)
        y += lead
        if k == agent_for:
            line("【委托代理人】【√法定代理人】：", d.agent, 30)
            p1.text(L + 100, y, "【国籍】：")
            p1.fill(L + 118, y, "中国", 16)
            y += lead
            end = p1.text(L, y, "证件类型：【√居民身份证】【护照】【营业执照】【    】，证号：")
            p1.fill(end + 1, y, d.agent_id, 48)
            y += lead
            line("通讯地址：", address(rng, AREAS[d.agent_id[:6]])[:20], 90)
            y += lead
        y += 3
    p2 = Page()
    y = 28.0
    p2.text(80, y, "第二章  商品房基本状况", 12, "hei")
    y += 10
    p2.text(L, y, "第三条  商品房基本情况", 10.5, "hei")
    y += lead
    y = p2.flow(
        L,
        y,
        R,
        ["1. 该商品房的规划用途为【√住宅】【办公】【商业】【          】。"],
        indent=7,
        leading=lead,
    )
    floors = rng.randrange(18, 34)
    y = p2.flow(
        L,
        y,
        R,
        [
            "2. 该商品房所在建筑物的主体结构为",
            ("钢筋混凝土", 24),
            "，建筑总层数为",
            (str(floors), 10),
            "层，其中地上",
            (str(floors - 2), 10),
            "层，地下",
            ("2", 8),
            "层。",
        ],
        indent=7,
        leading=lead,
    )
    y = p2.flow(L, y, R, ["3. 该商品房坐落于", (d.address, 60), "。"], indent=7, leading=lead)
    word = "预测" if presale else "实测"
    y = p2.flow(
        L,
        y,
        R,
        [
            "4. 该商品房的房产测绘机构为",
            (company(rng, d.city, "测绘有限公司"), 50),
            f"，其{word}建筑面积共",
            (str(d.area), 18),
            "平方米，其中套内建筑面积",
            (str(d.inner), 18),
            "平方米，分摊共有建筑面积",
            (str(d.area - d.inner), 18),
            "平方米。该商品房层高为",
            ("2.90", 12),
            "米。",
        ],
        indent=7,
        leading=lead,
    )
    y += 4
    p2.text(86, y, "第三章  商品房价款", 12, "hei")
    y += 10
    p2.text(L, y, "第九条  计价方式与价款", 10.5, "hei")
    y += lead
    y = p2.flow(
        L, y, R, ["出卖人与买受人按照下列第", ("2", 8), "种方式计算该商品房价款："], indent=7, leading=lead
    )
    y = p2.flow(
        L,
        y,
        R,
        [
            "1. 按照套内建筑面积计算，该商品房单价为（人民币）每平方米",
            ("×", 22),
            "元，总价款为（人民币）",
            ("×", 30),
            "元（大写",
            ("×", 40),
            "元整）。",
        ],
        indent=7,
        leading=lead,
    )
    caps = amount_to_capitals(d.price).removesuffix("元整")
    y = p2.flow(
        L,
        y,
        R,
        [
            "2. 按照建筑面积计算，该商品房单价为（人民币）每平方米",
            (f"{d.unit:,.2f}", 22),
            "元，总价款为（人民币）",
            (f"{d.price:,.2f}", 30),
            "元（大写",
            (caps, 40),
            "元整）。",
        ],
        indent=7,
        leading=lead,
    )
    y = p2.flow(
        L,
        y,
        R,
        ["3. 按照套计算，该商品房总价款为（人民币）", ("×", 30), "元（大写", ("×", 40), "元整）。"],
        indent=7,
        leading=lead,
    )
    y += 10
    p2.text(L, y, "出卖人（签字或盖章）：")
    p2.text(112, y, "买受人（签字或盖章）：")
    y += lead
    p2.text(L, y, "【法定代表人】（签字或盖章）：")
    p2.text(112, y, "【委托代理人】【法定代理人】（签字或盖章）：")
    y += lead * 2
    x = p2.text(112, y, "签订时间：")
    x = p2.text(p2.fill(x + 1, y, str(d.signed.year), 16) + 0.5, y, "年")
    x = p2.text(p2.fill(x + 0.5, y, str(d.signed.month), 10) + 0.5, y, "月")
    p2.text(p2.fill(x + 0.5, y, str(d.signed.day), 10) + 0.5, y, "日")
    p2.items.append(Seal(55, y - 8, 19, d.seller, "合同专用章"))
    y += lead
    x = p2.text(112, y, "签订地点：")
    p2.fill(x + 1, y, d.city, 30)
    return (
        [p1, p2],
        contract_truth(d),
        f"GF-2014-{variant} 示范文本：合同当事人（含委托/法定代理人证号）、条款内面积与价款、三段式签订时间",
    )


def beijing(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """北京市存量房屋买卖合同（自行成交版）: 出卖人（甲方）/ 买受人（乙方）, co-owner and agents."""
    d = deal(rng, person_seller=True, buyers=1 if variant == "a" else 2, city="北京市")
    L, R, lead = 22.0, 188.0, 7.2
    p = Page()
    p.text(48, 26, "北京市存量房屋买卖合同（自行成交版）", 15, "hei")
    x = p.text(130, 38, "合同编号：", 9)
    p.text(x, 38, f"BJ-{d.signed:%Y}-{rng.randrange(10**5):05d}", 9)
    y = 50.0
    roles = (
        ("出卖人（甲方）：", "买受人（乙方）：")
        if variant == "a"
        else ("甲方（出卖人）：", "乙方（买受人）：")
    )

    def line(label: str, value: str, wid: float = 60, x: float = L) -> float:
        end = p.text(x, y, label)
        return p.fill(end + 1, y, value, wid)

    line(roles[0], d.seller, 36)
    p.text(L + 80, y, "【国籍】：中国")
    y += lead
    end = p.text(L, y, "证件类型：【√身份证】【护照】【营业执照】【    】  证件号码：")
    p.fill(end + 1, y, d.seller_id, 46)
    y += lead
    co = person(rng)
    line("共有权人：", co, 24)
    line("证件号码：", id_number(rng, d.seller_id[:6]), 46, x=L + 62)
    y += lead
    line("委托代理人：", person(rng), 24)
    line("证件号码：", id_number(rng, d.seller_id[:6]), 46, x=L + 62)
    y += lead
    line("联系电话：", phone(rng), 36)
    y += lead + 3
    for name, idn in zip(d.buyers, d.buyer_ids, strict=True):
        line(roles[1], name, 36)
        p.text(L + 80, y, "【国籍】：中国")
        y += lead
        end = p.text(L, y, "证件类型：【√身份证】【护照】【营业执照】【    】  证件号码：")
        p.fill(end + 1, y, idn, 46)
        y += lead
        line("通讯地址：", address(rng, AREAS[idn[:6]])[:18], 80)
        y += lead
    line("委托代理人：", d.agent, 24)
    line("证件号码：", d.agent_id, 46, x=L + 62)
    y += lead
    line("联系电话：", phone(rng), 36)
    y += lead + 3
    y = p.flow(
        L,
        y,
        R,
        [
            "根据《中华人民共和国民法典》《北京市城市房地产转让管理办法》及其他有关法律、法规的规定，甲、乙双方在平等、"
            "自愿、协商一致的基础上，就乙方购买甲方房屋事宜，订立本合同。"
        ],
        indent=7,
        leading=lead,
    )
    p.text(L, y, "第一条  房屋基本情况", 10.5, "hei")
    y += lead
    district = AREAS[d.buyer_ids[0][:6]][3:5] if False else rng.choice(("朝阳", "海淀"))
    bld, room = rng.randrange(1, 30), f"{rng.randrange(1, 25)}{rng.randrange(1, 4):02d}"
    y = p.flow(
        L,
        y,
        R,
        [
            "（一）甲方所售房屋（以下简称该房屋）坐落为：北京市【",
            district,
            "】区(县)【",
            rng.choice(("望京", "花家地", "双榆树")),
            "】小区(街道)【",
            str(bld),
            "】幢【    】座【",
            str(rng.randrange(1, 9)),
            "】号(楼)【",
            str(rng.randrange(1, 4)),
            "】单元【",
            room,
            "】号(室)；",
        ],
        indent=7,
        leading=lead,
    )
    y = p.flow(
        L,
        y,
        R,
        [
            "（二）该房屋规划设计用途为",
            ("住宅", 16),
            "，该房屋所在楼栋建筑总层数为",
            (str(rng.randrange(6, 28)), 10),
            "层；",
        ],
        indent=7,
        leading=lead,
    )
    y = p.flow(
        L,
        y,
        R,
        [
            "（三）该房屋建筑面积",
            (str(d.area), 18),
            "平方米，其中套内建筑面积",
            (str(d.inner), 18),
            "平方米；",
        ],
        indent=7,
        leading=lead,
    )
    p.text(L, y, "第三条  成交价格、付款方式及资金划转方式", 10.5, "hei")
    y += lead
    caps = amount_to_capitals(d.price)
    y = p.flow(
        L,
        y,
        R,
        [
            "（一）经买卖双方协商一致，该房屋成交价格为：人民币",
            (f"{d.price:,.2f}", 30),
            "元（大写：",
            (caps, 44),
            "），单价为每平方米",
            (f"{d.unit:,.2f}", 20),
            "元。",
        ],
        indent=7,
        leading=lead,
    )
    truth = contract_truth(d, address=False)
    if variant == "c":
        final = d.price - Decimal(rng.choice((20000, 50000, 80000)))
        y = p.flow(
            L,
            y,
            R,
            [
                "补充条款：经甲、乙双方再次协商，该房屋成交价格调整为人民币",
                (f"{final:,.2f}", 30),
                "元（大写：",
                (amount_to_capitals(final), 44),
                "），其余条款不变。",
            ],
            indent=7,
            leading=lead,
        )
        truth["price_yuan"] = str(q2(final))
    y += 12
    p.text(L, y, "甲方（签章）：")
    p.text(110, y, "乙方（签章）：")
    y += lead * 2
    x = p.text(L, y, "签订日期：")
    x = p.text(p.fill(x + 1, y, str(d.signed.year), 16) + 0.5, y, "年")
    x = p.text(p.fill(x + 0.5, y, f"{d.signed.month}", 10) + 0.5, y, "月")
    p.text(p.fill(x + 0.5, y, f"{d.signed.day}", 10) + 0.5, y, "日")
    return (
        [p],
        truth,
        "北京存量房自行成交版：出卖人（甲方）/甲方（出卖人）、共有权人与委托代理人各有证件号码、地址拆在【】内",
    )


def shanghai(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """上海市房地产买卖合同: 甲方（出卖人）, buyers in a label-above-value table, price in 万元."""
    d = deal(rng, person_seller=False, buyers=2 if variant == "a" else 1, city="上海市", round_price=True)
    L, R, lead = 22.0, 188.0, 7.4
    p = Page()
    p.text(66, 26, "上海市房地产买卖合同", 16, "hei")
    y = 44.0
    x = p.text(L, y, "甲方（出卖人）：")
    p.fill(x + 1, y, d.seller, 80)
    y += lead
    x = p.text(L, y, "统一社会信用代码：")
    p.fill(x + 1, y, d.seller_uscc, 48)
    y += lead
    x = p.text(L, y, "法定代表人：")
    rep = person(rng)
    x = p.fill(x + 1, y, rep, 24)
    x = p.text(x + 6, y, "身份证号码：")
    p.fill(x + 1, y, id_number(rng, "310115"), 46)
    y += lead + 2
    p.text(L, y, "乙方（买受人）：")
    y += 4
    cols = [("姓名/名称", 34), ("国籍", 18), ("证件名称", 26), ("证件号码", 50), ("联系电话", 38)]
    top = y
    row_h = 9.0
    xs = [L]
    for _, w in cols:
        xs.append(xs[-1] + w)
    rows = 1 + len(d.buyers)
    for r in range(rows + 1):
        p.rule(L, top + r * row_h, xs[-1], top + r * row_h)
    for xx in xs:
        p.rule(xx, top, xx, top + rows * row_h)
    for (title, w), xx in zip(cols, xs, strict=False):
        p.text(xx + (w - width_mm(title, 10.5)) / 2, top + 6.2, title, 10.5, "hei")
    for k, (name, idn) in enumerate(zip(d.buyers, d.buyer_ids, strict=True)):
        vals = [name, "中国", "居民身份证", idn, phone(rng)]
        for (_, w), xx, v in zip(cols, xs, vals, strict=False):
            p.text(
                xx + (w - width_mm(v, 10, "kai")) / 2, top + (k + 1) * row_h + 6.2, v, 10, "kai", color=BLUE
            )
    y = top + rows * row_h + 8
    x = p.text(L, y, "乙方代理人：")
    x = p.fill(x + 1, y, d.agent, 24)
    x = p.text(x + 6, y, "证件号码：")
    p.fill(x + 1, y, d.agent_id, 46)
    y += lead + 3
    y = p.flow(
        L,
        y,
        R,
        ["甲、乙双方在平等、自愿、协商一致的基础上，就乙方向甲方购买房地产签订本合同，以资共同信守。"],
        indent=7,
        leading=lead,
    )
    y = p.flow(
        L,
        y,
        R,
        [
            "第一条  乙方向甲方购买坐落在",
            (d.address, 64),
            "的房屋（以下简称该房地产）。该房地产用途为",
            ("住宅", 14),
            "，建筑面积为",
            (str(d.area), 18),
            "平方米，套内建筑面积为",
            (str(d.inner), 18),
            "平方米。",
        ],
        indent=0,
        leading=lead,
    )
    wan = (d.price / 10000).normalize()
    y = p.flow(
        L,
        y,
        R,
        [
            "第二条  甲、乙双方经协商一致，同意上述房地产转让价款共计人民币",
            (f"{wan:f}", 20),
            "万元（大写：",
            (amount_to_capitals(d.price), 44),
            "）。",
        ],
        indent=0,
        leading=lead,
    )
    y += 12
    p.text(L, y, "甲方（签章）：")
    p.text(110, y, "乙方（签章）：")
    y += lead * 2
    x = p.text(110, y, "签约日期：")
    x = p.text(x + 5, y, f"{d.signed.year}", font="kai", color=BLUE)
    x = p.text(x + 2, y, "年")
    x = p.text(x + 4, y, f"{d.signed.month}", font="kai", color=BLUE)
    x = p.text(x + 2, y, "月")
    x = p.text(x + 4, y, f"{d.signed.day}", font="kai", color=BLUE)
    p.text(x + 2, y, "日")
    p.items.append(Seal(45, y - 8, 19, d.seller, "合同专用章"))
    return (
        [p],
        contract_truth(d),
        "上海房地产买卖合同：甲方（出卖人）、乙方信息在表头在上的表格内、价款以万元计、签约日期留空填写",
    )


def summary_table(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """A deal summary as a bordered table, each label in the cell above its value."""
    d = deal(rng, person_seller=variant == "b", buyers=2, city=rng.choice(("成都市", "武汉市")))
    d.address = long_address(rng, AREAS[d.buyer_ids[0][:6]])
    p = Page()
    p.text(56, 30, "存量房买卖合同信息表（摘要）", 15, "hei")
    L, top, w = 20.0, 42.0, 170.0
    col = [L, L + 58, L + 112, L + w]
    label_h, val_h = 9.0, 16.0
    rows = [
        (["出卖人", "买受人", "买受人证件号码"], [[d.seller], d.buyers, d.buyer_ids]),
        (["房屋坐落", "建筑面积（平方米）", "成交总价（元）"], [None, [str(d.area)], [f"{d.price:,.2f}"]]),
        (
            ["合同签订日期", "规划用途", "大写"],
            [[cn_date(d.signed)], ["住宅"], [amount_to_capitals(d.price)]],
        ),
        (["委托代理人", "代理人证件号码", "联系电话"], [[d.agent], [d.agent_id], [phone(rng)]]),
    ]
    y = top
    for labels, values in rows:
        p.rule(L, y, L + w, y)
        for k, lb in enumerate(labels):
            p.text(col[k] + 2, y + 6.3, lb, 10.5, "hei")
        y += label_h
        p.rule(L, y, L + w, y, 0.15)
        for k, vals in enumerate(values):
            if vals is None:  # the address wraps inside its cell
                first, rest = d.address[:14], d.address[14:]
                p.text(col[k] + 2, y + 6.0, first, 10.5)
                p.text(col[k] + 2, y + 11.8, rest, 10.5)
                continue
            size = 9.5 if len(vals[0]) > 16 else 10.5
            for n, v in enumerate(vals):
                p.text(col[k] + 2, y + 6.0 + 5.4 * n, v, size)
        y += val_h
    p.rule(L, y, L + w, y)
    for xx in col:
        p.rule(xx, top, xx, y)
    p.text(L, y + 12, "以上信息与网签合同一致。", 10.5)
    truth = contract_truth(d)
    return (
        [p],
        truth,
        "摘要表：标签在上、值在下的表格，两位买受人及其证号叠在同一格，地址在格内折行，代理人证号在表内",
    )


# ---------------------------------------------------------------------------------------------------
# Business licences

SCOPES = [
    "房屋建筑工程施工总承包；市政公用工程施工；建筑装修装饰工程；钢结构工程；建筑劳务分包；建筑材料销售；"
    "工程技术咨询服务；机械设备租赁。（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    "许可项目：建设工程施工；建筑劳务分包；施工专业作业。一般项目：住宅室内装饰装修；园林绿化工程施工；"
    "土石方工程施工；建筑工程机械与设备租赁。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
]
TYPES = [
    "有限责任公司（自然人投资或控股）",
    "其他有限责任公司",
    "有限责任公司（非自然人投资或控股的法人独资）",
]


@dataclass
class Firm:
    name: str
    code: str
    rep: str
    address: str
    established: date
    capital: str
    region: str
    city: str


def firm(rng: random.Random) -> Firm:
    region = rng.choice(list(CITY))
    city = CITY[region]
    district = rng.choice([n for a, n in AREAS.items() if n.startswith(city)])
    return Firm(
        name=company(rng, city),
        code=credit_code(rng, region if region.endswith("00") and len(region) == 6 else "510100"),
        rep=person(rng),
        address=long_address(rng, district),
        established=date(2005, 1, 1) + timedelta(days=rng.randrange(18 * 365)),
        capital=rng.choice(("伍佰万元整", "壹仟万元整", "叁仟万元整", "贰仟伍佰万元整")),
        region=region,
        city=city,
    )


def licence_truth(f: Firm) -> dict[str, Any]:
    return {
        "name": f.name,
        "credit_code": f.code,
        "legal_representative": f.rep,
        "address": f.address,
        "established_on": f.established.isoformat(),
    }


def spaced(label: str) -> str:
    """名称 → 名　　称 (two-character labels spread to the width of four)."""
    return "\u3000\u3000".join(label) if len(label) == 2 else label


def wrap(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def licence2019(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """营业执照 2019 edition, landscape: code top left, QR top right, two columns, seal bottom right."""
    f = firm(rng)
    p = Page(297, 210)
    p.text(18, 22, "统一社会信用代码", 9, "hei")
    p.text(18, 29, f.code, 11, "hei")
    p.text(18, 35, f"证照编号：{rng.randrange(10**13, 10**14)}", 8)
    p.items.append(Qr(250, 14, 26, seed_of(f.code)))
    p.text(248, 44, "扫描二维码登录", 7)
    p.text(104, 40, "营  业  执  照", 26, "hei")
    p.text(136, 50, "（副    本）", 12, "hei")
    p.text(130, 57, f"副本编号：{rng.randrange(1, 3)}-1", 9)
    lead = 11.0
    lx, vx, rx, rvx = 30.0, 62.0, 160.0, 188.0
    y = 78.0
    scope = rng.choice(SCOPES)
    left = [
        ("名称", [f.name]),
        ("类型", [rng.choice(TYPES)]),
        ("法定代表人", [f.rep]),
        ("经营范围", wrap(scope, 22)),
    ]
    est = cn_date(f.established)
    right = [
        ("注册资本", [f"人民币{f.capital}"]),
        ("成立日期", [est]),
        ("营业期限", [f"{est} 至 长期"]),
        ("住所", wrap(f.address, 14)),
    ]
    for items, (x_l, x_v), step in ((left, (lx, vx), lead), (right, (rx, rvx), lead)):
        yy = y
        for label, lines in items:
            p.text(x_l, yy, spaced(label), 11, "hei")
            for k, s in enumerate(lines):
                p.text(x_v, yy + k * 6.2, s, 11)
            yy += step + (len(lines) - 1) * 6.2
    p.text(196, 170, "登记机关", 12, "hei")
    issued = f.established + timedelta(days=rng.randrange(200, 3000))
    p.text(200, 184, f"{issued.year} 年 {issued.month:02d} 月 {issued.day:02d} 日", 11)
    p.items.append(Seal(219, 176, 17, f"{f.city}市场监督管理局"))
    p.text(40, 196, "国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", 8)
    p.text(160, 196, "市场主体应当于每年1月1日至6月30日通过国家企业信用信息公示系统报送公示年度报告。", 7)
    return (
        [p],
        licence_truth(f),
        "2019 版营业执照：横版两栏、标签字间留空无冒号、经营范围与住所折行、登记机关日期上盖章",
    )


def licence_copy(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """A certified copy: label：value lines, a 与原件核对一致 stamp right beside the address."""
    f = firm(rng)
    p = Page()
    p.text(80, 34, "营业执照（复印件）", 16, "hei")
    L, lead = 28.0, 10.0
    y = 54.0
    first, second = f.address[:18], f.address[18:]
    items = [
        ("统一社会信用代码：", f.code),
        ("名　　称：", f.name),
        ("类　　型：", rng.choice(TYPES)),
        ("法定代表人：", f.rep),
        ("注册资本：", f"人民币{f.capital}"),
        ("成立日期：", cn_date(f.established, pad=False)),
        ("营业期限：", f"{cn_date(f.established, pad=False)}至长期"),
        ("住　　所：", first),
    ]
    if variant == "c":
        f.name = f.name.removesuffix("有限公司") + "建筑劳务分包有限公司"
        items[1] = ("名　　称：", f.name[:12])
    for label, value in items:
        x = p.text(L, y, label, 11)
        p.text(x + 1, y, value, 11)
        if variant == "c" and value == f.name[:12]:
            y += 6.2
            p.text(L, y, f.name[12:], 11)  # the wrap goes back to the margin, under the label
        y += lead
    p.text(L + width_mm("住　　所：", 11) + 1, y - lead + 6.2, second, 11)
    y += 2
    for k, s in enumerate(wrap("经营范围：" + rng.choice(SCOPES), 34)):
        p.text(L, y + k * 6.5, s, 10.5)
    # the copy stamp: a red box with its own text, just right of and below the address
    sx, sy = 130.0, 120.0 if variant == "a" else 112.0
    for a, b, c_, d_ in (
        (sx, sy, sx + 46, sy),
        (sx, sy + 16, sx + 46, sy + 16),
        (sx, sy, sx, sy + 16),
        (sx + 46, sy, sx + 46, sy + 16),
    ):
        p.items.append(Rule(a, b, c_, d_, 0.6, RED))
    p.items.append(Text(sx + 4, sy + 7, "与原件核对一致", 12, "hei", RED))
    p.items.append(Text(sx + 8, sy + 13, "经办人：" + person(rng), 9, "kai", RED))
    p.items.append(Seal(160, 200, 18, f.name))
    p.text(110, 230, "（加盖公章）", 10.5)
    return [p], licence_truth(f), "营业执照复印件：住所两行、“与原件核对一致”红框章紧挨住所"


def licence_table(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    """Licence details as a table, each label in the cell above its value."""
    f = firm(rng)
    p = Page()
    p.text(62, 30, "企业营业执照信息（摘录）", 15, "hei")
    L, w, top = 22.0, 166.0, 44.0
    col = [L, L + 83, L + w]
    rows: list[tuple[list[str], list[list[str]]]] = [
        (["名称", "统一社会信用代码"], [wrap(f.name, 16), [f.code]]),
        (["法定代表人", "成立日期"], [[f.rep], [cn_date(f.established)]]),
        (["类型", "注册资本"], [[rng.choice(TYPES)], [f"人民币{f.capital}"]]),
        (["住所", "登记机关"], [wrap(f.address, 17), [f"{f.city}市场监督管理局"]]),
    ]
    y = top
    for labels, values in rows:
        p.rule(L, y, L + w, y)
        for k, lb in enumerate(labels):
            p.text(col[k] + 2, y + 6.3, lb, 10.5, "hei")
        y += 9
        p.rule(L, y, L + w, y, 0.15)
        for k, vals in enumerate(values):
            for n, v in enumerate(vals):
                p.text(col[k] + 2, y + 6.0 + 5.6 * n, v, 10.5)
        y += 16
    p.rule(L, y, L + w, y)
    for xx in col:
        p.rule(xx, top, xx, y)
    p.text(L, y + 10, f"打印日期：{cn_date(date(2026, 11, rng.randrange(1, 28)))}", 10)
    return [p], licence_truth(f), "营业执照信息表：标签在上、值在下，名称与住所在格内折行"


# ---------------------------------------------------------------------------------------------------
# Safety permits

PROVINCES = [
    ("鄂", "湖北省", "420000"),
    ("川", "四川省", "510000"),
    ("京", "北京市", "110000"),
    ("沪", "上海市", "310000"),
]
BRACKETS = [
    ("（", "）", "【", "】"),
    ("(", ")", "[", "]"),
    ("（", "）", "〔", "〕"),
    ("（", "）", "（", "）"),
]
DASHES = ["—", "-", "～", "至", "——"]


@dataclass
class Permit:
    number: str
    holder: str
    principal: str
    address: str
    start: date
    end: date
    issued: date
    authority: str


def permit(rng: random.Random, k: int) -> Permit:
    short, prov, _ = rng.choice(PROVINCES)
    o1, c1, o2, c2 = BRACKETS[k % len(BRACKETS)]
    digits = rng.choice((3, 4, 5, 6))
    year = rng.randrange(2004, 2020)
    number = (
        f"{o1}{short}{c1}JZ安许证字{o2}{year}{c2}{rng.randrange(10 ** (digits - 1), 10**digits):0{digits}d}"
    )
    start = date(2023, 1, 1) + timedelta(days=rng.randrange(900))
    end = date(start.year + 3, start.month, start.day) - timedelta(days=1)
    city = rng.choice(list(CITY.values()))
    return Permit(
        number=number,
        holder=company(rng, city),
        principal=person(rng),
        address=address(rng, rng.choice(list(AREAS.values()))),
        start=start,
        end=end,
        issued=start - timedelta(days=rng.randrange(3, 20)),
        authority=f"{prov}住房和城乡建设厅",
    )


def permit_truth(pm: Permit) -> dict[str, Any]:
    return {
        # as the extractors return text: full-width forms of ASCII characters made half-width
        "permit_no": "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in pm.number),
        "enterprise_name": pm.holder,
        "valid_from": pm.start.isoformat(),
        "valid_to": pm.end.isoformat(),
    }


def permit_header(p: Page, pm: Permit) -> float:
    p.text(70, 40, "安全生产许可证", 22, "hei")
    p.text(92, 50, "（副  本）", 12, "hei")
    x = p.text(118, 62, "编号：", 11)
    p.text(x, 62, pm.number, 11)
    return 80.0


def permit_dash(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    pm = permit(rng, int(variant))
    p = Page()
    y = permit_header(p, pm)
    dash = DASHES[int(variant) % len(DASHES)]
    pad = int(variant) % 2 == 0
    items = [
        ("单位名称：", pm.holder),
        ("主要负责人：", pm.principal),
        ("单位地址：", pm.address),
        ("经济类型：", "有限责任公司"),
        ("许可范围：", "建筑施工"),
        ("有效期：", f"{cn_date(pm.start, pad)}{dash}{cn_date(pm.end, pad)}"),
    ]
    for label, value in items:
        x = p.text(30, y, label, 12)
        p.text(x + 1, y, value, 12)
        y += 13
    y += 20
    p.text(110, y, f"发证机关：{pm.authority}", 12)
    p.text(110, y + 13, f"发证日期：{cn_date(pm.issued, pad)}", 12)
    p.items.append(Seal(150, y + 4, 19, pm.authority))
    return [p], permit_truth(pm), f"安全生产许可证：有效期用“{dash}”连接，编号括号样式 {variant}"


def permit_blanks(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    pm = permit(rng, int(variant) + 1)
    p = Page()
    y = permit_header(p, pm)
    for label, value in (
        ("单位名称：", pm.holder),
        ("主要负责人：", pm.principal),
        ("单位地址：", pm.address),
        ("许可范围：", "建筑施工"),
    ):
        x = p.text(30, y, label, 12)
        p.fill(x + 1, y, value, 100, 12)
        y += 13
    x = p.text(30, y, "有效期：自", 12)
    for value, unit, wid in (
        (str(pm.start.year), "年", 16),
        (str(pm.start.month), "月", 9),
        (str(pm.start.day), "日至", 9),
        (str(pm.end.year), "年", 16),
        (str(pm.end.month), "月", 9),
        (str(pm.end.day), "日止", 9),
    ):
        x = p.fill(x + 1, y, value, wid, 12)
        x = p.text(x + 1, y, unit, 12)
    y += 33
    p.text(110, y, f"发证机关：{pm.authority}", 12)
    x = p.text(110, y + 13, "发证日期：", 12)
    p.text(x, y + 13, f"{pm.issued.year} 年 {pm.issued.month} 月 {pm.issued.day} 日", 12)
    return [p], permit_truth(pm), "安全生产许可证：有效期“自__年__月__日至__年__月__日止”填写在下划线上"


def permit_table(rng: random.Random, variant: str) -> tuple[list[Page], dict[str, Any], str]:
    pm = permit(rng, int(variant) + 2)
    p = Page()
    p.text(60, 30, "安全生产许可证信息（摘录）", 15, "hei")
    L, w, top = 22.0, 166.0, 44.0
    col = [L, L + 83, L + w]
    rows = [
        (["许可证编号", "单位名称"], [[pm.number], wrap(pm.holder, 15)]),
        (["主要负责人", "单位地址"], [[pm.principal], wrap(pm.address, 15)]),
        (["有效期", "发证日期"], [[cn_date(pm.start) + " 至", cn_date(pm.end)], [cn_date(pm.issued)]]),
        (["发证机关", "许可范围"], [[pm.authority], ["建筑施工"]]),
    ]
    y = top
    for labels, values in rows:
        p.rule(L, y, L + w, y)
        for k, lb in enumerate(labels):
            p.text(col[k] + 2, y + 6.3, lb, 10.5, "hei")
        y += 9
        p.rule(L, y, L + w, y, 0.15)
        for k, vals in enumerate(values):
            for n, v in enumerate(vals):
                p.text(col[k] + 2, y + 6.0 + 5.6 * n, v, 10.5)
        y += 16
    p.rule(L, y, L + w, y)
    for xx in col:
        p.rule(xx, top, xx, y)
    return [p], permit_truth(pm), "安全生产许可证信息表：标签在上、值在下，有效期两端叠在一格"


# ---------------------------------------------------------------------------------------------------

Builder = Callable[[random.Random, str], tuple[list[Page], dict[str, Any], str]]
PLAN: list[tuple[str, str, str, Builder, str, list[str]]] = [
    # kind, layout, prefix, builder, variant, formats (pdf = text layer; jpg/png = scan)
    ("purchase_contract", "gf2014", "lc-gf", gf2014, "0171", ["pdf", "jpg"]),
    ("purchase_contract", "gf2014", "lc-gf", gf2014, "0172", ["pdf", "png"]),
    ("purchase_contract", "beijing", "lc-bj", beijing, "a", ["pdf", "png"]),
    ("purchase_contract", "beijing", "lc-bj", beijing, "b", ["pdf"]),
    ("purchase_contract", "beijing", "lc-bj", beijing, "c", ["pdf", "jpg"]),
    ("purchase_contract", "shanghai", "lc-sh", shanghai, "a", ["pdf", "jpg"]),
    ("purchase_contract", "shanghai", "lc-sh", shanghai, "b", ["pdf"]),
    ("purchase_contract", "summary_table", "lc-st", summary_table, "a", ["pdf", "jpg"]),
    ("purchase_contract", "summary_table", "lc-st", summary_table, "b", ["pdf"]),
    ("business_licence", "licence2019", "lb-19", licence2019, "a", ["pdf", "jpg"]),
    ("business_licence", "licence2019", "lb-19", licence2019, "b", ["pdf", "png"]),
    ("business_licence", "certified_copy", "lb-cc", licence_copy, "a", ["pdf", "jpg"]),
    ("business_licence", "certified_copy", "lb-cc", licence_copy, "b", ["pdf"]),
    ("business_licence", "certified_copy", "lb-cc", licence_copy, "c", ["pdf", "jpg"]),
    ("business_licence", "table_above", "lb-ta", licence_table, "a", ["pdf", "png"]),
    ("business_licence", "table_above", "lb-ta", licence_table, "b", ["pdf", "jpg"]),
    ("safety_permit", "dash_range", "ls-dr", permit_dash, "0", ["pdf", "jpg"]),
    ("safety_permit", "dash_range", "ls-dr", permit_dash, "1", ["pdf"]),
    ("safety_permit", "dash_range", "ls-dr", permit_dash, "2", ["pdf"]),
    ("safety_permit", "dash_range", "ls-dr", permit_dash, "3", ["pdf", "jpg"]),
    ("safety_permit", "fill_blanks", "ls-fb", permit_blanks, "0", ["pdf", "jpg"]),
    ("safety_permit", "fill_blanks", "ls-fb", permit_blanks, "1", ["pdf"]),
    ("safety_permit", "table_above", "ls-ta", permit_table, "0", ["pdf", "png"]),
    ("safety_permit", "table_above", "ls-ta", permit_table, "1", ["pdf"]),
]


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    entries: list[dict[str, Any]] = []
    for kind, layout, prefix, builder, variant, formats in PLAN:
        base = f"{prefix}-{variant}"
        rng = random.Random(seed_of(base))
        pages, truth_fields, description = builder(rng, variant)
        folder = OUT / kind
        folder.mkdir(parents=True, exist_ok=True)
        pdf_path = folder / f"{base}.pdf"
        write_pdf(pages, pdf_path, description)
        for fmt in formats:
            doc_id = base if fmt == "pdf" else f"{base}-scan"
            dpi = None if fmt == "pdf" else rng.choice((150, 200))
            degradations: list[str] = []
            path = pdf_path
            if fmt != "pdf":
                images, degradations = scan(pdf_path, dpi or 200, rng)
                path = folder / f"{doc_id}.{fmt}"
                if len(images) > 1:
                    _multi_pdf(images, path, dpi or 200)
                elif fmt == "jpg":
                    images[0].save(path, "JPEG", quality=78, dpi=(dpi, dpi))
                else:
                    images[0].convert("L").quantize(16).save(path, "PNG", optimize=True, dpi=(dpi, dpi))
                if len(images) > 1:
                    path = path.with_suffix(".pdf")
            truth = {
                "kind": kind,
                "fields": truth_fields,
                "readable": True,
                "layout": layout,
                "format": "pdf" if path.suffix == ".pdf" else fmt,
                "dpi": dpi,
                "pages": len(pages),
                "text_layer": fmt == "pdf",
                "degradations": degradations,
                "description": description,
            }
            truth_path = folder / f"{doc_id}.truth.json"
            truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            entries.append(
                {
                    "id": doc_id,
                    "kind": kind,
                    "path": str(path.relative_to(OUT)),
                    "truth": str(truth_path.relative_to(OUT)),
                    "format": truth["format"],
                    "readable": True,
                    "layout": layout,
                    "dpi": dpi,
                    "pages": len(pages),
                    "text_layer": fmt == "pdf",
                    "description": description,
                }
            )
    index = {
        "description": "Tuning documents in real-world layouts (samples/documents/layouts.py); same format "
        "as "
        "samples/documents/index.json, paths relative to this folder.",
        "documents": entries,
    }
    (OUT / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"{len(entries)} documents, {size / 2**20:.1f} MiB in {OUT}")


def _multi_pdf(images: list[Image.Image], path: Path, dpi: int) -> None:
    """A multi-page scan: JPEG pages in a PDF without a text layer (path gets the .pdf suffix)."""
    buf = io.BytesIO()
    fixed = time.strptime("2026-01-01", "%Y-%m-%d")  # a fixed date: two runs give the same bytes
    images[0].save(
        buf,
        "PDF",
        resolution=dpi,
        save_all=True,
        append_images=images[1:],
        quality=78,
        creationDate=fixed,
        modDate=fixed,
    )
    path.with_suffix(".pdf").write_bytes(buf.getvalue())


if __name__ == "__main__":
    main()
