#!/usr/bin/env python3
"""Generate miaopi's sample shared data, cases and expected decisions (样例数据生成脚本).

Writes, under the folder holding this script:

- ``shared-data/*.csv``: the shared registries (docs/architecture.md) used by the sample items;
- ``deed-tax/cases/*.json``, ``safety-permit-renewal/cases/*.json`` and
  ``graduate-hukou/cases/*.json``: sample cases, with placeholder PDFs for the documents they carry
  (graduate-hukou is built last, with a random generator of its own, so that the other items' files
  do not change);
- ``<item>/expected.json``: the expected decision of every case.

The expected decisions are computed by a small, independent oracle at the end of this file which
reads the CSVs and cases back from disk and applies the rules in plain Python.  Every case is
also built with the outcome and the failing/unknown conditions its author intended; the script
stops if the oracle disagrees, so a data-construction slip cannot silently change what a case tests.

Deterministic: a fixed seed, fixed dates, no clock.  Standard library + python-stdnum only.

    .venv/bin/python samples/generate.py
"""

from __future__ import annotations

import calendar
import csv
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from stdnum.cn import ric, uscc

HERE = Path(__file__).resolve().parent
SHARED = HERE / "shared-data"
SEED = 20261120
PDF_BYTES = b"%PDF-1.4\n%placeholder\n"
BROKEN_PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R"  # truncated: cannot be read
DOCS = HERE / "documents"
DOC_FOLDERS = {"pc": "purchase_contract", "bl": "business_licence", "sp": "safety_permit"}


def doc_ref(doc_id: str) -> str:
    """Path of a sample document (samples/documents) relative to a case file."""
    folder = DOCS / DOC_FOLDERS[doc_id[:2]]
    match = sorted(p for p in folder.glob(f"{doc_id}.*") if not p.name.endswith(".truth.json"))
    if not match:
        raise SystemExit(
            f"sample document {doc_id} not found in {folder} (run samples/documents/generate.py)"
        )
    return f"../../documents/{folder.name}/{match[0].name}"


def doc_truth(case_dir: Path, rel: str) -> dict | None:
    """The ground truth of a document a case lists: its fields when readable, {} when unreadable,
    None when the file cannot be read at all (a broken file)."""
    path = (case_dir / rel).resolve()
    if path.name.startswith("broken-"):
        return None
    truth = json.loads(
        path.with_name(path.name.rsplit(".", 1)[0] + ".truth.json").read_text(encoding="utf-8")
    )
    return truth["fields"] if truth["readable"] else {}


DEED_S = date(2026, 11, 20)  # the usual submission day of the samples (ages are counted to it)

COLUMNS: dict[str, list[str]] = {
    "population": ["id_number", "name", "gender", "birth_date", "status"],
    "marriage": ["id_number", "spouse_id_number", "status", "registered_on"],
    "kinship": ["parent_id_number", "child_id_number"],
    "real_estate": ["cert_no", "owner_id_number", "address", "area_m2", "usage", "status", "registered_on"],
    "contract_filings": [
        "filing_no",
        "buyer_id_number",
        "seller_name",
        "address",
        "area_m2",
        "price_yuan",
        "signed_on",
        "usage",
    ],
    "enterprises": [
        "credit_code",
        "name",
        "legal_rep_id_number",
        "status",
        "registered_capital_yuan",
        "established_on",
        "address",
    ],
    "certificates": ["cert_no", "kind", "holder_id", "holder_name", "issued_on", "expires_on", "status"],
    "credit_records": ["subject_id", "kind", "reason", "listed_on", "lifted_on"],
    "safety_accidents": ["credit_code", "occurred_on", "level", "fatalities"],
    "social_insurance": ["id_number", "employer_credit_code", "month"],
}

# --------------------------------------------------------------------------------------------
# Date helpers (shared by the builders and the oracle: they are plain calendar arithmetic)
# --------------------------------------------------------------------------------------------


def add_months(d: date, n: int) -> date:
    """d moved by n calendar months, same day-of-month clamped to the month's end."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def add_years(d: date, n: int) -> date:
    return add_months(d, 12 * n)


def age_on(birth: date, on: date) -> int:
    """Full years of age on a day (a birthday counts on the day itself)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def months_before(s: date, n: int = 3) -> list[str]:
    """The n calendar months preceding s's month, as YYYY-MM, oldest first."""
    return [add_months(s.replace(day=1), -k).strftime("%Y-%m") for k in range(n, 0, -1)]


def iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


# --------------------------------------------------------------------------------------------
# The world: registry rows, with builders for people, houses and enterprises
# --------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范廖石金贾夏付方邹熊白孟秦邱侯江尹薛段雷龙黎史陶贺毛顾龚邵万向汤"
)
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林峰建国志文东海晨阳毅锐松成荣彬"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀燕玲桂丹萍红琳雪梅莉婷倩颖佳欣悦怡雯蕾璐晶洁慧蓉瑶琴"
# Chengdu county codes; an ID is valid only with a code that existed in the holder's birth year.
REGION_CODES = [
    "510104",
    "510105",
    "510106",
    "510107",
    "510108",
    "510112",
    "510113",
    "510114",
    "510115",
    "510116",
    "510117",
    "510121",
    "510122",
    "510124",
    "510129",
    "510131",
    "510181",
    "510182",
    "510183",
    "510184",
    "510102",
    "510103",
    "510111",
    "510120",
]
DISTRICT_ROADS = {
    "锦江区": ["春熙路", "东大街下东大街段", "红星路三段", "静安路", "锦华路一段", "三圣街道幸福路"],
    "青羊区": ["光华大道一段", "青华路", "蜀都大道少城路", "西御河沿街", "清江东路"],
    "金牛区": ["一环路北三段", "交大路", "蜀汉路", "金府路", "营门口路"],
    "武侯区": ["人民南路四段", "科华北路", "玉林南路", "武侯大道铁佛段", "佳灵路"],
    "成华区": ["建设路", "二环路东二段", "双林路", "府青路二段", "崔家店路"],
    "高新区": ["天府大道中段", "益州大道北段", "锦城大道", "天府三街", "府城大道西段", "交子大道"],
    "天府新区": ["华阳大道一段", "正兴大道", "天府大道南段", "麓山大道二段"],
    "双流区": ["白河路", "航空港大道", "藏卫路南二段"],
    "郫都区": ["望丛中路", "德源大道", "红光大道"],
}
DEVELOPERS = [
    "成都天府锦程置业有限公司",
    "四川蓉城安居房地产开发有限公司",
    "成都西岭置地有限公司",
    "成都望江华府房地产开发有限公司",
    "四川青城山水置业有限公司",
    "成都锦官新城房地产开发有限公司",
]
ENTERPRISE_WORDS = [
    "蜀安",
    "锦鸿",
    "川达",
    "天诚",
    "岷江",
    "蓉信",
    "西蜀",
    "华构",
    "青城",
    "巴山",
    "宏基",
    "金诚",
    "锦程",
    "浣花",
    "瑞丰",
    "嘉陵",
    "沱江",
    "鼎盛",
    "恒达",
    "筑安",
    "鑫源",
    "泰和",
    "合力",
    "兴蜀",
    "宏图",
    "久远",
    "蓉欣",
    "川渝",
    "天顺",
    "博远",
    "广润",
    "汇通",
    "众鑫",
    "峨岷",
    "龙腾",
    "诚毅",
    "安泰",
    "信达",
    "华川",
    "卓越",
    "正德",
    "拓新",
    "建元",
    "中茂",
    "天和",
    "明远",
    "隆盛",
    "坤元",
    "永固",
    "匠心",
    "立诚",
]
SUFFIX_BY_CATEGORY = {
    "general_contracting": ["建设工程有限公司", "建筑工程有限公司", "建设集团有限公司"],
    "specialty_contracting": [
        "机电安装工程有限公司",
        "钢结构工程有限公司",
        "建筑装饰工程有限公司",
        "市政工程有限公司",
    ],
    "labour_subcontracting": ["建筑劳务有限公司", "建筑劳务分包有限公司"],
}


@dataclass
class Staff:
    role: str  # principal | project_manager | safety_officer
    name: str
    id_number: str
    cert_no: str
    cert_kind: str
    cert_holder: str  # holder_id written on the certificate (normally the person's own id)
    cert_holder_name: str
    cert_issued: date
    cert_expires: date
    cert_status: str = "valid"
    insured_by: str = ""  # employer credit code in social insurance (default: the enterprise)
    skip_months: set[str] = field(default_factory=set)
    write_cert: bool = True


@dataclass
class Enterprise:
    credit_code: str
    name: str
    category: str
    grade: str
    address: str
    established: date
    capital: str
    status: str
    permit_no: str
    permit_issued: date
    permit_expires: date
    permit_status: str
    qual_no: str
    qual_issued: date
    qual_expires: date
    qual_status: str
    staff: list[Staff]
    registered: bool = True  # write an enterprises row
    write_permit: bool = True
    permit_holder: str = ""  # default: this enterprise
    write_qual: bool = True


class World:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.rows: dict[str, list[dict[str, object]]] = {name: [] for name in COLUMNS}
        self.names: dict[str, str] = {}  # id_number -> name (also for people left out of population)
        self.births: dict[str, date] = {}
        self.used_names: set[str] = set()
        self.used_ids: set[str] = set()
        self.used_words: set[str] = set()
        self.counters: Counter[str] = Counter()

    # -- numbers ---------------------------------------------------------------------------
    def next_no(self, key: str, start: int = 1) -> int:
        self.counters[key] += 1
        return start + self.counters[key] - 1

    def new_id_number(self, birth: date, gender: str) -> str:
        codes = [c for c in REGION_CODES if ric.is_valid(self._ric(c, birth, 10))]
        region = self.rng.choice(codes[:8] if len(codes) >= 8 else codes)
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if gender == "男" else 0)  # 17th digit: odd = male
            number = self._ric(region, birth, seq)
            if number not in self.used_ids:
                assert ric.is_valid(number), number
                self.used_ids.add(number)
                return number

    @staticmethod
    def _ric(region: str, birth: date, seq: int) -> str:
        body = f"{region}{birth:%Y%m%d}{seq:03d}"
        return body + ric.calc_check_digit(body + "0")  # calc_check_digit ignores the last character

    def new_credit_code(self) -> str:
        """A unified social credit code: 9 (市场监管) 1 (企业) + 成都 region + organisation code + check."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            body8 = "MA6" + "".join(self.rng.choice(alphabet) for _ in range(5))
            # GB 11714 organisation code check character
            values = [int(c) if c.isdigit() else ord(c) - 55 for c in body8]
            rest = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
            org = body8 + {10: "X", 11: "0"}.get(rest, str(rest))
            region = self.rng.choice(["510100", "510104", "510105", "510106", "510107", "510108", "510116"])
            code = f"91{region}{org}"
            code += uscc.calc_check_digit(code)
            if code not in self.used_ids:
                assert uscc.is_valid(code), code
                self.used_ids.add(code)
                return code

    # -- words -----------------------------------------------------------------------------
    def new_name(self, gender: str) -> str:
        chars = MALE_CHARS if gender == "男" else FEMALE_CHARS
        while True:
            given = "".join(self.rng.choice(chars) for _ in range(self.rng.choice((1, 2, 2))))
            name = self.rng.choice(SURNAMES) + given
            if name not in self.used_names and len(set(given)) == len(given):
                self.used_names.add(name)
                return name

    def new_address(self, *, home: bool = True) -> str:
        district = self.rng.choice(sorted(DISTRICT_ROADS))
        road = self.rng.choice(DISTRICT_ROADS[district])
        n = self.rng.randrange(1, 1500)
        if not home:
            return f"成都市{district}{road}{n}号"
        return (
            f"成都市{district}{road}{n}号{self.rng.randrange(1, 12)}栋"
            f"{self.rng.randrange(1, 4)}单元{self.rng.randrange(2, 33)}{self.rng.randrange(1, 5):02d}号"
        )

    def new_enterprise_name(self, category: str) -> str:
        while True:
            word = self.rng.choice(ENTERPRISE_WORDS)
            if word not in self.used_words:
                self.used_words.add(word)
                city = self.rng.choice(("四川", "成都", "四川"))
                return f"{city}{word}{self.rng.choice(SUFFIX_BY_CATEGORY[category])}"

    def random_date(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange((end - start).days + 1))

    # -- people ----------------------------------------------------------------------------
    def person(
        self,
        *,
        gender: str | None = None,
        birth: date | None = None,
        age: int | None = None,
        status: str = "normal",
        registered: bool = True,
        name: str | None = None,
    ) -> str:
        gender = gender or self.rng.choice("男女")
        if birth is None:
            born_year = 2026 - (age if age is not None else self.rng.randrange(26, 58))
            birth = self.random_date(date(born_year, 1, 1), date(born_year, 10, 31))
        number = self.new_id_number(birth, gender)
        name = name or self.new_name(gender)
        self.names[number] = name
        self.births[number] = birth
        if registered:
            self.rows["population"].append(
                {
                    "id_number": number,
                    "name": name,
                    "gender": gender,
                    "birth_date": iso(birth),
                    "status": status,
                }
            )
        return number

    def couple(self, *, age: int | None = None, married_on: date | None = None) -> tuple[str, str]:
        """A married couple (husband, wife); the marriage is registered after both turned 22."""
        a = self.person(gender="男", age=age if age is not None else self.rng.randrange(30, 56))
        b = self.person(gender="女", age=age_on(self.births[a], DEED_S) - self.rng.randrange(0, 3))
        if married_on is None:
            earliest = max(date(2000, 1, 1), add_years(max(self.births[a], self.births[b]), 22))
            married_on = self.random_date(earliest, max(earliest, date(2024, 12, 31)))
        self.marry(a, b, on=married_on)
        return a, b

    def marry(self, a: str, b: str, *, on: date, status: str = "married") -> None:
        for x, y in ((a, b), (b, a)):
            self.rows["marriage"].append(
                {"id_number": x, "spouse_id_number": y, "status": status, "registered_on": iso(on)}
            )

    def child(self, *parents: str, birth: date | None = None, age: int | None = None) -> str:
        c = self.person(birth=birth, age=age)
        for p in parents:
            self.rows["kinship"].append({"parent_id_number": p, "child_id_number": c})
        return c

    def house(
        self,
        *owners: str,
        area: str | None = None,
        usage: str = "residential",
        status: str = "active",
    ) -> str:
        # registered once every owner was born (and adults once they were grown up)
        first = max(self.births[o].year + (1 if age_on(self.births[o], DEED_S) < 18 else 23) for o in owners)
        year = self.rng.randrange(min(max(2010, first), 2025), 2026)
        cert_no = (
            f"川({year})成都市不动产权第{self.next_no(f'estate{year}', 100001 + year * 7919 % 90000):07d}号"
        )
        area = area or f"{self.rng.randrange(60, 160)}.{self.rng.randrange(0, 100):02d}"
        address = self.new_address(home=usage == "residential")
        if usage != "residential":
            address += f"{self.rng.randrange(1, 30)}层{self.rng.randrange(1, 20):02d}号"
        registered = self.random_date(date(year, 1, 5), min(date(year, 12, 25), DEED_S - timedelta(days=60)))
        for owner in owners:
            self.rows["real_estate"].append(
                {
                    "cert_no": cert_no,
                    "owner_id_number": owner,
                    "address": address,
                    "area_m2": area,
                    "usage": usage,
                    "status": status,
                    "registered_on": iso(registered),
                }
            )
        return cert_no

    # -- enterprises -----------------------------------------------------------------------
    def enterprise(
        self,
        *,
        category: str,
        grade: str,
        permit_expires: date,
        officers: int | None = None,
        project_managers: int = 2,
        permit_status: str = "valid",
    ) -> Enterprise:
        code = self.new_credit_code()
        name = self.new_enterprise_name(category)
        permit_issued = add_years(permit_expires, -3) + timedelta(days=1)
        qual_issued = self.random_date(date(2021, 3, 1), date(2024, 12, 31))
        ent = Enterprise(
            credit_code=code,
            name=name,
            category=category,
            grade=grade,
            address=self.new_address(home=False),
            established=self.random_date(date(1998, 1, 1), date(2016, 12, 31)),
            capital=f"{self.rng.choice((2000, 3000, 5000, 8000, 10000, 20000, 50000))}0000.00",
            status="active",
            permit_no=f"(川)JZ安许证字[{permit_issued.year}]{self.next_no('permit', 10231):06d}",
            permit_issued=permit_issued,
            permit_expires=permit_expires,
            permit_status=permit_status,
            qual_no=f"D251{self.next_no('qual', 204417):06d}",
            qual_issued=qual_issued,
            qual_expires=add_years(qual_issued, 5),
            qual_status="valid",
            staff=[],
        )
        if ent.qual_expires < date(2027, 6, 30):
            ent.qual_expires = date(2027, 12, 31)
        if officers is None:
            officers = required_safety_officers(category, grade)
        ent.staff.append(self.staff_member("principal"))
        ent.staff += [self.staff_member("project_manager") for _ in range(project_managers)]
        ent.staff += [self.staff_member("safety_officer") for _ in range(officers)]
        return ent

    def staff_member(self, role: str) -> Staff:
        letter = {"principal": "A", "project_manager": "B", "safety_officer": "C"}[role]
        pid = self.person(
            age=self.rng.randrange(28, 58) if role != "safety_officer" else self.rng.randrange(25, 50)
        )
        issued = self.random_date(date(2024, 3, 1), date(2025, 12, 20))
        return Staff(
            role=role,
            name=self.names[pid],
            id_number=pid,
            cert_no=f"川建安{letter}({issued.year}){self.next_no('staffcert', 100100):07d}",
            cert_kind=f"safety_{letter.lower()}",
            cert_holder=pid,
            cert_holder_name=self.names[pid],
            cert_issued=issued,
            cert_expires=add_years(issued, 3) - timedelta(days=1),
        )

    def write_enterprise(self, ent: Enterprise, *, submitted: date) -> None:
        """Write the enterprise's registry rows (after the case has tweaked them)."""
        principal = next(s for s in ent.staff if s.role == "principal")
        if ent.registered:
            self.rows["enterprises"].append(
                {
                    "credit_code": ent.credit_code,
                    "name": ent.name,
                    "legal_rep_id_number": principal.id_number,
                    "status": ent.status,
                    "registered_capital_yuan": ent.capital,
                    "established_on": iso(ent.established),
                    "address": ent.address,
                }
            )
        certs = self.rows["certificates"]
        if ent.write_permit:
            certs.append(
                {
                    "cert_no": ent.permit_no,
                    "kind": "safety_permit",
                    "holder_id": ent.permit_holder or ent.credit_code,
                    "holder_name": self.holder_name(ent.permit_holder) or ent.name,
                    "issued_on": iso(ent.permit_issued),
                    "expires_on": iso(ent.permit_expires),
                    "status": ent.permit_status,
                }
            )
        if ent.write_qual:
            certs.append(
                {
                    "cert_no": ent.qual_no,
                    "kind": "construction_qualification",
                    "holder_id": ent.credit_code,
                    "holder_name": ent.name,
                    "issued_on": iso(ent.qual_issued),
                    "expires_on": iso(ent.qual_expires),
                    "status": ent.qual_status,
                }
            )
        for s in ent.staff:
            if s.write_cert:
                certs.append(
                    {
                        "cert_no": s.cert_no,
                        "kind": s.cert_kind,
                        "holder_id": s.cert_holder,
                        "holder_name": s.cert_holder_name,
                        "issued_on": iso(s.cert_issued),
                        "expires_on": iso(s.cert_expires),
                        "status": s.cert_status,
                    }
                )
            for month in months_before(submitted, 6):
                if month not in s.skip_months:
                    self.rows["social_insurance"].append(
                        {
                            "id_number": s.id_number,
                            "employer_credit_code": s.insured_by or ent.credit_code,
                            "month": month,
                        }
                    )

    def holder_name(self, code: str) -> str | None:
        return next((r["name"] for r in self.rows["enterprises"] if r["credit_code"] == code), None)  # type: ignore[misc]

    # -- output ----------------------------------------------------------------------------
    def write_csvs(self) -> None:
        SHARED.mkdir(parents=True, exist_ok=True)
        for name, columns in COLUMNS.items():
            with (SHARED / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(columns)
                for row in self.rows[name]:
                    writer.writerow(["" if row[c] is None else row[c] for c in columns])


def required_safety_officers(category: str, grade: str) -> int:
    """Minimum number of full-time safety officers (专职安全生产管理人员) by qualification."""
    if category == "general_contracting":
        return {"special": 6, "grade_1": 4}.get(grade, 3)
    if category == "specialty_contracting":
        return 3 if grade == "grade_1" else 2
    return 2


# --------------------------------------------------------------------------------------------
# Case writing
# --------------------------------------------------------------------------------------------


@dataclass
class Want:
    """What the case's author intends; checked against the oracle."""

    outcome: str
    failed: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)  # expected outputs to cross-check


@dataclass
class CaseFile:
    case: dict[str, object]
    title: str
    want: Want
    pdfs: list[str]


def stamp(day: date, index: int) -> str:
    """A submission time on a day, varied by case index (office hours)."""
    minutes = 9 * 60 + (index * 37) % (7 * 60)
    return f"{day.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}:00+08:00"


# --------------------------------------------------------------------------------------------
# ITEM 1: deed-tax (契税)
# --------------------------------------------------------------------------------------------

DEAL = (
    "deal_buyer_matches",
    "contract_buyer_name_matches",
    "deal_area_matches",
    "deal_price_matches",
    "deal_usage_matches",
)


def build_deed_tax(w: World) -> list[CaseFile]:
    cases: list[CaseFile] = []

    def case(
        cid: str,
        title: str,
        buyer: str,
        *,
        area: str,
        price: str,
        want: Want,
        declared: int,
        spouse: str | None = None,
        usage: str = "residential",
        filing: str = "found",
        filing_diff: dict[str, str] | None = None,
        document: bool = False,
        name: str | None = None,
        day: date = DEED_S,
    ) -> None:
        address = w.new_address()
        signed = day - timedelta(days=w.rng.randrange(20, 80))
        filing_no: str | None = None
        if filing == "found":
            filing_no = f"WQ{signed:%Y%m}{w.next_no('filing', 10001):05d}"
            row = {
                "filing_no": filing_no,
                "buyer_id_number": buyer,
                "seller_name": w.rng.choice(DEVELOPERS),
                "address": address,
                "area_m2": area,
                "price_yuan": price,
                "signed_on": iso(signed),
                "usage": usage,
            }
            row.update(filing_diff or {})
            w.rows["contract_filings"].append(row)
        elif filing == "not_found":
            filing_no = f"WQ{signed:%Y%m}{99001 + w.next_no('ghost'):05d}"
        refs = [doc_ref(document) if isinstance(document, str) else f"contract-{cid}.pdf"] if document else []
        pdfs = [r for r in refs if not r.startswith("..")]  # placeholder files written beside the case
        body = {
            "item": "deed-tax",
            "case_id": cid,
            "submitted_at": stamp(day, len(cases)),
            "applicant": {"kind": "person", "name": name or w.names[buyer], "id_number": buyer},
            "form": {
                "house_address": address,
                "area_m2": area,
                "price_yuan": price,
                "usage": usage,
                "contract_signed_on": iso(signed),
                "contract_filing_no": filing_no,
                "spouse_id_number": spouse,
                "declared_family_houses": declared,
            },
            "documents": [{"kind": "purchase_contract", "path": p} for p in refs],
            "commitments": ["family_housing_truthful"],
        }
        cases.append(CaseFile(body, title, want, pdfs))

    ok = Want("approved")

    # -- rates and who counts in the family ----------------------------------------------------
    a = w.person(age=31)
    case(
        "dt-01-only-home-small",
        "首套住房（家庭无其他住房），面积不超过140平方米，税率1%",
        a,
        area="96.30",
        price="1580000.00",
        declared=0,
        want=Want("approved", extra={"tax_amount": "15800.00"}),
    )

    a, b = w.couple()
    case(
        "dt-02-only-home-large",
        "夫妻家庭唯一住房，面积超过140平方米，税率1.5%",
        a,
        area="143.20",
        price="3260000.00",
        declared=0,
        spouse=b,
        want=Want("approved", extra={"tax_rate": "0.015"}),
    )

    a, b = w.couple()
    w.house(b, area="88.00")
    case(
        "dt-03-spouse-house-small",
        "配偶名下已有一套住房，本次为家庭第二套，面积不超过140平方米，税率1%",
        a,
        area="118.56",
        price="2135000.00",
        declared=1,
        spouse=b,
        want=Want("approved", extra={"tax_rate": "0.01", "relief": "second_home"}),
    )

    a, b = w.couple()
    w.house(b, area="76.40")
    case(
        "dt-04-spouse-house-large",
        "配偶名下已有一套住房，本次为家庭第二套，面积超过140平方米，税率2%",
        b,
        area="156.80",
        price="4120000.00",
        declared=1,
        spouse=a,
        want=Want("approved", extra={"tax_rate": "0.02"}),
    )

    a, b = w.couple(age=40, married_on=date(2012, 5, 20))
    kid = w.child(a, b, age=9)
    w.house(kid, area="65.20")
    case(
        "dt-05-minor-child-house",
        "未成年子女名下有住房，计入家庭住房，按第二套计税",
        a,
        area="105.00",
        price="1890000.00",
        declared=1,
        spouse=b,
        want=Want("approved", extra={"family_houses": 1, "relief": "second_home"}),
    )

    a, b = w.couple()
    w.house(a, b, area="89.90")
    case(
        "dt-06-coowned-counts-once",
        "夫妻共有的一套住房（一个证号两名权利人）只计一套",
        a,
        area="128.00",
        price="2560000.00",
        declared=1,
        spouse=b,
        want=Want("approved", extra={"family_houses": 1}),
    )

    a, b = w.couple(age=52, married_on=date(1999, 10, 1))
    adult = w.child(a, b, age=25)
    w.house(adult, area="92.00")
    case(
        "dt-07-adult-child-house-not-counted",
        "成年子女名下住房不计入家庭住房，仍为首套",
        b,
        area="99.00",
        price="1750000.00",
        declared=0,
        spouse=a,
        want=Want("approved", extra={"family_houses": 0}),
    )

    a = w.person(gender="男", age=40)
    ex = w.person(gender="女", age=39)
    w.marry(a, ex, on=date(2021, 3, 15), status="divorced")
    new = w.person(gender="女", age=35)
    w.marry(a, new, on=date(2023, 9, 9))
    w.house(ex, area="110.00")
    case(
        "dt-08-ex-spouse-house-not-counted",
        "已离婚前配偶名下住房不计入（现配偶无房），仍为首套",
        a,
        area="120.00",
        price="2280000.00",
        declared=0,
        spouse=new,
        want=Want("approved", extra={"family_houses": 0}),
    )

    a = w.person(age=44)
    w.house(a, area="70.00", status="cancelled")
    case(
        "dt-09-cancelled-cert-not-counted",
        "名下不动产权证已注销（已出售），不计入家庭住房",
        a,
        area="132.50",
        price="2450000.00",
        declared=0,
        want=Want("approved", extra={"family_houses": 0}),
    )

    a = w.person(age=47)
    w.house(a, area="45.00", usage="commercial")
    w.house(a, area="120.00", usage="office")
    case(
        "dt-10-commercial-property-not-counted",
        "名下仅有商铺和办公用房，非住房不计入家庭住房",
        a,
        area="101.10",
        price="1666000.00",
        declared=0,
        want=Want("approved", extra={"family_houses": 0}),
    )

    a, b = w.couple()
    w.house(a, area="80.00")
    w.house(b, area="95.00")
    case(
        "dt-11-two-homes",
        "夫妻各有一套住房，本次为家庭第三套，税率3%",
        a,
        area="110.00",
        price="2000000.00",
        declared=2,
        spouse=b,
        want=Want("approved", extra={"tax_rate": "0.03", "relief": "none", "family_houses": 2}),
    )

    a = w.person(gender="女", age=42)
    kid = w.child(a, age=12)
    w.house(a, area="60.00")
    w.house(a, area="72.00")
    w.house(kid, area="50.00")
    case(
        "dt-12-three-homes-with-child",
        "本人两套加未成年子女一套，共三套，税率3%",
        a,
        area="150.00",
        price="3300000.00",
        declared=3,
        want=Want("approved", extra={"family_houses": 3}),
    )

    a = w.person(age=38)
    case(
        "dt-13-office-usage",
        "购买办公用房，不享受住房优惠，税率3%",
        a,
        area="85.00",
        price="980000.00",
        usage="office",
        declared=0,
        want=Want("approved", extra={"tax_rate": "0.03", "relief": "none"}),
    )

    a = w.person(age=52)
    w.house(a, area="100.00")
    case(
        "dt-14-commercial-usage",
        "购买商业用房，不论家庭住房套数，税率3%",
        a,
        area="62.40",
        price="1350000.50",
        usage="commercial",
        declared=1,
        want=Want("approved", extra={"tax_rate": "0.03", "tax_amount": "40500.02"}),
    )

    a = w.person(age=29)
    case(
        "dt-15-area-exactly-140",
        "面积恰为140平方米，仍适用1%",
        a,
        area="140.00",
        price="2520000.00",
        declared=0,
        want=Want("approved", extra={"tax_rate": "0.01"}),
    )

    a = w.person(age=33)
    case(
        "dt-16-area-140-01",
        "面积140.01平方米，超过140适用1.5%",
        a,
        area="140.01",
        price="2520180.00",
        declared=0,
        want=Want("approved", extra={"tax_rate": "0.015"}),
    )

    a = w.person(age=36)
    case(
        "dt-17-half-up-rounding",
        "税额末位为5时四舍五入（ROUND_HALF_UP，不是银行家舍入）",
        a,
        area="152.60",
        price="1866667.00",
        declared=0,
        want=Want("approved", extra={"tax_amount": "28000.01"}),
    )

    a = w.person(age=30)
    case(
        "dt-18-filing-area-numeric",
        "备案面积写作120.5、申报为120.50，按数值比较一致",
        a,
        area="120.50",
        price="1580000.50",
        declared=0,
        filing_diff={"area_m2": "120.5"},
        want=Want("approved", extra={"tax_amount": "15800.01"}),
    )

    # -- the 18th birthday ------------------------------------------------------------------
    a = w.person(gender="女", age=46)
    grown = w.child(a, birth=add_years(DEED_S, -18))
    w.house(grown, area="58.00")
    case(
        "dt-19-child-turns-18-on-submission",
        "子女恰在申报当日年满18周岁，已成年，其住房不计入",
        a,
        area="112.00",
        price="1900000.00",
        declared=0,
        want=Want("approved", extra={"family_houses": 0}),
    )

    a = w.person(gender="男", age=47)
    almost = w.child(a, birth=add_years(DEED_S, -18) + timedelta(days=1))
    w.house(almost, area="58.00")
    case(
        "dt-20-child-18-tomorrow",
        "子女次日才满18周岁，仍是未成年人，其住房计入",
        a,
        area="112.00",
        price="1900000.00",
        declared=1,
        want=Want("approved", extra={"family_houses": 1}),
    )

    a, b = w.couple(age=45, married_on=date(2020, 6, 6))
    step = w.child(b, age=14)
    w.house(step, area="66.00")
    case(
        "dt-21-spouse-minor-child-house",
        "配偶的未成年子女（本人继子女）名下住房计入家庭住房",
        a,
        area="97.00",
        price="1720000.00",
        declared=1,
        spouse=b,
        want=Want("approved", extra={"family_houses": 1}),
    )

    # -- identity ---------------------------------------------------------------------------
    a = w.person(gender="男", age=41)
    case(
        "dt-22-name-mismatch",
        "申请人姓名与人口库不一致",
        a,
        name=w.names[a][0] + "小" + w.names[a][1:],
        area="89.00",
        price="1500000.00",
        declared=0,
        want=Want("review", failed=("applicant_name_matches",)),
    )

    a = w.person(age=34, registered=False)
    case(
        "dt-23-not-in-population",
        "申请人不在人口库：登记状态不通过，姓名核验未知",
        a,
        area="93.00",
        price="1620000.00",
        declared=0,
        want=Want("review", failed=("applicant_registered",), unknown=("applicant_name_matches",)),
    )

    a = w.person(age=70, status="deceased")
    case(
        "dt-24-deceased",
        "申请人在人口库中为死亡状态",
        a,
        area="88.00",
        price="1400000.00",
        declared=0,
        want=Want("review", failed=("applicant_registered",)),
    )

    # -- spouse -----------------------------------------------------------------------------
    a, b = w.couple()
    case(
        "dt-25-hidden-spouse",
        "已婚但申报无配偶（配偶名下无房）",
        a,
        area="90.00",
        price="1560000.00",
        declared=0,
        spouse=None,
        want=Want("review", failed=("spouse_matches_registry",)),
    )

    a, b = w.couple()
    w.house(b, area="79.00")
    case(
        "dt-26-hidden-spouse-with-house",
        "隐瞒配偶及其名下住房：配偶和家庭住房套数均不符，按第二套计税",
        a,
        area="125.00",
        price="2300000.00",
        declared=0,
        spouse=None,
        want=Want(
            "review",
            failed=("spouse_matches_registry", "family_houses_match"),
            extra={"family_houses": 1, "relief": "second_home"},
        ),
    )

    a, b = w.couple()
    other = w.person(gender="女", age=33)
    case(
        "dt-27-wrong-spouse",
        "申报的配偶与婚姻登记的配偶不是同一人",
        a,
        area="100.00",
        price="1800000.00",
        declared=0,
        spouse=other,
        want=Want("review", failed=("spouse_matches_registry",)),
    )

    a = w.person(gender="男", age=32)
    partner = w.person(gender="女", age=30)
    case(
        "dt-28-spouse-declared-not-married",
        "未登记结婚却申报了配偶",
        a,
        area="86.00",
        price="1490000.00",
        declared=0,
        spouse=partner,
        want=Want("review", failed=("spouse_matches_registry",)),
    )

    a = w.person(age=39)
    w.house(a, area="84.00")
    case(
        "dt-29-declared-houses-wrong",
        "申报家庭住房0套，登记信息为1套",
        a,
        area="95.00",
        price="1700000.00",
        declared=0,
        want=Want(
            "review", failed=("family_houses_match",), extra={"tax_rate": "0.01", "relief": "second_home"}
        ),
    )

    # -- the deal ---------------------------------------------------------------------------
    a = w.person(age=35)
    case(
        "dt-30-filing-price-mismatch",
        "网签备案价格与申报价格不一致",
        a,
        area="120.00",
        price="2300000.00",
        declared=0,
        filing_diff={"price_yuan": "2400000.00"},
        want=Want("review", failed=("deal_price_matches",)),
    )

    a = w.person(age=37)
    case(
        "dt-31-filing-area-mismatch",
        "网签备案面积与申报面积不一致（142.30与124.30）",
        a,
        area="124.30",
        price="2200000.00",
        declared=0,
        filing_diff={"area_m2": "142.30"},
        want=Want("review", failed=("deal_area_matches",)),
    )

    a = w.person(age=43)
    case(
        "dt-32-filing-usage-mismatch",
        "网签备案为商业用房，申报为住宅",
        a,
        area="75.00",
        price="1200000.00",
        declared=0,
        filing_diff={"usage": "commercial"},
        want=Want("review", failed=("deal_usage_matches",)),
    )

    a = w.person(age=28)
    other = w.person(age=55)
    case(
        "dt-33-filing-buyer-mismatch",
        "网签备案的买受人不是申请人",
        a,
        area="98.00",
        price="1760000.00",
        declared=0,
        filing_diff={"buyer_id_number": other},
        want=Want("review", failed=("deal_buyer_matches",)),
    )

    a = w.person(age=31)
    case(
        "dt-34-no-filing-with-contract",
        "无网签备案，提交了购房合同扫描件：从合同读取交易信息并比对，一致则秒批",
        a,
        area="108.00",
        price="1950000.00",
        declared=0,
        filing="none",
        document="pc-01-dt-34",
        want=ok,
    )

    a = w.person(age=45)
    case(
        "dt-35-no-filing-no-contract",
        "无网签备案且未提交购房合同：退回补正",
        a,
        area="108.00",
        price="1950000.00",
        declared=0,
        filing="none",
        want=Want("returned", unknown=DEAL, missing=("purchase_contract",)),
    )

    a = w.person(age=50)
    case(
        "dt-36-filing-not-found-with-contract",
        "填报的备案号在备案库中查无此号，提交了购房合同：合同与表单一致，但备案号查无记录，转人工",
        a,
        area="116.00",
        price="2040000.00",
        declared=0,
        filing="not_found",
        document="pc-03-dt-36",
        want=Want("review", failed=("filing_found",)),
    )

    a = w.person(age=27)
    case(
        "dt-37-filing-not-found-no-contract",
        "填报的备案号查无此号且未提交购房合同：退回补正",
        a,
        area="116.00",
        price="2040000.00",
        declared=0,
        filing="not_found",
        want=Want("returned", failed=("filing_found",), unknown=DEAL, missing=("purchase_contract",)),
    )

    # -- several problems at once (一次性告知) -----------------------------------------------------
    a, b = w.couple()
    w.house(a, area="90.00")
    case(
        "dt-38-several-problems",
        "多项不符一次列明：姓名、配偶、住房套数、备案价格",
        a,
        name=w.new_name("男"),
        area="130.00",
        price="2600000.00",
        declared=0,
        spouse=None,
        filing_diff={"price_yuan": "2660000.00"},
        want=Want(
            "review",
            failed=(
                "applicant_name_matches",
                "spouse_matches_registry",
                "family_houses_match",
                "deal_price_matches",
            ),
        ),
    )

    a, b = w.couple()
    w.house(b, area="90.00")
    case(
        "dt-39-returned-despite-problems",
        "无备案无合同且隐瞒配偶：先退回补正，同时列明不符项",
        a,
        area="90.00",
        price="1500000.00",
        declared=0,
        spouse=None,
        filing="none",
        want=Want(
            "returned",
            failed=("spouse_matches_registry", "family_houses_match"),
            unknown=DEAL,
            missing=("purchase_contract",),
        ),
    )

    a = w.person(age=40)
    case(
        "dt-40-filing-found-with-contract",
        "有备案且另附购房合同：合同免提交，附件不影响结果",
        a,
        area="88.88",
        price="1688800.00",
        declared=0,
        document="pc-05-dt-40",
        want=ok,
    )

    # -- the same applications decided from other contract documents -------------------------------
    def variant(base: str, cid: str, title: str, documents: list[str], want: Want) -> None:
        src = next(cf for cf in cases if cf.case["case_id"] == base)
        body = json.loads(json.dumps(src.case))
        body["case_id"] = cid
        refs = [doc_ref(d) if not d.startswith("broken-") else d for d in documents]
        body["documents"] = [{"kind": "purchase_contract", "path": r} for r in refs]
        cases.append(CaseFile(body, title, want, [r for r in refs if r.startswith("broken-")]))

    variant(
        "dt-34-no-filing-with-contract",
        "dt-41-contract-table-layout",
        "表格式合同（PNG 扫描）：一致，秒批",
        ["pc-02-dt-34"],
        ok,
    )
    variant(
        "dt-34-no-filing-with-contract",
        "dt-42-contract-text-pdf",
        "文字层 PDF 合同：一致，秒批",
        ["pc-23-dt-34"],
        ok,
    )
    variant(
        "dt-34-no-filing-with-contract",
        "dt-43-contract-scanned-pdf",
        "扫描件 PDF 合同：一致，秒批",
        ["pc-29-dt-34"],
        ok,
    )
    variant(
        "dt-34-no-filing-with-contract",
        "dt-44-contract-price-differs",
        "合同价款 1980000.00 与申报 1950000.00 不一致：转人工",
        ["pc-17-dt-34"],
        Want("review", failed=("deal_price_matches",)),
    )
    variant(
        "dt-34-no-filing-with-contract",
        "dt-45-contract-buyer-differs",
        "合同买受人为他人：买受人与姓名比对均不通过，转人工",
        ["pc-19-dt-34"],
        Want("review", failed=("deal_buyer_matches", "contract_buyer_name_matches")),
    )
    variant(
        "dt-34-no-filing-with-contract",
        "dt-46-contract-unreadable",
        "合同扫描件严重模糊：无法读取的字段不作判断，转人工",
        ["pc-20-dt-34"],
        Want("review", unknown=DEAL),
    )
    variant(
        "dt-34-no-filing-with-contract",
        "dt-47-contract-file-broken",
        "合同文件已损坏：视为材料无效，退回补正",
        ["broken-contract-dt-47.pdf"],
        Want("returned", unknown=DEAL, missing=("purchase_contract",)),
    )
    variant(
        "dt-36-filing-not-found-with-contract",
        "dt-48-contract-area-differs",
        "备案号查无记录且合同面积 126.00 与申报 116.00 不一致：两项原因一并告知",
        ["pc-18-dt-36"],
        Want("review", failed=("filing_found", "deal_area_matches")),
    )
    return cases


# --------------------------------------------------------------------------------------------
# ITEM 2: safety-permit-renewal (建筑施工企业安全生产许可证延续)
# --------------------------------------------------------------------------------------------

SAFETY_S = date(2026, 11, 20)
PERMIT_CONDITIONS_NEEDING_PERMIT = (
    "permit_not_suspended",
    "permit_not_expired",
    "applied_in_time",
    "no_fatal_accident",
    "penalties_below_limit",
)


def build_safety(w: World) -> list[CaseFile]:
    cases: list[CaseFile] = []
    later = date(2027, 6, 14)  # a comfortable expiry: more than three months after SAFETY_S

    # An unrelated labour-dispatch firm (for 挂证: staff insured elsewhere) and a construction firm
    # whose permit another applicant quotes.
    dispatch_code = w.new_credit_code()
    dispatch_rep = w.person(age=45)
    w.rows["enterprises"].append(
        {
            "credit_code": dispatch_code,
            "name": "成都锦诚人力资源服务有限公司",
            "legal_rep_id_number": dispatch_rep,
            "status": "active",
            "registered_capital_yuan": "2000000.00",
            "established_on": "2015-04-20",
            "address": "成都市武侯区人民南路四段19号",
        }
    )
    owner = w.enterprise(category="general_contracting", grade="grade_2", permit_expires=date(2027, 9, 30))
    w.write_enterprise(owner, submitted=SAFETY_S)

    def ent(category: str = "general_contracting", grade: str = "grade_1", **kw: object) -> Enterprise:
        kw.setdefault("permit_expires", later)
        return w.enterprise(category=category, grade=grade, **kw)  # type: ignore[arg-type]

    def case(
        cid: str,
        title: str,
        e: Enterprise,
        want: Want,
        *,
        day: date = SAFETY_S,
        form_name: str | None = None,
        permit_no: str | None = None,
        documents: tuple[str, ...] = (),
        commitment: bool = True,
    ) -> None:
        w.write_enterprise(e, submitted=day)
        pdfs = []
        docs = []
        for ref in documents:
            kind = {"bl": "business_licence", "sp": "safety_permit"}[ref[:2]]
            docs.append({"kind": kind, "path": doc_ref(ref)})
        name = form_name or e.name
        body = {
            "item": "safety-permit-renewal",
            "case_id": cid,
            "submitted_at": stamp(day, len(cases)),
            "applicant": {"kind": "enterprise", "name": name, "credit_code": e.credit_code},
            "form": {
                "enterprise_name": name,
                "permit_no": permit_no or e.permit_no,
                "qualification_cert_no": e.qual_no,
                "qualification_category": e.category,
                "qualification_grade": e.grade,
                "staff": [
                    {"role": s.role, "name": s.name, "id_number": s.id_number, "cert_no": s.cert_no}
                    for s in e.staff
                ],
            },
            "documents": docs,
            "commitments": ["safety_production_commitment"] if commitment else [],
        }
        cases.append(CaseFile(body, title, want, pdfs))

    ok = Want("approved")

    # -- clean renewals across categories and grades ------------------------------------------
    case(
        "sp-01-general-grade1-clean",
        "施工总承包一级，材料齐全、条件全部满足：秒批",
        ent(),
        Want("approved", extra={"required_safety_officers": 4, "new_valid_to": "2030-06-14"}),
    )
    case(
        "sp-02-general-special-clean",
        "施工总承包特级，配备6名专职安全员：秒批",
        ent(grade="special"),
        Want("approved", extra={"required_safety_officers": 6}),
    )
    case(
        "sp-03-general-grade3-clean",
        "施工总承包三级，配备3名专职安全员：秒批",
        ent(grade="grade_3", project_managers=1),
        Want("approved", extra={"required_safety_officers": 3}),
    )
    case(
        "sp-04-specialty-grade1-clean",
        "专业承包一级，配备3名专职安全员：秒批",
        ent("specialty_contracting", "grade_1"),
        Want("approved", extra={"required_safety_officers": 3}),
    )
    case(
        "sp-05-specialty-grade2-clean",
        "专业承包二级，配备2名专职安全员：秒批",
        ent("specialty_contracting", "grade_2", project_managers=1),
        Want("approved", extra={"required_safety_officers": 2}),
    )
    case(
        "sp-06-labour-clean",
        "施工劳务企业，配备2名专职安全员：秒批",
        ent("labour_subcontracting", "grade_1", project_managers=1),
        Want("approved", extra={"required_safety_officers": 2}),
    )

    e = ent(grade="grade_2", officers=4)
    e.staff[-1].cert_expires = date(2026, 8, 31)
    e.staff[-1].cert_status = "expired"
    case(
        "sp-07-extra-officer-expired", "总承包二级列了4名安全员，其中1人证书过期，有效3人仍达标：秒批", e, ok
    )

    # -- the enterprise ---------------------------------------------------------------------
    e = ent()
    e.status = "revoked"
    case("sp-08-enterprise-revoked", "企业营业执照已被吊销", e, Want("review", failed=("enterprise_active",)))

    e = ent("specialty_contracting", "grade_2")
    old = e.name
    e.name = old.replace("有限公司", "集团有限公司")
    case(
        "sp-09-enterprise-name-mismatch",
        "申报企业名称（旧名称）与登记名称不一致",
        e,
        form_name=old,
        want=Want("review", failed=("enterprise_name_matches",)),
    )

    e = ent(grade="grade_2")
    e.registered = False
    case(
        "sp-10-enterprise-not-found-with-licence",
        "市场主体库查无此企业，已提交营业执照：转人工",
        e,
        documents=("bl-01-sp-10",),
        want=Want("review", failed=("enterprise_active",), unknown=("enterprise_name_matches",)),
    )

    e = ent(grade="grade_3", project_managers=1)
    e.registered = False
    case(
        "sp-11-enterprise-not-found-no-licence",
        "市场主体库查无此企业且未提交营业执照：退回补正",
        e,
        want=Want(
            "returned",
            failed=("enterprise_active",),
            unknown=("enterprise_name_matches",),
            missing=("business_licence",),
        ),
    )

    # -- the permit -------------------------------------------------------------------------
    case(
        "sp-12-permit-suspended",
        "安全生产许可证处于暂扣状态",
        ent(permit_status="suspended"),
        Want("review", failed=("permit_not_suspended",)),
    )

    e = ent(grade="grade_2")
    e.write_permit = False
    case(
        "sp-13-permit-held-by-other",
        "填报的许可证号属于另一家企业，已附许可证原件：转人工",
        e,
        permit_no=owner.permit_no,
        documents=("sp-01-sp-13",),
        want=Want(
            "review",
            failed=("permit_on_record", "permit_document_matches"),
            unknown=PERMIT_CONDITIONS_NEEDING_PERMIT,
        ),
    )

    e = ent("specialty_contracting", "grade_2", project_managers=1)
    e.write_permit = False
    case(
        "sp-14-permit-not-found-no-original",
        "许可证库查无此证且未提交许可证正副本：退回补正",
        e,
        want=Want(
            "returned",
            failed=("permit_on_record",),
            unknown=PERMIT_CONDITIONS_NEEDING_PERMIT,
            missing=("original_permit",),
        ),
    )

    case(
        "sp-15-after-expiry",
        "许可证已于申请前到期（库中状态仍为有效）：不予延续，应重新申请",
        ent(permit_expires=date(2026, 11, 10)),
        Want(
            "rejected", failed=("permit_not_expired", "applied_in_time"), extra={"new_valid_to": "2029-11-10"}
        ),
    )

    case(
        "sp-16-after-expiry-status-expired",
        "许可证已过期且库中状态为已过期：不予延续",
        ent(grade="grade_2", permit_expires=date(2026, 10, 31), permit_status="expired"),
        Want("rejected", failed=("permit_not_suspended", "permit_not_expired", "applied_in_time")),
    )

    case(
        "sp-17-late-application",
        "在有效期届满前3个月内才申请延续：逾期申请，转人工",
        ent(permit_expires=date(2027, 1, 15)),
        Want("review", failed=("applied_in_time",)),
    )

    case(
        "sp-18-expiry-day",
        "申请日正是许可证到期日：未过期，但已逾期申请",
        ent(permit_expires=SAFETY_S),
        Want("review", failed=("applied_in_time",)),
    )

    case(
        "sp-19-deadline-day",
        "申请日恰为到期日前3个月当日：按时申请",
        ent(permit_expires=date(2027, 2, 20)),
        ok,
    )

    case(
        "sp-20-deadline-clamped-month-end",
        "到期日5月31日前3个月为2月28日（月末对齐），当日申请按时",
        ent(grade="grade_2", permit_expires=date(2027, 5, 31)),
        day=date(2027, 2, 28),
        want=Want("approved", extra={"new_valid_to": "2030-05-31"}),
    )

    # -- qualification ----------------------------------------------------------------------
    e = ent(grade="grade_2")
    e.qual_expires = date(2026, 9, 30)
    e.qual_status = "expired"
    case(
        "sp-21-qualification-expired",
        "建筑业企业资质证书已过期",
        e,
        Want("review", failed=("qualification_valid",)),
    )

    # -- accidents --------------------------------------------------------------------------
    e = ent()
    w.rows["safety_accidents"].append(
        {
            "credit_code": e.credit_code,
            "occurred_on": iso(e.permit_issued - timedelta(days=200)),
            "level": "一般事故",
            "fatalities": 1,
        }
    )
    case("sp-22-fatal-accident-before-validity", "死亡事故发生在本许可证有效期开始之前，不影响延续", e, ok)

    e = ent()
    w.rows["safety_accidents"].append(
        {
            "credit_code": e.credit_code,
            "occurred_on": iso(e.permit_issued + timedelta(days=400)),
            "level": "一般事故",
            "fatalities": 1,
        }
    )
    case(
        "sp-23-fatal-accident-during-validity",
        "许可证有效期内发生1人死亡的一般事故",
        e,
        Want("review", failed=("no_fatal_accident",)),
    )

    e = ent("specialty_contracting", "grade_1")
    w.rows["safety_accidents"].append(
        {
            "credit_code": e.credit_code,
            "occurred_on": iso(e.permit_issued + timedelta(days=90)),
            "level": "一般事故",
            "fatalities": 0,
        }
    )
    case("sp-24-injury-accident-no-fatality", "有效期内发生无人员死亡的一般事故，不属于死亡事故", e, ok)

    e = ent(grade="grade_2")
    w.rows["safety_accidents"].append(
        {
            "credit_code": e.credit_code,
            "occurred_on": iso(e.permit_issued),
            "level": "较大事故",
            "fatalities": 3,
        }
    )
    case(
        "sp-25-fatal-accident-on-issue-day",
        "死亡事故发生在许可证发证当日（区间含端点）",
        e,
        Want("review", failed=("no_fatal_accident",)),
    )

    # -- penalties and blacklist ------------------------------------------------------------
    def record(e: Enterprise, kind: str, reason: str, listed: date, lifted: date | None = None) -> None:
        w.rows["credit_records"].append(
            {
                "subject_id": e.credit_code,
                "kind": kind,
                "reason": reason,
                "listed_on": iso(listed),
                "lifted_on": iso(lifted),
            }
        )

    e = ent()
    record(e, "penalty", "施工现场未按规定设置安全防护设施，罚款", e.permit_issued + timedelta(days=120))
    record(e, "bad_record", "未按规定组织安全生产教育培训", e.permit_issued + timedelta(days=500))
    record(e, "penalty", "特种作业人员未持证上岗，罚款", e.permit_issued - timedelta(days=30))
    case("sp-26-two-penalties", "有效期内2条处罚/不良记录（另1条在有效期前不计）：未达3条", e, ok)

    e = ent()
    record(e, "penalty", "施工现场未按规定设置安全防护设施，罚款", e.permit_issued + timedelta(days=60))
    record(e, "penalty", "塔式起重机未按规定办理使用登记，罚款", e.permit_issued + timedelta(days=310))
    record(e, "bad_record", "隐患排查治理不到位，通报批评", SAFETY_S)
    case(
        "sp-27-three-penalties",
        "有效期内3条处罚/不良记录（末条在申请当日，含端点）",
        e,
        Want("review", failed=("penalties_below_limit",)),
    )

    e = ent("labour_subcontracting", "grade_1", project_managers=1)
    record(e, "blacklist", "拖欠农民工工资列入失信联合惩戒名单", date(2025, 3, 1), date(2025, 9, 1))
    case("sp-28-blacklist-lifted", "曾列入失信名单但已移出：通过", e, ok)

    e = ent("specialty_contracting", "grade_2")
    record(e, "blacklist", "拖欠农民工工资列入失信联合惩戒名单", date(2026, 8, 10))
    case("sp-29-blacklist-active", "仍在失信联合惩戒名单中", e, Want("review", failed=("not_blacklisted",)))

    e = ent(grade="grade_2")
    record(e, "blacklist", "拒不履行法院判决列入失信名单", date(2026, 2, 3), SAFETY_S)
    case(
        "sp-30-blacklist-lifted-on-submission-day",
        "失信名单于申请当日移出（lifted_on = 申请日）：视为已移出",
        e,
        ok,
    )

    # -- staff certificates -----------------------------------------------------------------
    e = ent()
    e.staff[0].cert_expires = date(2026, 10, 31)  # registry status not yet updated
    case(
        "sp-31-principal-cert-expired",
        "主要负责人A证已过有效期（库中状态仍为有效）",
        e,
        Want("review", failed=("principal_certified",)),
    )

    e = ent(grade="grade_2", project_managers=1)
    e.staff[1].cert_status = "suspended"
    case(
        "sp-32-project-manager-cert-suspended",
        "唯一的项目负责人B证被暂扣",
        e,
        Want("review", failed=("project_managers_certified",)),
    )

    case(
        "sp-33-too-few-officers-grade1",
        "总承包一级只配备3名专职安全员（至少4名）",
        ent(officers=3),
        Want("review", failed=("safety_officers_sufficient",), extra={"required_safety_officers": 4}),
    )

    e = ent("labour_subcontracting", "grade_1", project_managers=1)
    impostor = w.person(age=36)
    e.staff[-1].cert_holder = impostor
    e.staff[-1].cert_holder_name = w.names[impostor]
    case(
        "sp-34-officer-cert-of-another-person",
        "一名安全员填报的C证证号实际属于他人，有效安全员不足2名",
        e,
        Want("review", failed=("safety_officers_sufficient",)),
    )

    e = ent("specialty_contracting", "grade_2", project_managers=1)
    e.staff[1].write_cert = False
    case(
        "sp-35-project-manager-cert-not-found",
        "项目负责人B证在证照库中查无此证",
        e,
        Want("review", failed=("project_managers_certified",)),
    )

    # -- social insurance -------------------------------------------------------------------
    e = ent(grade="grade_2")
    e.staff[-1].insured_by = dispatch_code
    case(
        "sp-36-officer-insured-elsewhere",
        "一名安全员社保由其他单位缴纳（疑似挂证）",
        e,
        Want("review", failed=("staff_insured_by_enterprise",)),
    )

    e = ent()
    e.staff[1].skip_months = {months_before(SAFETY_S)[1]}
    case(
        "sp-37-missing-insurance-month",
        "一名项目负责人申请前3个月中缺缴1个月社保",
        e,
        Want("review", failed=("staff_insured_by_enterprise",)),
    )

    e = ent("specialty_contracting", "grade_1")
    e.staff[2].skip_months = set(months_before(SAFETY_S, 6)[:3])  # missing months before the window only
    case(
        "sp-38-insurance-gap-outside-window", "社保断缴发生在申请前第4-6个月，不在核查的3个月内：通过", e, ok
    )

    # -- commitments and several problems ---------------------------------------------------
    case(
        "sp-39-missing-commitment",
        "未作出安全生产承诺：退回补正",
        ent(grade="grade_3", project_managers=1),
        commitment=False,
        want=Want("returned", missing=("safety_commitment",)),
    )

    case(
        "sp-40-expired-and-no-commitment",
        "许可证已过期且未作承诺：不予延续优先于退回补正",
        ent(permit_expires=date(2026, 9, 30)),
        commitment=False,
        want=Want(
            "rejected", failed=("permit_not_expired", "applied_in_time"), missing=("safety_commitment",)
        ),
    )

    e = ent(permit_status="suspended")
    old = e.name
    e.name = old.replace("有限公司", "有限责任公司")
    record(e, "blacklist", "安全生产严重失信主体", date(2026, 6, 18))
    e.staff[-1].insured_by = dispatch_code
    e.staff[-2].cert_status = "revoked"
    case(
        "sp-41-several-problems",
        "多项不符一次列明：名称、暂扣、失信、安全员不足、挂证",
        e,
        form_name=old,
        want=Want(
            "review",
            failed=(
                "enterprise_name_matches",
                "permit_not_suspended",
                "not_blacklisted",
                "safety_officers_sufficient",
                "staff_insured_by_enterprise",
            ),
        ),
    )

    e = ent(grade="grade_2")
    e.write_qual = False
    case(
        "sp-42-qualification-not-found",
        "资质证书号在证照库中查无此证",
        e,
        Want("review", failed=("qualification_valid",)),
    )

    # -- more clean renewals, at the edges of the rules ---------------------------------------
    e = ent()
    e.staff[1].cert_expires = date(2026, 7, 31)
    e.staff[1].cert_status = "expired"
    case(
        "sp-43-one-of-two-managers-expired", "两名项目负责人中一人B证过期，另一人有效：至少1人满足即可", e, ok
    )

    e = ent("specialty_contracting", "grade_2", project_managers=1)
    w.rows["social_insurance"].append(
        {
            "id_number": e.staff[1].id_number,
            "employer_credit_code": dispatch_code,
            "month": months_before(SAFETY_S)[0],
        }
    )
    case(
        "sp-44-insurance-overlap-job-change",
        "一名人员某月另有他单位参保记录，但本企业3个月均有缴纳：通过",
        e,
        ok,
    )

    case(
        "sp-45-specialty-grade3-clean",
        "专业承包三级，配备2名专职安全员：秒批",
        ent("specialty_contracting", "grade_3", project_managers=1),
        Want("approved", extra={"required_safety_officers": 2}),
    )

    e = ent(grade="grade_2")
    e.qual_expires = SAFETY_S
    case("sp-46-qualification-expires-on-submission", "资质证书有效期截至申请当日（含当日）：有效", e, ok)

    e = ent(grade="grade_3", project_managers=1)
    e.staff[0].cert_expires = SAFETY_S
    case(
        "sp-47-principal-cert-expires-on-submission", "主要负责人A证有效期截至申请当日（含当日）：有效", e, ok
    )

    # -- the same applications with documents attached --------------------------------------------
    def variant(base: str, cid: str, title: str, documents: list[str], want: Want) -> None:
        src = next(cf for cf in cases if cf.case["case_id"] == base)
        body = json.loads(json.dumps(src.case))
        body["case_id"] = cid
        body["documents"] = [
            {"kind": {"bl": "business_licence", "sp": "safety_permit"}[d[:2]], "path": doc_ref(d)}
            for d in documents
        ]
        cases.append(CaseFile(body, title, want, []))

    variant(
        "sp-01-general-grade1-clean",
        "sp-48-licence-and-permit-attached",
        "另附营业执照与许可证扫描件（均与登记一致）：秒批",
        ["bl-03-sp-01", "sp-03-sp-01"],
        ok,
    )
    variant(
        "sp-02-general-special-clean",
        "sp-49-permit-text-pdf",
        "另附表格式许可证（PNG）：与登记一致，秒批",
        ["sp-04-sp-02"],
        ok,
    )
    variant(
        "sp-09-enterprise-name-mismatch",
        "sp-50-licence-shows-current-name",
        "营业执照印现名称，与表单填写的旧名称不一致：两项原因一并告知",
        ["bl-10-sp-09"],
        Want("review", failed=("enterprise_name_matches", "licence_matches")),
    )
    variant(
        "sp-05-specialty-grade2-clean",
        "sp-51-permit-validity-altered",
        "许可证扫描件的有效期止与电子证照库不一致（疑似涂改）：转人工",
        ["sp-15-sp-05"],
        Want("review", failed=("permit_document_matches",)),
    )
    variant(
        "sp-06-labour-clean",
        "sp-52-permit-number-differs",
        "许可证扫描件编号末位与申报不一致：转人工",
        ["sp-16-sp-06"],
        Want("review", failed=("permit_document_matches",)),
    )
    return cases


# --------------------------------------------------------------------------------------------
# The oracle: reads the written files back and applies the rules
# --------------------------------------------------------------------------------------------


def load_registries() -> dict[str, list[dict[str, str | None]]]:
    out = {}
    for name in COLUMNS:
        with (SHARED / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            out[name] = [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(f)]
    return out


def pass_fail(ok: bool) -> str:
    return "pass" if ok else "fail"


def decide(
    conditions: dict[str, str],
    rejecting: set[str],
    materials: dict[str, bool],
) -> tuple[str, list[str], list[str], list[str]]:
    """Outcome by precedence: rejected > returned > review > approved."""
    failed = sorted(c for c, s in conditions.items() if s == "fail")
    unknown = sorted(c for c, s in conditions.items() if s == "unknown")
    missing = sorted(m for m, ok in materials.items() if not ok)
    if any(c in rejecting for c in failed):
        outcome = "rejected"
    elif missing:
        outcome = "returned"
    elif failed or unknown:
        outcome = "review"
    else:
        outcome = "approved"
    return outcome, failed, unknown, missing


def money(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def oracle_deed_tax(case: dict, reg: dict) -> dict:
    s = date.fromisoformat(case["submitted_at"][:10])
    form, applicant = case["form"], case["applicant"]
    me = applicant["id_number"]
    people = {r["id_number"]: r for r in reg["population"]}

    # Family: me, my registered spouse, and the minor children of either of us.
    spouse = next(
        (r["spouse_id_number"] for r in reg["marriage"] if r["id_number"] == me and r["status"] == "married"),
        None,
    )
    parents = {me} | ({spouse} if spouse else set())
    children = {k["child_id_number"] for k in reg["kinship"] if k["parent_id_number"] in parents}
    minors = {
        c for c in children if c in people and age_on(date.fromisoformat(people[c]["birth_date"]), s) < 18
    }
    family = parents | minors
    family_houses = len(
        {
            r["cert_no"]
            for r in reg["real_estate"]
            if r["owner_id_number"] in family and r["usage"] == "residential" and r["status"] == "active"
        }
    )

    filing_no = form["contract_filing_no"]
    filing = next((r for r in reg["contract_filings"] if filing_no and r["filing_no"] == filing_no), None)

    person = people.get(me)
    c: dict[str, str] = {}
    c["applicant_registered"] = pass_fail(person is not None and person["status"] == "normal")
    c["applicant_name_matches"] = (
        "unknown" if person is None else pass_fail(person["name"] == applicant["name"])
    )
    c["spouse_matches_registry"] = pass_fail(form["spouse_id_number"] == spouse)
    c["family_houses_match"] = pass_fail(form["declared_family_houses"] == family_houses)
    c["filing_found"] = pass_fail(filing_no is None or filing is not None)
    contract: dict | None = None
    broken = False
    for d in case["documents"]:
        if d["kind"] == "purchase_contract":
            truth = doc_truth(HERE / "deed-tax" / "cases", d["path"])
            broken = truth is None
            contract = truth
    if filing is None:
        # the deal comes from the contract; fields that cannot be read are unknown
        def known(field: str) -> bool:
            return contract is not None and field in contract

        c["deal_buyer_matches"] = (
            pass_fail(me in contract["buyer_id_numbers"]) if known("buyer_id_numbers") else "unknown"  # type: ignore[index]
        )
        c["contract_buyer_name_matches"] = (
            pass_fail(
                applicant["name"] in contract["buyer_names"]  # type: ignore[index]
                and person is not None
                and person["name"] in contract["buyer_names"]  # type: ignore[index]
            )
            if known("buyer_names") and person is not None
            else "unknown"
        )
        c["deal_area_matches"] = (
            pass_fail(Decimal(contract["area_m2"]) == Decimal(form["area_m2"]))
            if known("area_m2")
            else "unknown"  # type: ignore[index]
        )
        c["deal_price_matches"] = (
            pass_fail(Decimal(contract["price_yuan"]) == Decimal(form["price_yuan"]))  # type: ignore[index]
            if known("price_yuan")
            else "unknown"
        )
        # the usage printed on the sample contracts is always the declared one (see samples/documents)
        c["deal_usage_matches"] = "pass" if known("area_m2") else "unknown"
    else:
        c["deal_buyer_matches"] = pass_fail(filing["buyer_id_number"] == me)
        c["contract_buyer_name_matches"] = "pass"  # applies to paper contracts only
        c["deal_area_matches"] = pass_fail(Decimal(filing["area_m2"]) == Decimal(form["area_m2"]))
        c["deal_price_matches"] = pass_fail(Decimal(filing["price_yuan"]) == Decimal(form["price_yuan"]))
        c["deal_usage_matches"] = pass_fail(filing["usage"] == form["usage"])

    kinds = {d["kind"] for d in case["documents"]}
    materials = {"purchase_contract": filing is not None or ("purchase_contract" in kinds and not broken)}

    area = Decimal(form["area_m2"])
    if form["usage"] != "residential":
        rate, relief = "0.03", "none"
    elif family_houses == 0:
        rate, relief = ("0.01" if area <= 140 else "0.015"), "only_home"
    elif family_houses == 1:
        rate, relief = ("0.01" if area <= 140 else "0.02"), "second_home"
    else:
        rate, relief = "0.03", "none"
    base = Decimal(form["price_yuan"])
    outputs = {
        "tax_rate": rate,
        "tax_base": money(base),
        "tax_amount": money(base * Decimal(rate)),
        "relief": relief,
        "family_houses": family_houses,
    }

    outcome, failed, unknown, missing = decide(c, set(), materials)
    return {
        "outcome": outcome,
        "outputs": outputs,
        "failed": failed,
        "unknown": unknown,
        "missing_materials": missing,
        "_conditions": c,
    }


def oracle_safety(case: dict, reg: dict) -> dict:
    s = date.fromisoformat(case["submitted_at"][:10])
    form = case["form"]
    code = case["applicant"]["credit_code"]
    d = date.fromisoformat

    enterprise = next((r for r in reg["enterprises"] if r["credit_code"] == code), None)
    certs = reg["certificates"]
    permit = next(
        (
            r
            for r in certs
            if r["cert_no"] == form["permit_no"] and r["kind"] == "safety_permit" and r["holder_id"] == code
        ),
        None,
    )
    qual = next(
        (
            r
            for r in certs
            if r["cert_no"] == form["qualification_cert_no"]
            and r["kind"] == "construction_qualification"
            and r["holder_id"] == code
        ),
        None,
    )

    c: dict[str, str] = {}
    c["enterprise_active"] = pass_fail(enterprise is not None and enterprise["status"] == "active")
    c["enterprise_name_matches"] = (
        "unknown" if enterprise is None else pass_fail(enterprise["name"] == form["enterprise_name"])
    )
    c["permit_on_record"] = pass_fail(permit is not None)
    if permit is None:
        for cid in PERMIT_CONDITIONS_NEEDING_PERMIT:
            c[cid] = "unknown"
    else:
        issued, expires = d(permit["issued_on"]), d(permit["expires_on"])
        c["permit_not_suspended"] = pass_fail(permit["status"] == "valid")
        c["permit_not_expired"] = pass_fail(s <= expires)
        c["applied_in_time"] = pass_fail(s <= add_months(expires, -3))
        fatal = [
            a
            for a in reg["safety_accidents"]
            if a["credit_code"] == code and int(a["fatalities"]) > 0 and issued <= d(a["occurred_on"]) <= s
        ]
        c["no_fatal_accident"] = pass_fail(not fatal)
        penalties = [
            r
            for r in reg["credit_records"]
            if r["subject_id"] == code
            and r["kind"] in ("penalty", "bad_record")
            and issued <= d(r["listed_on"]) <= s
        ]
        c["penalties_below_limit"] = pass_fail(len(penalties) < 3)
    c["qualification_valid"] = pass_fail(
        qual is not None and qual["status"] == "valid" and d(qual["expires_on"]) >= s
    )
    blacklisted = [
        r
        for r in reg["credit_records"]
        if r["subject_id"] == code
        and r["kind"] == "blacklist"
        and d(r["listed_on"]) <= s
        and (r["lifted_on"] is None or d(r["lifted_on"]) > s)
    ]
    c["not_blacklisted"] = pass_fail(not blacklisted)

    def certified(member: dict, kind: str) -> bool:
        return any(
            r["cert_no"] == member["cert_no"]
            and r["kind"] == kind
            and r["holder_id"] == member["id_number"]
            and r["status"] == "valid"
            and d(r["expires_on"]) >= s
            for r in certs
        )

    staff = form["staff"]
    minimum = required_safety_officers(form["qualification_category"], form["qualification_grade"])
    c["principal_certified"] = pass_fail(
        any(m["role"] == "principal" and certified(m, "safety_a") for m in staff)
    )
    c["project_managers_certified"] = pass_fail(
        any(m["role"] == "project_manager" and certified(m, "safety_b") for m in staff)
    )
    c["safety_officers_sufficient"] = pass_fail(
        sum(1 for m in staff if m["role"] == "safety_officer" and certified(m, "safety_c")) >= minimum
    )
    insured = {
        (r["id_number"], r["month"]) for r in reg["social_insurance"] if r["employer_credit_code"] == code
    }
    c["staff_insured_by_enterprise"] = pass_fail(
        all((m["id_number"], month) in insured for m in staff for month in months_before(s))
    )

    truths = {
        doc["kind"]: doc_truth(HERE / "safety-permit-renewal" / "cases", doc["path"])
        for doc in case["documents"]
    }
    licence = truths.get("business_licence")
    if licence is None or licence == {}:
        c["licence_matches"] = "pass" if "business_licence" not in truths or licence is None else "unknown"
    else:
        c["licence_matches"] = pass_fail(
            licence["credit_code"] == code and licence["name"] == form["enterprise_name"]
        )
    original = truths.get("safety_permit")
    if original is None or original == {}:
        c["permit_document_matches"] = (
            "pass" if "safety_permit" not in truths or original is None else "unknown"
        )
    else:
        c["permit_document_matches"] = pass_fail(
            original["permit_no"] == form["permit_no"]
            and original["enterprise_name"] == form["enterprise_name"]
            and (permit is None or original["valid_to"] == permit["expires_on"])
        )
    kinds = {doc["kind"] for doc in case["documents"]}
    materials = {
        "business_licence": enterprise is not None or "business_licence" in kinds,
        "original_permit": permit is not None or "safety_permit" in kinds,
        "safety_commitment": "safety_production_commitment" in case["commitments"],
    }
    outputs: dict[str, object] = {"required_safety_officers": minimum}
    if permit is not None:
        outputs["new_valid_to"] = add_years(d(permit["expires_on"]), 3).isoformat()

    outcome, failed, unknown, missing = decide(c, {"permit_not_expired"}, materials)
    return {
        "outcome": outcome,
        "outputs": outputs,
        "failed": failed,
        "unknown": unknown,
        "missing_materials": missing,
        "_conditions": c,
    }


# --------------------------------------------------------------------------------------------
# ITEM 3: graduate-hukou (应届毕业生人才引进落户, 深圳)
#
# Built after the two items above with a random generator of its own (GRAD_SEED): the rows it adds
# come after theirs in the shared CSVs, and nothing it draws changes what they drew.
# --------------------------------------------------------------------------------------------

GRAD_SEED = 20261202
GRAD_S = date(2026, 11, 20)  # the usual submission day of the graduate cases
GRAD_REGIONS = [
    "430102",
    "430104",
    "420102",
    "420106",
    "440106",
    "440104",
    "360102",
    "450102",
    "350102",
    "610102",
]
GRAD_OLD_REGIONS = [
    "110101",
    "110102",
    "310101",
    "310104",
    "120101",
]  # codes of long standing, for older people
UNIVERSITIES = [
    "深圳大学",
    "南方科技大学",
    "中山大学",
    "华南理工大学",
    "武汉大学",
    "华中科技大学",
    "湖南大学",
    "中南大学",
    "厦门大学",
    "西安交通大学",
    "暨南大学",
    "哈尔滨工业大学（深圳）",
]
SZ_DISTRICTS = ["南山区", "福田区", "罗湖区", "宝安区", "龙岗区", "龙华区"]
SZ_EMPLOYERS = [
    "深圳市鹏城智联科技有限公司",
    "深圳市前海云帆数据服务有限公司",
    "深圳市南山湾区生物医药有限公司",
    "深圳市光明新材料研究有限公司",
    "深圳市福田金桥咨询有限公司",
]
GRAD_AGE_LIMIT = {"bachelor": 35, "master": 40, "doctor": 45}
GRAD_REJECTING = {"degree_eligible", "age_within_limit", "not_registered_in_city"}
GRAD_COLUMNS = {
    "academic_records": [
        "id_number",
        "name",
        "school",
        "degree",
        "study_mode",
        "graduated_on",
        "certificate_no",
    ],
    "household_registrations": [
        "id_number",
        "name",
        "address",
        "police_station",
        "status",
        "registered_on",
        "left_on",
    ],
    "criminal_records": ["id_number", "record_no", "category", "offence", "decided_on", "authority"],
}
COLUMNS.update(GRAD_COLUMNS)


class Graduates:
    """People, employers and records of the graduate cases, drawn from a generator of their own; the
    World's sets of used numbers and names keep them apart from the other items' people."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.rng = random.Random(GRAD_SEED)
        for name in GRAD_COLUMNS:
            w.rows.setdefault(name, [])

    def id_number(self, birth: date, gender: str) -> str:
        codes = [c for c in GRAD_REGIONS if ric.is_valid(World._ric(c, birth, 10))] or [
            c for c in GRAD_OLD_REGIONS if ric.is_valid(World._ric(c, birth, 10))
        ]
        region = self.rng.choice(codes)
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if gender == "男" else 0)
            number = World._ric(region, birth, seq)
            if number not in self.w.used_ids:
                assert ric.is_valid(number), number
                self.w.used_ids.add(number)
                return number

    def name(self, gender: str) -> str:
        chars = MALE_CHARS if gender == "男" else FEMALE_CHARS
        while True:
            given = "".join(self.rng.choice(chars) for _ in range(self.rng.choice((1, 2, 2))))
            name = self.rng.choice(SURNAMES) + given
            if name not in self.w.used_names and len(set(given)) == len(given):
                self.w.used_names.add(name)
                return name

    def credit_code(self) -> str:
        """A unified social credit code of a Shenzhen company (region 440300)."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            body8 = "MA5" + "".join(self.rng.choice(alphabet) for _ in range(5))
            values = [int(c) if c.isdigit() else ord(c) - 55 for c in body8]
            rest = 11 - sum(v * x for v, x in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
            code = "91440300" + body8 + {10: "X", 11: "0"}.get(rest, str(rest))
            code += uscc.calc_check_digit(code)
            if code not in self.w.used_ids:
                assert uscc.is_valid(code), code
                self.w.used_ids.add(code)
                return code

    def employer(self, name: str, *, status: str = "active", registered: bool = True) -> str:
        code = self.credit_code()
        if registered:
            rep_birth = date(
                1975 + self.rng.randrange(0, 10), self.rng.randrange(1, 13), self.rng.randrange(1, 28)
            )
            rep = self.id_number(rep_birth, "男")
            self.w.rows["enterprises"].append(
                {
                    "credit_code": code,
                    "name": name,
                    "legal_rep_id_number": rep,
                    "status": status,
                    "registered_capital_yuan": f"{self.rng.choice((100, 500, 1000, 3000))}0000.00",
                    "established_on": iso(
                        date(2010 + self.rng.randrange(0, 12), self.rng.randrange(1, 13), 8)
                    ),
                    "address": f"深圳市{self.rng.choice(SZ_DISTRICTS)}科技园{self.rng.randrange(1, 300)}号",
                }
            )
        return code


def build_graduate(w: World) -> list[CaseFile]:
    g = Graduates(w)
    rng = g.rng
    cases: list[CaseFile] = []
    employers = [g.employer(n) for n in SZ_EMPLOYERS[:3]]
    other_employer = g.employer(SZ_EMPLOYERS[3])
    revoked = g.employer(SZ_EMPLOYERS[4], status="revoked")
    unregistered = g.employer("", registered=False)
    ok = Want("approved")

    def case(
        cid: str,
        title: str,
        want: Want,
        *,
        degree: str = "bachelor",
        birth: date | None = None,
        submitted: date = GRAD_S,
        graduated: date | None = None,
        graduation_missing: bool = False,
        study_mode: str = "full_time",
        record_degree: str | None = None,
        declared_school: str | None = None,
        population: str | None = "normal",
        form_name: str | None = None,
        hukou: tuple[str, ...] = (),
        crimes: tuple[str, ...] = (),
        employer: str | None = None,
        insured_by: str | None = None,
        insured_months: int = 3,
        skip_last_month: bool = False,
        commitment: bool = True,
        kind: str = "person",
        extra_degrees: tuple[tuple[str, str], ...] = (),
    ) -> None:
        gender = rng.choice("男女")
        if birth is None:
            young = {"bachelor": 22, "master": 25, "doctor": 29, "junior_college": 21}[degree]
            year = submitted.year - young - rng.randrange(0, 3)
            birth = date(year, rng.randrange(1, 13), rng.randrange(1, 29))
        number = g.id_number(birth, gender)
        name = g.name(gender)
        if population is not None:
            w.rows["population"].append(
                {
                    "id_number": number,
                    "name": name,
                    "gender": gender,
                    "birth_date": iso(birth),
                    "status": population,
                }
            )
        school = rng.choice(UNIVERSITIES)
        if graduated is None:
            graduated = date(submitted.year, 6, rng.randrange(20, 31))
            if graduated > submitted:
                graduated = date(submitted.year - 1, 6, rng.randrange(20, 31))
        records = [(record_degree or degree, study_mode, graduated)]
        records += [(d, mode, add_years(graduated, -3)) for d, mode in extra_degrees]
        for level, mode, on in records:
            w.rows["academic_records"].append(
                {
                    "id_number": number,
                    "name": name,
                    "school": school if level == (record_degree or degree) else rng.choice(UNIVERSITIES),
                    "degree": level,
                    "study_mode": mode,
                    "graduated_on": None
                    if graduation_missing and level == (record_degree or degree)
                    else iso(on),
                    "certificate_no": f"1{rng.randrange(1000, 9999)}{on.year}{rng.randrange(10**6):06d}",
                }
            )
        for i, status in enumerate(hukou):
            registered_on = add_years(birth, 18 + 2 * i)
            district, street = rng.choice(SZ_DISTRICTS), rng.choice(("桃源", "粤海", "沙河", "西乡"))
            address = f"深圳市{district}{street}街道{rng.randrange(1, 200)}号"
            station = (
                f"深圳市公安局{rng.choice(SZ_DISTRICTS)}分局{rng.choice(('桃源', '粤海', '西乡'))}派出所"
            )
            w.rows["household_registrations"].append(
                {
                    "id_number": number,
                    "name": name,
                    "address": address,
                    "police_station": station,
                    "status": status,
                    "registered_on": iso(registered_on),
                    "left_on": None if status == "registered" else iso(add_years(registered_on, 1)),
                }
            )
        for category in crimes:
            decided = add_years(birth, 19)
            w.rows["criminal_records"].append(
                {
                    "id_number": number,
                    "record_no": f"{'刑' if category == 'criminal' else '治'}{decided.year}"
                    f"{g.w.next_no('crime', 30101):05d}",
                    "category": category,
                    "offence": "盗窃" if category == "criminal" else "扰乱公共秩序",
                    "decided_on": iso(decided),
                    "authority": "某市人民法院" if category == "criminal" else "某市公安局某分局",
                }
            )
        employer = employer or rng.choice(employers)
        payer = insured_by or employer
        for k, month in enumerate(months_before(submitted, insured_months)):
            if skip_last_month and k == insured_months - 1:
                continue
            w.rows["social_insurance"].append(
                {"id_number": number, "employer_credit_code": payer, "month": month}
            )
        applicant: dict[str, object] = {"kind": kind, "name": form_name or name}
        if kind == "person":
            applicant["id_number"] = number
        else:
            applicant["credit_code"] = employer
            applicant["name"] = SZ_EMPLOYERS[0]
        body = {
            "item": "graduate-hukou",
            "case_id": cid,
            "submitted_at": stamp(submitted, len(cases)),
            "applicant": applicant,
            "form": {"degree": degree, "school": declared_school or school, "employer_credit_code": employer},
            "documents": [],
            "commitments": ["graduate_info_truthful"] if commitment else [],
        }
        cases.append(CaseFile(body, title, want, []))

    # -- approvals, one per degree, and the everyday variations -------------------------------------
    case("gh-01-bachelor", "全日制本科，今年毕业，由存续单位接收并缴纳社保：秒批", ok)
    case("gh-02-master", "全日制硕士研究生，今年毕业：秒批", ok, degree="master")
    case("gh-03-doctor", "全日制博士研究生，今年毕业：秒批", ok, degree="doctor")
    case(
        "gh-04-master-after-part-time-bachelor",
        "申报全日制硕士；此前的本科为非全日制，不影响本次申报的学历：秒批",
        ok,
        degree="master",
        extra_degrees=(("bachelor", "part_time"),),
    )
    case("gh-05-graduated-today", "毕业当日申请（毕业日期等于申请日）：秒批", ok, graduated=GRAD_S)
    case(
        "gh-06-hukou-moved-out",
        "曾在本市登记户口、已迁出，现无在册户口：秒批",
        ok,
        hukou=("moved_out",),
    )
    case(
        "gh-07-public-security-only",
        "仅有治安管理处罚记录、无刑事处罚：秒批",
        ok,
        crimes=("public_security",),
    )
    case(
        "gh-08-insured-one-month",
        "接收单位只缴纳了申请前 1 个月的社保（新入职）：秒批",
        ok,
        insured_months=1,
    )
    case(
        "gh-09-hukou-cancelled-elsewhere",
        "本市户口登记早已注销，并无在册户口：秒批",
        ok,
        hukou=("cancelled",),
        degree="master",
    )
    # -- the age limits, the day before, at and after the birthday that reaches them -------------------
    for n, (degree, label) in enumerate((("bachelor", "本科"), ("master", "硕士"), ("doctor", "博士"))):
        limit = GRAD_AGE_LIMIT[degree]
        birthday = add_years(GRAD_S, -limit)  # born on this day: reaches the limit on GRAD_S
        no = 10 + 3 * n
        case(
            f"gh-{no:02d}-{degree}-day-before-{limit}",
            f"{label}：申请日为 {limit} 周岁生日前一天（{limit - 1} 周岁）：秒批",
            Want("approved", extra={"age_limit": limit}),
            degree=degree,
            birth=birthday + timedelta(days=1),
        )
        case(
            f"gh-{no + 1:02d}-{degree}-on-{limit}th-birthday",
            f"{label}：申请日恰为 {limit} 周岁生日（已满 {limit} 周岁）：不予受理",
            Want("rejected", failed=("age_within_limit",), extra={"age_limit": limit}),
            degree=degree,
            birth=birthday,
        )
        case(
            f"gh-{no + 2:02d}-{degree}-day-after-{limit}",
            f"{label}：{limit} 周岁生日的次日申请：不予受理",
            Want("rejected", failed=("age_within_limit",), extra={"age_limit": limit}),
            degree=degree,
            birth=birthday - timedelta(days=1),
        )
    # -- graduation within two years ------------------------------------------------------------------
    case(
        "gh-19-graduated-exactly-two-years",
        "毕业恰满 24 个月的当日申请：仍在两年内，秒批",
        Want("approved", extra={"graduation_deadline": iso(GRAD_S)}),
        graduated=add_months(GRAD_S, -24),
    )
    case(
        "gh-20-graduated-two-years-and-a-day",
        "毕业 24 个月又 1 天：超出两年，转人工",
        Want("review", failed=("graduated_within_window",)),
        graduated=add_months(GRAD_S, -24) - timedelta(days=1),
    )
    case(
        "gh-21-not-yet-graduated",
        "学历记录的毕业日期在申请日之后（尚未毕业）：转人工",
        Want("review", failed=("graduated_within_window",)),
        graduated=GRAD_S + timedelta(days=40),
    )
    case(
        "gh-22-graduation-date-missing",
        "学历记录缺少毕业日期：无法判断，转人工（缺数据不秒批）",
        Want("review", unknown=("graduated_within_window",)),
        graduation_missing=True,
    )
    # -- education ------------------------------------------------------------------------------------
    case(
        "gh-23-part-time",
        "申报学历为非全日制：转人工",
        Want("review", failed=("full_time_study",)),
        degree="master",
        study_mode="part_time",
    )
    case(
        "gh-24-junior-college",
        "申报学历为专科（大专）：不予受理",
        Want("rejected", failed=("degree_eligible",)),
        degree="junior_college",
    )
    case(
        "gh-25-degree-not-on-record",
        "申报硕士，学历学位信息库只有本科记录且未提交证书：退回补正（缺数据不秒批）",
        Want(
            "returned",
            failed=("degree_on_record",),
            unknown=("full_time_study", "school_matches", "graduated_within_window"),
            missing=("graduation_certificate",),
        ),
        degree="master",
        record_degree="bachelor",
    )
    case(
        "gh-26-school-differs",
        "申报毕业院校与学历记录不一致：转人工",
        Want("review", failed=("school_matches",)),
        declared_school="北京某某学院",
    )
    # -- hukou, crimes, identity ----------------------------------------------------------------------
    case(
        "gh-27-already-city-hukou",
        "申请人已有本市在册常住户口：不予受理",
        Want("rejected", failed=("not_registered_in_city",)),
        hukou=("registered",),
    )
    case(
        "gh-28-criminal-record",
        "有刑事处罚记录：转人工",
        Want("review", failed=("no_criminal_record",)),
        crimes=("criminal", "public_security"),
    )
    case(
        "gh-29-not-in-population",
        "人口基础信息库无申请人记录：年龄无法判断，转人工（缺数据不秒批）",
        Want(
            "review",
            failed=("applicant_registered",),
            unknown=("applicant_name_matches", "age_within_limit"),
        ),
        population=None,
    )
    case(
        "gh-30-name-differs",
        "申请人姓名与人口库不一致：转人工",
        Want("review", failed=("applicant_name_matches",)),
        form_name="王某某",
    )
    case(
        "gh-31-population-cancelled",
        "人口库中申请人户籍状态为注销：转人工",
        Want("review", failed=("applicant_registered",)),
        population="cancelled",
    )
    # -- the employer and its social insurance --------------------------------------------------------
    case(
        "gh-32-employer-revoked",
        "接收单位已被吊销营业执照：转人工",
        Want("review", failed=("employer_active",)),
        employer=revoked,
    )
    case(
        "gh-33-employer-unregistered",
        "接收单位在市场主体登记信息库中查无记录：转人工",
        Want("review", failed=("employer_active",)),
        employer=unregistered,
    )
    case(
        "gh-34-insured-by-another-company",
        "社保由另一家单位缴纳，并非接收单位：转人工",
        Want("review", failed=("insured_by_employer",)),
        insured_by=other_employer,
    )
    case(
        "gh-35-last-month-not-insured",
        "接收单位缴过社保，但申请前 1 个月未缴：转人工",
        Want("review", failed=("insured_by_employer",)),
        skip_last_month=True,
    )
    # -- materials, the applicant's kind and several problems at once ---------------------------------
    case(
        "gh-36-no-commitment",
        "未签署个人信息真实性承诺：退回补正",
        Want("returned", missing=("truthful_commitment",)),
        commitment=False,
    )
    case(
        "gh-37-enterprise-applicant",
        "以企业名义申请（本事项只受理个人）：不予受理，不作判定",
        Want("refused"),
        kind="enterprise",
    )
    case(
        "gh-38-several-problems",
        "非全日制且接收单位未缴社保：各项原因一次告知，转人工",
        Want("review", failed=("full_time_study", "insured_by_employer")),
        study_mode="part_time",
        insured_by=other_employer,
    )
    case(
        "gh-39-doctor-insured-long",
        "博士研究生，去年毕业，接收单位已连续缴纳社保：秒批",
        ok,
        degree="doctor",
        graduated=date(2025, 7, 1),
    )
    case(
        "gh-40-bachelor-last-year",
        "本科，去年毕业（两年内）：秒批",
        ok,
        graduated=date(2025, 6, 28),
    )
    case(
        "gh-41-master-last-year",
        "硕士研究生，去年毕业，已由接收单位缴纳社保：秒批",
        ok,
        degree="master",
        graduated=date(2025, 6, 30),
    )
    case(
        "gh-42-doctor-aged-40",
        "博士研究生，40 周岁（博士学历的年龄上限为未满 45 周岁）：秒批",
        Want("approved", extra={"age_limit": 45}),
        degree="doctor",
        birth=date(1986, 3, 14),
    )
    return cases


def oracle_graduate(case: dict, reg: dict) -> dict:
    applicant = case["applicant"]
    if applicant["kind"] != "person":
        return {"refused": ["applicant.kind"], "_conditions": {}}
    s = date.fromisoformat(case["submitted_at"][:10])
    form, me = case["form"], applicant["id_number"]
    person = next((r for r in reg["population"] if r["id_number"] == me), None)
    edu = next(
        (r for r in reg["academic_records"] if r["id_number"] == me and r["degree"] == form["degree"]), None
    )
    limit = GRAD_AGE_LIMIT.get(form["degree"], GRAD_AGE_LIMIT["bachelor"])
    c: dict[str, str] = {}
    c["applicant_registered"] = pass_fail(person is not None and person["status"] == "normal")
    c["applicant_name_matches"] = (
        "unknown" if person is None else pass_fail(applicant["name"] == person["name"])
    )
    c["degree_eligible"] = pass_fail(form["degree"] in ("bachelor", "master", "doctor"))
    c["degree_on_record"] = pass_fail(edu is not None)
    graduated = date.fromisoformat(edu["graduated_on"]) if edu and edu["graduated_on"] else None
    if edu is None:
        c["full_time_study"] = c["school_matches"] = c["graduated_within_window"] = "unknown"
    else:
        c["full_time_study"] = pass_fail(edu["study_mode"] == "full_time")
        c["school_matches"] = pass_fail(form["school"] == edu["school"])
        c["graduated_within_window"] = (
            "unknown" if graduated is None else pass_fail(graduated <= s <= add_months(graduated, 24))
        )
    if person is None:
        c["age_within_limit"] = "unknown"
    else:
        c["age_within_limit"] = pass_fail(age_on(date.fromisoformat(person["birth_date"]), s) < limit)
    c["not_registered_in_city"] = pass_fail(
        not any(r["id_number"] == me and r["status"] == "registered" for r in reg["household_registrations"])
    )
    c["no_criminal_record"] = pass_fail(
        not any(r["id_number"] == me and r["category"] == "criminal" for r in reg["criminal_records"])
    )
    employer = next((r for r in reg["enterprises"] if r["credit_code"] == form["employer_credit_code"]), None)
    c["employer_active"] = pass_fail(employer is not None and employer["status"] == "active")
    wanted = set(months_before(s, 1))
    paid = sum(
        1
        for r in reg["social_insurance"]
        if r["id_number"] == me
        and r["employer_credit_code"] == form["employer_credit_code"]
        and r["month"] in wanted
    )
    c["insured_by_employer"] = pass_fail(paid >= 1)
    kinds = {d["kind"] for d in case["documents"]}
    materials = {
        "graduation_certificate": edu is not None or "graduation_certificate" in kinds,
        "truthful_commitment": "graduate_info_truthful" in case["commitments"],
    }
    outcome, failed, unknown, missing = decide(c, GRAD_REJECTING, materials)
    outputs: dict[str, object] = {"age_limit": limit}
    if graduated is not None:
        outputs["graduation_deadline"] = iso(add_months(graduated, 24))
    return {
        "outcome": outcome,
        "outputs": outputs,
        "failed": failed,
        "unknown": unknown,
        "missing_materials": missing,
        "_conditions": c,
    }


# --------------------------------------------------------------------------------------------
# Main: build, write, read back, decide, check, summarise
# --------------------------------------------------------------------------------------------


def write_cases(item: str, cases: list[CaseFile]) -> None:
    folder = HERE / item / "cases"
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.json"), *folder.glob("*.pdf")]:  # the sample documents live elsewhere
        old.unlink()
    for cf in cases:
        path = folder / f"{cf.case['case_id']}.json"
        path.write_text(json.dumps(cf.case, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        for pdf in cf.pdfs:
            if "/" in pdf:
                raise SystemExit(f"refusing to write outside the case folder: {pdf}")
            (folder / pdf).write_bytes(BROKEN_PDF if pdf.startswith("broken-") else PDF_BYTES)


def check_numbers(reg: dict) -> list[str]:
    """Every ID number valid and matching its birth date; every credit code valid."""
    problems = []
    for r in reg["population"]:
        if (
            not ric.is_valid(r["id_number"])
            or ric.get_birth_date(r["id_number"]).isoformat() != r["birth_date"]
        ):
            problems.append(f"population {r['id_number']}")
        if (int(r["id_number"][16]) % 2 == 1) != (r["gender"] == "男"):
            problems.append(f"gender {r['id_number']}")
    for r in reg["enterprises"]:
        if not uscc.is_valid(r["credit_code"]):
            problems.append(f"credit code {r['credit_code']}")
    id_columns = [
        ("marriage", "id_number"),
        ("marriage", "spouse_id_number"),
        ("kinship", "parent_id_number"),
        ("kinship", "child_id_number"),
        ("real_estate", "owner_id_number"),
        ("contract_filings", "buyer_id_number"),
        ("social_insurance", "id_number"),
        ("academic_records", "id_number"),
        ("household_registrations", "id_number"),
        ("criminal_records", "id_number"),
    ]
    for table, col in id_columns:
        problems += [f"{table}.{col} {r[col]}" for r in reg[table] if not ric.is_valid(r[col])]
    problems += [
        f"certificate holder {r['holder_id']}"
        for r in reg["certificates"]
        if not (ric.is_valid(r["holder_id"]) or uscc.is_valid(r["holder_id"]))
    ]
    return problems


def main() -> int:
    w = World()
    items = {"deed-tax": build_deed_tax(w), "safety-permit-renewal": build_safety(w)}
    items["graduate-hukou"] = build_graduate(w)  # last, with a generator of its own
    w.write_csvs()
    for item, cases in items.items():
        write_cases(item, cases)

    reg = load_registries()
    errors = check_numbers(reg)
    oracles = {
        "deed-tax": oracle_deed_tax,
        "safety-permit-renewal": oracle_safety,
        "graduate-hukou": oracle_graduate,
    }
    for item, built in items.items():
        expected: dict[str, dict] = {}
        coverage: dict[str, Counter[str]] = {}
        outcomes: Counter[str] = Counter()
        print(f"\n== {item}: {len(built)} cases")
        for cf in built:
            cid = str(cf.case["case_id"])
            case = json.loads((HERE / item / "cases" / f"{cid}.json").read_text(encoding="utf-8"))
            result = oracles[item](case, reg)
            for cond, status in result.pop("_conditions").items():
                coverage.setdefault(cond, Counter())[status] += 1
            if "refused" in result:
                # refused before it is decided (an applicant of a kind the item does not serve)
                outcomes["refused"] += 1
                expected[cid] = {"title": cf.title, "refused": result["refused"]}
                if cf.want.outcome != "refused":
                    errors.append(f"{cid}: oracle refuses it, intended {cf.want}")
                print(f"  {cid:45} refused   {','.join(result['refused'])}")
                continue
            outcomes[result["outcome"]] += 1
            expected[cid] = {"title": cf.title, **result}
            unreadable = [
                d["path"]
                for d in case["documents"]
                if d["path"].startswith("..") and doc_truth(HERE / item / "cases", d["path"]) == {}
            ]
            if unreadable:
                # which fields a deliberately unreadable scan still yields is not fixed: assert only that
                # the case is not approved on it (the outcome), not which conditions stay unknown
                for key in ("failed", "unknown"):
                    del expected[cid][key]
            want = cf.want
            got = (
                result["outcome"],
                set(result["failed"]),
                set(result["unknown"]),
                set(result["missing_materials"]),
            )
            if got != (want.outcome, set(want.failed), set(want.unknown), set(want.missing)):
                errors.append(f"{cid}: oracle {got} != intended {want}")
            for key, value in want.extra.items():
                if result["outputs"].get(key) != value:
                    errors.append(f"{cid}: output {key}={result['outputs'].get(key)!r}, intended {value!r}")
            extra = ",".join(
                result["failed"]
                + [f"?{u}" for u in result["unknown"]]
                + [f"!{m}" for m in result["missing_materials"]]
            )
            print(f"  {cid:45} {result['outcome']:9} {extra}")
        (HERE / item / "expected.json").write_text(
            json.dumps(dict(sorted(expected.items())), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

        print(f"  outcomes: {dict(sorted(outcomes.items()))}")
        for cond, counts in coverage.items():
            print(
                f"  {cond:30} pass {counts['pass']:3}  fail {counts['fail']:3}  unknown {counts['unknown']:3}"
            )
            if not counts["pass"] or not counts["fail"]:
                errors.append(f"{item}: condition {cond} does not both pass and fail")
        if set(outcomes) - {"refused"} != {"approved", "review", "returned"} | (
            {"rejected"} if item != "deed-tax" else set()
        ):
            errors.append(f"{item}: outcomes covered {sorted(outcomes)}")
        if outcomes["approved"] < 0.4 * len(built):
            errors.append(f"{item}: only {outcomes['approved']} of {len(built)} approved")

    print("\nshared data: " + ", ".join(f"{k} {len(v)}" for k, v in reg.items()))
    for e in errors:
        print("ERROR:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
