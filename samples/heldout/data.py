# ruff: noqa: E501  (Chinese model-contract text is kept on one line per clause)
"""People, enterprises, permits and houses for the held-out documents, taken from samples/shared-data,
plus value formatting (Chinese dates, 大写 amounts, ID/credit-code checksums)."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from stdnum.cn import uscc

SHARED = Path(__file__).resolve().parent.parent / "shared-data"


def rows(name: str) -> list[dict[str, str]]:
    with (SHARED / f"{name}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass
class Person:
    name: str
    id_number: str
    gender: str
    birth: date
    phone: str = ""
    address: str = ""
    postcode: str = ""


@dataclass
class Enterprise:
    name: str
    credit_code: str
    legal_rep: str
    address: str
    established_on: date | None
    capital_yuan: Decimal | None


PEOPLE = {r["id_number"]: r for r in rows("population")}
_OWNERS = {r["owner_id_number"] for r in rows("real_estate")}
_MARRIED = [r for r in rows("marriage") if r["status"] == "married"]
_IN_MARRIAGE = {r["id_number"] for r in rows("marriage")} | {r["spouse_id_number"] for r in rows("marriage")}
_FILED = {r["buyer_id_number"] for r in rows("contract_filings")}
_KIN = {r["parent_id_number"] for r in rows("kinship")} | {r["child_id_number"] for r in rows("kinship")}
ROADS = {
    "锦江区": ["东大街下东大街段", "锦华路一段", "三圣乡红砂村", "静安路"],
    "青羊区": ["光华大道一段", "清江东路", "青华路", "贝森北路"],
    "金牛区": ["蜀汉路", "营门口路", "金府路", "一环路北三段"],
    "武侯区": ["佳灵路", "武侯大道双楠段", "晋阳路", "航空路"],
    "成华区": ["建设北路二段", "双林路", "府青路三段", "龙潭总部城"],
    "高新区": ["天府三街", "吉泰五路", "剑南大道中段", "益州大道北段"],
    "双流区": ["白河路", "双楠大道", "棠湖北路", "空港二路"],
    "郫都区": ["望丛中路", "犀浦镇百草路", "德源北路", "红光大道"],
    "龙泉驿区": ["驿都大道", "龙都南路", "十陵镇青龙大道", "航天北路"],
    "温江区": ["凤溪大道南段", "光华大道三段", "柳城大道", "涌泉街道永和路"],
    "天府新区": ["麓山大道二段", "正兴大道", "宁波路东段", "科学城中路"],
    "新都区": ["蜀龙大道中段", "新都大道", "大丰街道华美路", "斑竹园镇三河路"],
}
PROJECTS = [
    "熙悦府",
    "云璟台",
    "锦城华府",
    "天府时代",
    "麓湖澜庭",
    "青城雅苑",
    "望江壹号",
    "东原印",
    "锦江观澜",
    "蓝光雍锦湾",
    "保利玥府",
    "金茂府",
    "华润二十四城",
    "中海左岸",
    "龙湖春江天玺",
]


def age_on(p: dict[str, str], on: date) -> int:
    b = date.fromisoformat(p["birth_date"])
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def person(rng: random.Random, id_number: str) -> Person:
    r = PEOPLE[id_number]
    dist = rng.choice(sorted(ROADS))
    return Person(
        r["name"],
        id_number,
        r["gender"],
        date.fromisoformat(r["birth_date"]),
        phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
        address=f"成都市{dist}{rng.choice(ROADS[dist])}{rng.randrange(1, 900)}号{rng.randrange(1, 30)}栋"
        f"{rng.randrange(1, 4)}单元{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}号",
        postcode=f"6100{rng.randrange(10, 99)}",
    )


class Pools:
    """Deterministic draws without repetition: single buyers (no house, not married, no online filing,
    adult), married couples (neither holds a house or a filing), and anyone adult (agents, co-owners)."""

    def __init__(self, seed: str = "heldout-pools") -> None:
        rng = random.Random(seed)
        ref = date(2026, 10, 1)
        normal = [r for r in PEOPLE.values() if r["status"] == "normal" and age_on(r, ref) >= 18]
        self.singles = [
            r["id_number"]
            for r in normal
            if r["id_number"] not in _OWNERS | _IN_MARRIAGE | _FILED | _KIN and age_on(r, ref) >= 22
        ]
        seen: set[str] = set()
        self.couples: list[tuple[str, str]] = []
        for m in _MARRIED:
            a, b = m["id_number"], m["spouse_id_number"]
            if a in seen or b in seen or a not in PEOPLE or b not in PEOPLE:
                continue
            seen |= {a, b}
            if all(PEOPLE[x]["status"] == "normal" for x in (a, b)):
                self.couples.append((a, b))
        self.anyone = [r["id_number"] for r in normal if r["id_number"] not in _IN_MARRIAGE]
        for lst in (self.singles, self.couples, self.anyone):
            rng.shuffle(lst)
        # couples with neither a house nor an online filing first (cases can be built on them)
        self.couples.sort(key=lambda c: bool(set(c) & (_OWNERS | _FILED)))
        self.used: set[str] = set()

    def take(self, pool: list, n: int = 1) -> list:
        out = []
        for x in pool:
            ids = x if isinstance(x, tuple) else (x,)
            if not set(ids) & self.used:
                out.append(x)
                self.used |= set(ids)
                if len(out) == n:
                    return out
        # pools exhausted: reuse (still deterministic)
        return [pool[i % len(pool)] for i in range(n)]


def enterprises() -> list[Enterprise]:
    out = []
    for r in rows("enterprises"):
        rep = PEOPLE.get(r["legal_rep_id_number"], {}).get("name", "")
        out.append(
            Enterprise(
                r["name"],
                r["credit_code"],
                rep,
                r["address"],
                date.fromisoformat(r["established_on"]) if r["established_on"] else None,
                Decimal(r["registered_capital_yuan"]) if r["registered_capital_yuan"] else None,
            )
        )
    return out


def permits() -> list[dict[str, str]]:
    return [r for r in rows("certificates") if r["kind"] == "safety_permit"]


def developers() -> list[str]:
    return sorted({r["seller_name"] for r in rows("contract_filings") if "公司" in r["seller_name"]})


def houses() -> list[dict[str, str]]:
    return [r for r in rows("real_estate") if r["status"] == "active" and r["usage"] == "residential"]


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def credit_code(rng: random.Random, area: str = "510100") -> str:
    while True:
        body = "91" + area + "MA" + "".join(rng.choice(_USCC_CHARS) for _ in range(7))
        code = body + uscc.calc_check_digit(body)
        if uscc.is_valid(code):
            return code


# ---------------------------------------------------------------------------------------------
# Formatting

CN_DIGITS = "〇一二三四五六七八九"


def cn_number(n: int) -> str:
    if n < 10:
        return "〇一二三四五六七八九"[n] if n else "〇"
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


def cn_date(d: date) -> str:
    return "".join(CN_DIGITS[int(c)] for c in str(d.year)) + f"年{cn_number(d.month)}月{cn_number(d.day)}日"


def date_parts(d: date, style: str) -> tuple[str, str, str]:
    """(year, month, day) as written into three blanks: 'pad' 2026/09/01, 'plain' 2026/9/1, 'cn' 二〇二六/九/一."""
    if style == "cn":
        return "".join(CN_DIGITS[int(c)] for c in str(d.year)), cn_number(d.month), cn_number(d.day)
    if style == "pad":
        return str(d.year), f"{d.month:02d}", f"{d.day:02d}"
    return str(d.year), str(d.month), str(d.day)


def ymd(d: date, style: str = "pad") -> str:
    y, m, dd = date_parts(d, style)
    return f"{y}年{m}月{dd}日"


_CAP = "零壹贰叁肆伍陆柒捌玖"


def _four(n: int) -> str:
    out, zero = "", False
    for p, u in ((3, "仟"), (2, "佰"), (1, "拾"), (0, "")):
        d = n // 10**p % 10
        if d:
            if zero and out:
                out += "零"
            out += _CAP[d] + u
            zero = False
        else:
            zero = True
    return out


def capitals(value: Decimal) -> str:
    """1950000 → 壹佰玖拾伍万元整; 1414102.51 → 壹佰肆拾壹万肆仟壹佰零贰元伍角壹分."""
    cents = int((value * 100).to_integral_value(ROUND_HALF_UP))
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    groups = []
    n = yuan
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    pending_zero = False
    for gi in reversed(range(len(groups))):
        g = groups[gi]
        if g == 0:
            pending_zero = bool(out)
            continue
        if out and (g < 1000 or pending_zero):
            out += "零"
        out += _four(g) + ["", "万", "亿"][gi]
        pending_zero = False
    out = (out or "零") + "元"
    if not jiao and not fen:
        return out + "整"
    if jiao:
        out += _CAP[jiao] + "角"
    elif fen:
        out += "零"
    if fen:
        out += _CAP[fen] + "分"
    return out


def money(value: Decimal, sep: bool = True) -> str:
    return f"{value:,.2f}" if sep else f"{value:.2f}"


def two(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


def rand_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))
