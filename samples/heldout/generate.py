# ruff: noqa: E501  (Chinese model-contract text is kept on one line per clause)
"""Held-out evaluation documents: purchase contracts, business licences and safety permits laid out
after the public national and city models, rendered with fonts and defects the tuning samples do not
use. Used only to measure the extractors, never to tune them (see README.md).

    .venv/bin/python samples/heldout/generate.py      # about 2 minutes on 2 cores

Every random choice is seeded (per document by its id), so two runs give the same documents.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from certs import licence, permit_number, safety_permit  # noqa: E402
from contracts import Built, Deal, beijing_secondhand, info_form, national_model, shanghai_secondhand  # noqa: E402
from data import (  # noqa: E402
    PEOPLE,
    PROJECTS,
    ROADS,
    Pools,
    credit_code,
    developers,
    enterprises,
    houses,
    permits,
    person,
    rand_date,
)
from render import photo, photocopy, render, scan, write_image_pdf, write_text_pdf  # noqa: E402

KIND_OF = {
    "national_model": "purchase_contract",
    "secondhand": "purchase_contract",
    "info_form": "purchase_contract",
    "phone_photo": "purchase_contract",
    "licence_2019": "business_licence",
    "safety_permit": "safety_permit",
}


@dataclass
class Spec:
    id: str
    family: str
    layout: str  # builder: presale, completed, beijing, shanghai, form, licence, licence_copy, permit, permit_land
    fmt: str  # pdf-text, pdf-scan, tiff-jpeg, tiff-g4, jpeg, png, photo
    dpi: int = 200
    buyers: int = 1
    agent: bool = False
    readable: bool = True
    bad: str = ""  # how an unreadable document was spoiled
    opts: dict[str, Any] = field(default_factory=dict)


def specs() -> list[Spec]:
    s: list[Spec] = []
    nm = [
        ("presale", "pdf-text", 0, 1, False),
        ("presale", "pdf-scan", 200, 2, True),
        ("presale", "tiff-jpeg", 200, 1, False),
        ("presale", "pdf-scan", 150, 1, True),
        ("presale", "tiff-g4", 300, 2, False),
        ("completed", "pdf-text", 0, 2, False),
        ("completed", "pdf-scan", 200, 1, True),
        ("completed", "tiff-g4", 300, 1, False),
        ("completed", "pdf-scan", 150, 2, False),
        ("completed", "pdf-text", 0, 1, True),
    ]
    for i, (lay, fmt, dpi, nb, ag) in enumerate(nm, 1):
        s.append(Spec(f"nm-{i:02d}", "national_model", lay, fmt, dpi, nb, ag))
    s.append(Spec("nm-11", "national_model", "presale", "pdf-scan", 100, 1, False, False, "blur"))
    sh = [
        ("beijing", "pdf-scan", 200, 1, False),
        ("beijing", "pdf-text", 0, 2, True),
        ("beijing", "tiff-jpeg", 150, 1, True),
        ("beijing", "pdf-scan", 200, 2, False),
        ("beijing", "tiff-g4", 300, 1, False),
        ("beijing", "pdf-text", 0, 1, False),
        ("shanghai", "pdf-scan", 200, 1, False),
        ("shanghai", "pdf-text", 0, 2, False),
        ("shanghai", "tiff-jpeg", 200, 2, True),
        ("shanghai", "pdf-scan", 150, 1, True),
        ("shanghai", "pdf-text", 0, 1, False),
        ("shanghai", "tiff-g4", 300, 2, False),
    ]
    for i, (lay, fmt, dpi, nb, ag) in enumerate(sh, 1):
        s.append(Spec(f"sh-{i:02d}", "secondhand", lay, fmt, dpi, nb, ag))
    fo = [
        ("jpeg", 200, 1),
        ("png", 150, 2),
        ("tiff-g4", 300, 1),
        ("pdf-text", 0, 2),
        ("jpeg", 150, 2),
        ("pdf-scan", 200, 1),
        ("jpeg", 200, 2),
        ("png", 200, 1),
    ]
    for i, (fmt, dpi, nb) in enumerate(fo, 1):
        s.append(Spec(f"if-{i:02d}", "info_form", "form", fmt, dpi, nb, i % 3 == 0))
    s.append(Spec("if-09", "info_form", "form", "jpeg", 200, 2, False, False, "lowres"))
    ph = [
        ("form", 1, 0),
        ("form", 2, 90),
        ("form", 1, 0),
        ("form", 2, 180),
        ("form", 1, 270),
        ("beijing", 1, 0),
        ("shanghai", 2, 0),
        ("beijing", 2, 180),
        ("shanghai", 1, 90),
    ]
    for i, (lay, nb, turn) in enumerate(ph, 1):
        s.append(Spec(f"ph-{i:02d}", "phone_photo", lay, "photo", 200, nb, i % 4 == 1, opts={"turn": turn}))
    s.append(Spec("ph-10", "phone_photo", "form", "photo", 200, 1, False, False, "dark", opts={"turn": 0}))
    bl = [
        ("licence", "jpeg", 200),
        ("licence", "pdf-text", 0),
        ("licence", "png", 150),
        ("licence", "jpeg", 150),
        ("licence", "pdf-scan", 200),
        ("licence", "pdf-text", 0),
        ("licence_copy", "jpeg", 200),
        ("licence_copy", "tiff-g4", 300),
        ("licence_copy", "pdf-scan", 150),
    ]
    for i, (lay, fmt, dpi) in enumerate(bl, 1):
        s.append(Spec(f"bl-{i:02d}", "licence_2019", lay, fmt, dpi))
    s.append(Spec("bl-10", "licence_2019", "licence", "jpeg", 150, readable=False, bad="blur"))
    s.append(Spec("bl-11", "licence_2019", "licence_copy", "jpeg", 200, readable=False, bad="dark"))
    sp = [
        ("permit", "jpeg", 200),
        ("permit_land", "pdf-text", 0),
        ("permit", "png", 150),
        ("permit_land", "jpeg", 150),
        ("permit", "pdf-text", 0),
        ("permit", "tiff-jpeg", 200),
        ("permit_land", "pdf-scan", 200),
        ("permit", "jpeg", 300),
        ("permit_land", "png", 200),
    ]
    for i, (lay, fmt, dpi) in enumerate(sp, 1):
        s.append(Spec(f"sp-{i:02d}", "safety_permit", lay, fmt, dpi))
    s.append(Spec("sp-10", "safety_permit", "permit", "jpeg", 200, readable=False, bad="lowres"))
    s.append(Spec("sp-11", "safety_permit", "permit_land", "jpeg", 150, readable=False, bad="washed"))
    return s


# ---------------------------------------------------------------------------------------------
# Deals

_ADDR = re.compile(r"成都市(.+?(?:新区|区|县))(.+?)(\d+)栋(\d+)单元(\d+)号")


class World:
    def __init__(self) -> None:
        self.pools = Pools()
        self.devs = developers()
        self.houses = houses()
        random.Random("heldout-houses").shuffle(self.houses)
        self.ents = enterprises()
        self.ent_by_code = {e.credit_code: e for e in self.ents}
        self.permits = [p for p in permits() if p["holder_id"] in self.ent_by_code]

    def deal(self, rng: random.Random, secondhand: bool, n_buyers: int, agent: bool, wan: bool = False) -> Deal:
        P = self.pools
        if n_buyers == 2:
            a, b = P.take(P.couples)[0]
            buyers = [person(rng, a), person(rng, b)]
            buyers[1].address = buyers[0].address
            buyers[1].postcode = buyers[0].postcode
        else:
            buyers = [person(rng, P.take(P.singles)[0])]
        buyer_agent = person(rng, P.take(P.anyone)[0]) if agent else None
        signed = rand_date(rng, date(2026, 8, 3), date(2026, 11, 12))
        extras: dict[str, Any] = {}
        if secondhand:
            h = None
            for cand in self.houses:
                if (
                    cand["owner_id_number"] in PEOPLE
                    and cand["owner_id_number"] not in P.used
                    and _ADDR.match(cand["address"])
                ):
                    h = cand
                    break
            if h is None:
                h = self.houses[rng.randrange(len(self.houses))]
            P.used.add(h["owner_id_number"])
            m = _ADDR.match(h["address"])
            assert m is not None, h["address"]
            district, road, building, unit, room = m.groups()
            area = Decimal(h["area_m2"])
            seller = person(rng, h["owner_id_number"])
            co = person(rng, P.take(P.anyone)[0]) if rng.random() < 0.45 else None
            s_agent = person(rng, P.take(P.anyone)[0]) if rng.random() < 0.3 else None
            unit_price = Decimal(rng.randrange(9000, 26000, 100))
            price = (area * unit_price).quantize(Decimal("1"), ROUND_HALF_UP)  # whole yuan
            if wan:  # a price agreed in 万元: whole 万 or to the hundred yuan (113.46万元)
                step = Decimal("1E+4") if rng.random() < 0.5 else Decimal("1E+2")
                price = (area * unit_price).quantize(step, ROUND_HALF_UP)
            unit_price = (price / area).quantize(Decimal("0.01"), ROUND_HALF_UP)
            extras.update(
                cert_no=h["cert_no"],
                registered_on=date.fromisoformat(h["registered_on"]),
                wan=wan,
                fixtures=Decimal(rng.choice([0, 20000, 50000, 80000])),
                deposit=Decimal(rng.choice([20000, 50000, 100000])),
                deliver_on=signed + timedelta(days=rng.randrange(30, 90)),
                storeys=rng.randrange(6, 34),
                declared_on=signed + timedelta(days=rng.randrange(5, 30)),
                seller_phone=seller.phone,
            )
            floor = int(room[:-2]) if len(room) > 2 else 1
            inner = (area * Decimal(str(rng.uniform(0.78, 0.88)))).quantize(Decimal("0.01"))
            return Deal(
                buyers,
                seller.name,
                seller.id_number,
                seller,
                "",
                s_agent,
                buyer_agent,
                co,
                district,
                road,
                building,
                unit,
                room,
                floor,
                area,
                inner,
                unit_price,
                price,
                1,
                signed,
                f"CL{signed:%Y%m}{rng.randrange(10**5):05d}",
                extras=extras,
            )
        dev = rng.choice(self.devs)
        district = rng.choice(sorted(ROADS))
        road = rng.choice(ROADS[district]) + f"{rng.randrange(10, 2000)}号"
        storeys = rng.randrange(11, 34)
        floor = rng.randrange(2, storeys)
        room = f"{floor}{rng.randrange(1, 7):02d}"
        area = Decimal(str(round(rng.uniform(58, 168), 2 if rng.random() < 0.7 else 0))).quantize(
            Decimal("0.01")
        )
        inner = (area * Decimal(str(rng.uniform(0.78, 0.87)))).quantize(Decimal("0.01"))
        method = rng.choice([2, 2, 2, 1, 3])
        unit_price = Decimal(rng.randrange(9800, 32000, rng.choice([1, 100, 100])))
        if method == 3:
            price = (area * unit_price).quantize(Decimal("1000"))
        else:
            price = ((inner if method == 1 else area) * unit_price).quantize(Decimal("0.01"))
        s_agent = person(rng, P.take(P.anyone)[0]) if rng.random() < 0.6 else None
        rep = PEOPLE[P.take(P.anyone)[0]]["name"]
        broker = rng.random() < 0.4
        extras.update(
            seller_address=f"成都市{rng.choice(sorted(ROADS))}{rng.choice(['天府大道北段', '人民南路四段', '蜀都大道'])}{rng.randrange(1, 999)}号",
            seller_post="610041",
            seller_phone=f"028-{rng.randrange(10**7, 10**8)}",
            qualification=f"川建房开字〔{rng.randrange(2008, 2022)}〕{rng.randrange(100, 9999)}号",
            land_cert=f"川（{rng.randrange(2018, 2024)}）成都市不动产权第{rng.randrange(10**6, 10**7)}号",
            land_area=f"{rng.randrange(20000, 90000)}.{rng.randrange(10, 99)}",
            plan_permit=f"建字第510100{rng.randrange(2019, 2025)}{rng.randrange(10**5):05d}号",
            build_permit=f"5101002{rng.randrange(10**10):010d}",
            sale_permit=(
                f"蓉预售字第{rng.randrange(2022, 2026)}{rng.randrange(1000, 9999)}号"
                if rng.random() < 0.5
                else f"川（{rng.randrange(2022, 2026)}）成都市不动产权第{rng.randrange(10**6, 10**7)}号"
            ),
            completed_on=signed - timedelta(days=rng.randrange(60, 400)),
            surveyor=rng.choice(
                ["成都市房产测绘研究院", "四川省川建勘察设计院有限公司", "成都天府测绘有限公司"]
            ),
            storeys=storeys,
            basement=rng.randrange(1, 3),
            height=rng.choice(["2.90", "3.00", "3.05"]),
            deliver_on=date(rng.choice([2027, 2028]), rng.randrange(1, 13), rng.randrange(1, 29)),
            declared_on=signed + timedelta(days=rng.randrange(5, 30)),
        )
        if broker:
            extras.update(
                broker="成都链家置业顾问有限公司",
                broker_address="成都市高新区天府大道中段1388号",
                broker_code=credit_code(rng),
                broker_filing=f"成房经备字{rng.randrange(1000, 9999)}号",
            )
        return Deal(
            buyers,
            dev,
            credit_code(rng),
            None,
            rep,
            s_agent,
            buyer_agent,
            None,
            district,
            road,
            str(rng.randrange(1, 21)),
            str(rng.randrange(1, 4)),
            room,
            floor,
            area,
            inner,
            unit_price,
            price,
            method,
            signed,
            f"YS{signed:%Y}{rng.randrange(10**7):07d}",
            project=rng.choice(PROJECTS),
            extras=extras,
        )


# ---------------------------------------------------------------------------------------------


def fonts_for(rng: random.Random, text_pdf: bool) -> tuple[str, str]:
    if text_pdf:
        return rng.choice([("song", "kai"), ("hei", "kai"), ("song", "kai"), ("kai", "song")])
    return rng.choice(
        [
            ("song", "kai"),
            ("nserif", "kai"),
            ("hei", "kai"),
            ("nsans", "kai"),
            ("song", "kai"),
            ("nserif", "song"),
        ]
    )


def build(spec: Spec, world: World, rng: random.Random) -> tuple[Built, str]:
    text_pdf = spec.fmt == "pdf-text"
    f = fonts_for(rng, text_pdf)
    lay = spec.layout
    if lay in ("presale", "completed", "beijing", "shanghai", "form"):
        second = lay in ("beijing", "shanghai") or (lay == "form" and rng.random() < 0.5)
        wan = lay == "shanghai" and rng.random() < 0.65  # Shanghai-style prices often in 万元
        d = world.deal(rng, second, spec.buyers, spec.agent, wan)
        if lay in ("presale", "completed"):
            b = national_model(d, rng, lay == "presale", f)
        elif lay == "beijing":
            b = beijing_secondhand(d, rng, f)
        elif lay == "shanghai":
            b = shanghai_secondhand(d, rng, f)
        else:
            b = info_form(d, rng, f)
        desc = (
            f"{'二手房' if d.seller_person else '新建商品房'}，买受人 {'、'.join(x.name for x in d.buyers)}"
        )
        return b, desc
    if lay.startswith("licence"):
        e = world.ents[int(spec.id[3:]) * 7 % len(world.ents)]
        b = licence(e, rng, "copy" if lay == "licence_copy" else "original", f)
        return b, f"营业执照（{'复印件' if lay == 'licence_copy' else '原件'}），{e.name}"
    # permits: the registry's numbers, printed with their own brackets; a few from other provinces
    n = int(spec.id[3:])
    row = world.permits[(n * 5) % len(world.permits)]
    e = world.ent_by_code.get(row["holder_id"]) or world.ents[0]
    m = re.match(r"\((.)\)JZ安许证字\[(\d{4})\](\d+)", row["cert_no"])
    assert m is not None
    prov, year, serial = m.group(1), int(m.group(2)), m.group(3)
    style = rng.randrange(5)
    if n in (4, 8):
        prov, serial = (
            rng.choice(["鄂", "渝", "湘", "黔"]),
            f"{rng.randrange(10**6):06d}"[: rng.choice([3, 4, 5, 6])],
        )
        year = rng.randrange(2004, 2025)
        year = 2005 if n == 4 else year
    number = permit_number(prov, year, serial, style) if n % 3 else row["cert_no"]
    start, end = date.fromisoformat(row["issued_on"]), date.fromisoformat(row["expires_on"])
    issued = start - timedelta(days=rng.randrange(2, 20))
    b = safety_permit(e, number, start, end, issued, rng, f, lay == "permit_land")
    return b, f"安全生产许可证，{e.name}"


def _multiply(img: Image.Image, over: Image.Image) -> Image.Image:
    a = (
        np.asarray(img.convert("RGB"), dtype=np.float32)
        * np.asarray(over.convert("RGB"), dtype=np.float32)
        / 255
    )
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def spoil(img: Image.Image, how: str, rng: np.random.Generator, log: list[str]) -> Image.Image:
    from PIL import ImageFilter

    if how == "blur":
        log.append("blur:7.0")
        return img.filter(ImageFilter.GaussianBlur(7.0))
    if how == "lowres":
        w, h = img.size
        small = img.resize((max(w // 9, 1), max(h // 9, 1)), Image.BILINEAR)
        log.append("downsampled:1/9")
        return small.resize((w, h), Image.NEAREST)
    if how == "dark":
        a = np.asarray(img.convert("L"), dtype=np.float32)
        a = np.asarray(
            Image.fromarray(a.astype(np.uint8)).filter(ImageFilter.GaussianBlur(4.5)), dtype=np.float32
        )
        a = a * 0.08 + 10 + rng.normal(0, 16, a.shape)
        log += ["blur:4.5", "dark:0.08", "noise:16"]
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if how == "washed":
        a = np.asarray(img.convert("L"), dtype=np.float32)
        a = 255 - (255 - a) * 0.07 + rng.normal(0, 5, a.shape)
        log += ["washed_out:0.07", "noise:5"]
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    raise ValueError(how)


def materialise(spec: Spec, built: Built, out: Path, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    log: list[str] = []
    ext = {
        "pdf-text": "pdf",
        "pdf-scan": "pdf",
        "tiff-jpeg": "tif",
        "tiff-g4": "tif",
        "jpeg": "jpg",
        "png": "png",
        "photo": "jpg" if len(built.pages) == 1 else "pdf",
    }[spec.fmt]
    path = out / f"{spec.id}.{ext}"
    if spec.fmt == "pdf-text":
        write_text_pdf([*built.pages], str(path), spec.id)
        if built.after:
            log.append("stamp_over_text")
        return {"path": path, "format": "pdf", "dpi": None, "text_layer": True, "degradations": log}
    images = []
    fmt_name = {
        "pdf-scan": "pdf",
        "tiff-jpeg": "tiff",
        "tiff-g4": "tiff",
        "jpeg": "jpeg",
        "png": "png",
        "photo": "jpeg",
    }[spec.fmt]
    quality = int(rng.integers(55, 86))
    for i, pg in enumerate(built.pages):
        plog: list[str] = []
        img = render(pg, spec.dpi)
        if built.after:
            img = photocopy(img, rng, plog)
            img = _multiply(img, render(built.after[i], spec.dpi))
            plog.append("stamp_after_copy")
        if spec.fmt == "photo":
            img = photo(
                img,
                rng,
                plog,
                tilt=float(rng.uniform(5, 25)),
                long_side=int(rng.integers(1200, 2001)),
                turn=int(spec.opts.get("turn", 0)),
                blur=float(rng.uniform(0.5, 1.3)),
                dark=0.0,
            )
            if spec.bad:
                img = spoil(img, spec.bad, rng, plog)
        else:
            if not built.after:
                img = scan(
                    img,
                    rng,
                    plog,
                    tone=spec.fmt != "tiff-g4",
                    angle=float(rng.uniform(-2, 2)),
                    blur=float(rng.uniform(0.2, 0.9)) * spec.dpi / 200,
                    noise=float(rng.uniform(1, 5)),
                    grey=spec.fmt in ("tiff-jpeg", "tiff-g4") or rng.random() < 0.3,
                    contrast=float(rng.uniform(0.85, 1.1)),
                    edges=rng.random() < 0.25,
                )
            if spec.bad:
                img = spoil(img, spec.bad, rng, plog)
        if spec.fmt == "tiff-g4":
            g = np.asarray(img.convert("L"))
            img = Image.fromarray(((g > 165) * 255).astype(np.uint8)).convert("1")
            plog.append("bilevel")
        images.append(img)
        if i == 0:
            log.extend(plog)
    if spec.fmt in ("jpeg", "photo") and len(images) == 1:
        images[0].convert("RGB" if images[0].mode != "L" else "L").save(
            path, "JPEG", quality=quality, optimize=True
        )
        log.append(f"jpeg:q{quality}")
    elif spec.fmt == "png":
        img = images[0].convert("L").quantize(16)
        img.save(path, "PNG", optimize=True)
        log.append("png:16greys")
    elif spec.fmt == "tiff-g4":
        images[0].save(
            path, save_all=True, append_images=images[1:], compression="group4", dpi=(spec.dpi, spec.dpi)
        )
    elif spec.fmt == "tiff-jpeg":
        ims = [im.convert("L") for im in images]
        ims[0].save(
            path,
            save_all=True,
            append_images=ims[1:],
            compression="jpeg",
            quality=quality,
            dpi=(spec.dpi, spec.dpi),
        )
        log.append(f"jpeg:q{quality}")
    else:  # scanned PDF, or a PDF of phone photos
        dpis = [spec.dpi if spec.fmt != "photo" else im.width / (210 / 25.4) for im in images]
        write_image_pdf(
            [im.convert("RGB") if im.mode not in ("L", "RGB") else im for im in images],
            str(path),
            dpis,
            quality,
        )
        log.append(f"jpeg:q{quality}")
        fmt_name = "pdf"
    return {
        "path": path,
        "format": fmt_name,
        "dpi": spec.dpi if spec.fmt != "photo" else None,
        "text_layer": False,
        "degradations": log,
    }


def main(only: list[str] | None = None) -> None:
    """Write every document, the index and the cases; with `only` (ids), just those documents (a
    preview: nothing is removed and the index is not rewritten)."""
    world = World()
    for fam in KIND_OF:
        if not only:
            shutil.rmtree(HERE / fam, ignore_errors=True)
        (HERE / fam).mkdir(parents=True, exist_ok=True)
    index = []
    for spec in specs():
        if only and spec.id not in only:
            build(spec, world, random.Random(f"heldout:{spec.id}"))  # keeps the draws of later documents
            continue
        rng = random.Random(f"heldout:{spec.id}")
        built, desc = build(spec, world, rng)
        seed = int.from_bytes(spec.id.encode(), "big") % (2**32)
        out = HERE / spec.family
        m = materialise(spec, built, out, seed)
        kind = KIND_OF[spec.family]
        field_pages = {k: sorted({b[0] for b in v}) for k, v in built.boxes.items()}
        layout = built.layout if spec.fmt != "photo" else f"photo:{built.layout}"
        truth = {
            "kind": kind,
            "fields": built.fields,
            "readable": spec.readable,
            "family": spec.family,
            "layout": layout,
            "format": m["format"],
            "dpi": m["dpi"],
            "pages": len(built.pages),
            "degradations": m["degradations"],
            "text_layer": m["text_layer"],
            "field_pages": field_pages,
            "labels": built.labels,
            "printed": {k: v for k, v in built.printed.items() if v is not None},
            "boxes": built.boxes,
            "box_units": "mm on the page as laid out, origin top left (before scan or photo distortion)",
            "stamp_over_fields": built.stamp_over_fields,
            "description": desc + ("；不可读" if not spec.readable else ""),
        }
        if spec.bad:
            truth["unreadable_because"] = spec.bad
        tpath = out / f"{spec.id}.truth.json"
        tpath.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        index.append(
            {
                "id": spec.id,
                "kind": kind,
                "family": spec.family,
                "layout": layout,
                "path": str(m["path"].relative_to(HERE)),
                "truth": str(tpath.relative_to(HERE)),
                "format": m["format"],
                "dpi": m["dpi"],
                "readable": spec.readable,
                "pages": len(built.pages),
            }
        )
        print(
            f"{spec.id:7s} {spec.family:15s} {layout:22s} {m['format']:5s} {len(built.pages)}p  {m['path'].stat().st_size // 1024} KiB",
            flush=True,
        )
    if only:
        return
    (HERE / "index.json").write_text(
        json.dumps(
            {
                "description": "Held-out evaluation set: independently generated documents, used only to measure the extractors "
                "(never to tune them). Paths are relative to this folder. See README.md.",
                "documents": index,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    write_cases()


CASE_DOCUMENTS = ["nm-01", "nm-04", "nm-07", "sh-03", "sh-10", "if-03", "if-06", "ph-03"]
"""Held-out contracts that deed-tax cases are built on: one buyer, single, no house, no online filing."""


def write_cases() -> None:
    """Deed-tax cases decided from a held-out contract (no online filing), with the expected decision:
    approved, the rate of the only home (1 % up to 140 m², 1.5 % above), the tax to the fen."""
    out = HERE / "cases"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    index = {e["id"]: e for e in json.loads((HERE / "index.json").read_text(encoding="utf-8"))["documents"]}
    expected: dict[str, Any] = {}
    for n, doc_id in enumerate(CASE_DOCUMENTS, 1):
        e = index[doc_id]
        truth = json.loads((HERE / e["truth"]).read_text(encoding="utf-8"))
        f = truth["fields"]
        assert e["readable"] and len(f["buyer_id_numbers"]) == 1, doc_id
        buyer = PEOPLE[f["buyer_id_numbers"][0]]
        assert buyer["name"] == f["buyer_names"][0] and buyer["status"] == "normal"
        signed = date.fromisoformat(f["signed_on"])
        submitted = signed + timedelta(days=random.Random(f"heldout-case:{doc_id}").randrange(6, 25))
        case_id = f"ho-dt-{n:02d}-{doc_id}"
        area, price = Decimal(f["area_m2"]), Decimal(f["price_yuan"])
        rate = Decimal("0.01") if area <= 140 else Decimal("0.015")
        case = {
            "item": "deed-tax",
            "case_id": case_id,
            "submitted_at": f"{submitted.isoformat()}T10:{n * 7 % 60:02d}:00+08:00",
            "applicant": {"kind": "person", "name": buyer["name"], "id_number": buyer["id_number"]},
            "form": {
                "house_address": f["house_address"],
                "area_m2": f["area_m2"],
                "price_yuan": f["price_yuan"],
                "usage": "residential",
                "contract_signed_on": f["signed_on"],
                "contract_filing_no": None,
                "spouse_id_number": None,
                "declared_family_houses": 0,
            },
            "documents": [{"kind": "purchase_contract", "path": f"../{e['path']}"}],
            "commitments": ["family_housing_truthful"],
        }
        (out / f"{case_id}.json").write_text(
            json.dumps(case, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        expected[case_id] = {
            "title": f"无网签备案，提交购房合同（留出集 {doc_id}，{e['family']}）：从合同读取交易信息，与申报一致，家庭唯一住房，秒批",
            "outcome": "approved",
            "outputs": {
                "tax_rate": str(rate),
                "tax_base": f["price_yuan"],
                "tax_amount": str((price * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)),
                "relief": "only_home",
                "family_houses": 0,
            },
            "failed": [],
            "unknown": [],
            "missing_materials": [],
        }
    (out / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--cases"]:  # only the cases, from the documents already written
        write_cases()
    else:
        main(sys.argv[1:] or None)
