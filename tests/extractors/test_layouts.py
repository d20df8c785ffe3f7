"""The field reader on real-world layouts: role qualifiers, party blocks with agents, fill-in blanks,
wrapped values, label-above-value cells, dashed ranges, ticked options, stamps, two candidates.

Hand-built result trees use the rulesets' own declarations (labels, sections, party sub-labels), so a
test fails when either the reader or the declarations stop covering a layout; the generated tuning
documents of samples/documents/layouts/ are read end to end (their text layers need no OCR)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model import DocField
from extractors.fields import extract_fields
from extractors.model import Extraction, Line, Page, ReadDocument
from extractors.options import ExtractOptions
from extractors.parsers import amount_to_capitals
from extractors.reader import read_document
from service.rulesets import RulesetCatalogue

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = ROOT / "samples" / "documents" / "layouts"
H = 30.0  # line height (px)
CH = 28.0  # character width (px)


@cache
def specs() -> dict[str, tuple[dict[str, DocField], list[str]]]:
    repo = RulesetCatalogue(ROOT / "rulesets")
    out: dict[str, tuple[dict[str, DocField], list[str]]] = {}
    for item in repo.items():
        for m in repo.get(item).ruleset.materials:
            if m.document_kind and m.fields:
                out.setdefault(m.document_kind, (m.fields, m.other_labels))
    return out


def line(text: str, x: float, row: float, *, conf: float = 0.99, y: float | None = None) -> Line:
    top = y if y is not None else 100 + row * 50
    return Line(text=text, box=(x, top, x + CH * len(text), top + H), confidence=conf)


def read(kind: str, *lines: Line) -> Extraction:
    doc = ReadDocument(
        path="t.png",
        media_type="image/png",
        method="ocr",
        pages=(Page(number=1, width=1654, height=2339, method="ocr", lines=tuple(lines)),),
    )
    fields, other = specs()[kind]
    return extract_fields(doc, kind=kind, fields=fields, other_labels=other)


def codes(ex: Extraction, field: str) -> set[str]:
    return {p.code for p in ex.problems if p.field == field}


BUYER_ID = "510104198502030224"
BUYER2_ID = "510104197912010416"
AGENT_ID = "510104196803040313"
SELLER_ID = "510104198603040317"


# --- role qualifiers and enclosed labels ---------------------------------------------------------


@pytest.mark.parametrize(
    ("seller_label", "buyer_label"),
    [
        ("出卖人（甲方）：", "买受人（乙方）："),
        ("甲方（出卖人）：", "乙方（买受人）："),
        ("出卖人(甲方):", "买受人(乙方):"),
        ("出卖人【甲方】：", "买受人〔乙方〕："),
        ("出卖人∶", "买受人（一）："),
    ],
)
def test_role_qualifiers_are_not_part_of_the_value(seller_label: str, buyer_label: str) -> None:
    ex = read(
        "purchase_contract",
        line(seller_label + "刘强", 80, 0),
        line("证件号码：" + SELLER_ID, 80, 1),
        line(buyer_label + "林芳", 80, 2),
        line("证件号码：" + BUYER_ID, 80, 3),
    )
    assert ex.fields["seller"].value == "刘强"
    assert ex.fields["buyer_names"].value == ["林芳"]
    assert ex.fields["buyer_id_numbers"].value == [BUYER_ID]


def test_a_signature_qualifier_is_not_a_party() -> None:
    ex = read(
        "purchase_contract",
        line("买受人：林芳", 80, 0),
        line("买受人（签章）：", 80, 4),
        line("合同专用章", 80, 5),
    )
    assert ex.fields["buyer_names"].value == ["林芳"]


# --- party blocks -----------------------------------------------------------------------------------


def test_agent_inside_the_buyers_block_keeps_its_own_id_number() -> None:
    ex = read(
        "purchase_contract",
        line("买受人：林芳", 80, 0),
        line("【法定代表人】【负责人】：", 80, 1),
        line("/", 500, 1),
        line("证件类型：【√居民身份证】【护照】【营业执照】，证号：", 80, 2),
        line(BUYER_ID, 1000, 2),
        line("【委托代理人】【√法定代理人】：", 80, 3),
        line("王军", 600, 3),
        line("证件类型：【√居民身份证】【护照】【营业执照】，证号：", 80, 4),
        line(AGENT_ID, 1000, 4),
        line("买受人：黄伟", 80, 5),
        line("证件号码：" + BUYER2_ID, 80, 6),
    )
    assert ex.fields["buyer_names"].value == ["林芳", "黄伟"]
    assert ex.fields["buyer_id_numbers"].value == [BUYER_ID, BUYER2_ID]


@pytest.mark.parametrize("sub", ["法定代表人", "委托代理人", "法定代理人", "代理人"])
def test_a_representatives_id_on_the_buyers_line_is_not_the_buyers(sub: str) -> None:
    ex = read(
        "purchase_contract",
        line("买受人：林芳", 80, 0),
        line("身份证号码：" + BUYER_ID, 80, 1),
        line(f"{sub}：王军", 80, 2),
        line("身份证号码：" + AGENT_ID, 500, 2),
    )
    assert ex.fields["buyer_id_numbers"].value == [BUYER_ID]


def test_a_co_owner_in_the_buyers_block_makes_the_buyers_unclear() -> None:
    ex = read(
        "purchase_contract",
        line("买受人（乙方）：林芳", 80, 0),
        line("身份证号码：" + BUYER_ID, 80, 1),
        line("共有权人：王军 身份证号码：" + AGENT_ID, 80, 2),
    )
    assert "buyer_id_numbers" not in ex.fields
    assert "party_unclear" in codes(ex, "buyer_id_numbers")


def test_a_co_owner_in_the_sellers_block_is_not_a_buyer() -> None:
    ex = read(
        "purchase_contract",
        line("出卖人（甲方）：刘强", 80, 0),
        line("证件号码：" + SELLER_ID, 80, 1),
        line("共有权人：王军 证件号码：" + AGENT_ID, 80, 2),
        line("买受人（乙方）：林芳", 80, 3),
        line("证件号码：" + BUYER_ID, 80, 4),
    )
    assert ex.fields["buyer_id_numbers"].value == [BUYER_ID]
    assert ex.fields["seller"].value == "刘强"


def test_an_agents_items_glued_to_the_sub_label_are_the_agents() -> None:
    ex = read(
        "purchase_contract",
        line("买受人（乙方）：", 80, 0),
        line("姓名：林芳", 80, 1),
        line("委托代理人姓名：王军", 80, 2),
        line("委托代理人证件号码：" + AGENT_ID, 80, 3),
    )
    assert ex.fields["buyer_names"].value == ["林芳"]
    assert "buyer_id_numbers" not in ex.fields


def test_a_synonym_in_brackets_is_not_a_signature_qualifier() -> None:
    ex = read("business_licence", line("法定代表人（负责人）：杨辉玉", 80, 0))
    assert ex.fields["legal_representative"].value == "杨辉玉"


def test_party_sub_labels_need_a_section() -> None:
    with pytest.raises(ValueError, match="section"):
        DocField(title="x", type="id_numbers", labels=["证件号码"], excluded_sublabels=["委托代理人"])


def test_only_an_agents_id_means_no_buyer_id() -> None:
    ex = read(
        "purchase_contract",
        line("买受人：林芳", 80, 0),
        line("委托代理人：王军 证件号码：" + AGENT_ID, 80, 1),
    )
    assert "buyer_id_numbers" not in ex.fields
    assert codes(ex, "buyer_id_numbers")


# --- values in sentences, fill-in blanks, split dates ----------------------------------------------


def test_area_and_price_inside_articles() -> None:
    ex = read(
        "purchase_contract",
        line("4.该商品房的房产测绘机构为某测绘公司，其实测建筑面积共", 80, 0),
        line("89.50", 80 + CH * 27, 0),
        line("平方米，其中套内建筑面积", 80, 1),
        line("72.30", 80 + CH * 13, 1),
        line("平方米，分摊共有建筑面积17.20平方米。", 80 + CH * 16, 1),
        line("2.按照建筑面积计算，该商品房单价为（人民币）每平方米21,508.38元，总价款为（人民币）", 80, 3),
        line("1,925,000.00", 80, 4),
        line("元（大写", 80 + CH * 13, 4),
        line("壹佰玖拾贰万伍仟", 80 + CH * 18, 4),
        line("元整）。", 80 + CH * 27, 4),
    )
    assert ex.fields["area_m2"].value == "89.50"
    assert ex.fields["price_yuan"].value == "1925000.00"


def test_price_in_wan_yuan() -> None:
    ex = read(
        "purchase_contract",
        line("第二条 甲、乙双方经协商一致，同意上述房地产转让价款共计人民币", 80, 0),
        line("192.5", 80 + CH * 31, 0),
        line("万元（大写：壹佰玖拾贰万伍仟元整）。", 80, 1),
    )
    assert ex.fields["price_yuan"].value == "1925000.00"


def test_struck_out_options_and_the_chosen_one() -> None:
    ex = read(
        "purchase_contract",
        line("1.按照套内建筑面积计算，总价款为（人民币）", 80, 0),
        line("×", 80 + CH * 22, 0),
        line("元。", 80 + CH * 25, 0),
        line("2.按照建筑面积计算，总价款为（人民币）", 80, 1),
        line("2,365,000.00", 80 + CH * 21, 1),
        line("元。", 80 + CH * 34, 1),
    )
    assert ex.fields["price_yuan"].value == "2365000.00"


@pytest.mark.parametrize(
    "pieces",
    [
        ["签订时间：", "2026", "年", "10", "月", "17", "日"],
        ["签订日期：", "2026 年", "10 月", "17 日"],
        ["签约日期", "2026年10月", "17日"],
    ],
)
def test_date_in_separate_blanks(pieces: list[str]) -> None:
    x, lines = 80.0, []
    for piece in pieces:
        lines.append(line(piece, x, 0))
        x += CH * len(piece) + 3 * H  # gaps wider than a column gap
    ex = read("purchase_contract", *lines)
    assert ex.fields["signed_on"].value == "2026-10-17"


def test_unfilled_date_blanks_are_a_problem_not_a_value() -> None:
    ex = read("purchase_contract", line("签订时间：", 80, 0), line("年", 400, 0), line("月", 600, 0))
    assert "signed_on" not in ex.fields
    assert codes(ex, "signed_on")


def test_underscores_of_a_blank_do_not_stick_to_the_value() -> None:
    ex = read("purchase_contract", line("建筑面积：____89.50____平方米", 80, 0))
    assert ex.fields["area_m2"].value == "89.50"


# --- wraps -----------------------------------------------------------------------------------------


def test_value_wrapped_in_its_column_is_read_whole() -> None:
    ex = read(
        "business_licence",
        line("名称", 80, 0),
        line("成都锦程置业有限公司", 300, 0),
        line("住所", 900, 0),
        line("成都市成华区府青路", 1100, 0),
        line("类型", 80, 1),
        line("有限责任公司", 300, 1),
        line("二段1166号10栋", 1100, 1),
        line("法定代表人", 80, 2),
        line("杨辉玉", 300, 2),
    )
    assert ex.fields["address"].value == "成都市成华区府青路二段1166号10栋"
    assert ex.fields["name"].value == "成都锦程置业有限公司"
    assert ex.fields["legal_representative"].value == "杨辉玉"


def test_wrap_back_under_the_label_is_not_guessed() -> None:
    ex = read(
        "business_licence",
        line("名称：成都锦程置业建筑劳务", 80, 0),
        line("分包有限公司", 80, 0.6),
        line("法定代表人：杨辉玉", 80, 2),
    )
    assert "name" not in ex.fields
    assert "value_may_continue" in codes(ex, "name")
    assert ex.fields["legal_representative"].value == "杨辉玉"


# --- label above value -----------------------------------------------------------------------------


def test_label_above_value_cells_with_stacked_values() -> None:
    ex = read(
        "purchase_contract",
        line("出卖人", 80, 0),
        line("买受人", 700, 0),
        line("买受人证件号码", 1100, 0),
        line("某某房地产开发有限公司", 80, 1),
        line("林芳", 700, 1),
        line(BUYER_ID, 1100, 1),
        line("黄伟", 700, 1.7),
        line(BUYER2_ID, 1100, 1.7),
        line("合同签订日期", 80, 3),
        line("建筑面积（平方米）", 700, 3),
        line("2026年10月17日", 80, 4),
        line("89.50", 700, 4),
    )
    assert ex.fields["seller"].value == "某某房地产开发有限公司"
    assert ex.fields["buyer_names"].value == ["林芳", "黄伟"]
    assert ex.fields["buyer_id_numbers"].value == [BUYER_ID, BUYER2_ID]
    assert ex.fields["signed_on"].value == "2026-10-17"
    assert ex.fields["area_m2"].value == "89.50"


def test_empty_cell_does_not_take_the_next_label() -> None:
    ex = read(
        "business_licence",
        line("名称", 80, 0),
        line("统一社会信用代码", 700, 0),
        line("法定代表人", 80, 1),
        line("成立日期", 700, 1),
        line("杨辉玉", 80, 2),
        line("2015年03月12日", 700, 2),
    )
    assert "name" not in ex.fields
    assert ex.fields["legal_representative"].value == "杨辉玉"
    assert ex.fields["established_on"].value == "2015-03-12"


# --- ranges ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "有效期：2024年06月15日—2027年06月14日",
        "有效期：2024年6月15日-2027年6月14日",
        "有效期：2024年06月15日～2027年06月14日",
        "有效期：2024.06.15-2027.06.14",
        "有效期：自2024年6月15日至2027年6月14日止",
        "有效期限：2024-06-15 至 2027-06-14",
        "有效期：2024年06月15日一2027年06月14日",  # the dash read as 一
        "有效期：2024年06月15日2027年06月14日",  # the dash lost
    ],
)
def test_validity_ranges(text: str) -> None:
    ex = read("safety_permit", line("单位名称：某建设工程有限公司", 80, 0), line(text, 80, 1))
    assert ex.fields["valid_from"].value == "2024-06-15"
    assert ex.fields["valid_to"].value == "2027-06-14"


def test_range_in_fill_in_blanks() -> None:
    pieces = ["有效期：自", "2024", "年", "6", "月", "15", "日至", "2027", "年", "6", "月", "14", "日止"]
    x, lines = 80.0, []
    for piece in pieces:
        lines.append(line(piece, x, 0))
        x += CH * len(piece) + 3 * H
    ex = read("safety_permit", *lines)
    assert (ex.fields["valid_from"].value, ex.fields["valid_to"].value) == ("2024-06-15", "2027-06-14")


def test_issue_date_and_old_period_are_not_the_validity() -> None:
    ex = read(
        "safety_permit",
        line("有效期：2024年06月15日至2027年06月14日", 80, 0),
        line("发证日期：2024年06月10日", 80, 1),
        line("原有效期：2021年06月15日至2024年06月14日", 80, 2),
    )
    assert ex.fields["valid_from"].value == "2024-06-15"
    assert ex.fields["valid_to"].value == "2027-06-14"


@pytest.mark.parametrize(
    "number", ["（鄂）JZ安许证字【2005】000115", "(京)JZ安许证字[2010]0123", "（川）JZ安许证字〔2019〕351"]
)
def test_permit_numbers_with_any_brackets(number: str) -> None:
    ex = read("safety_permit", line("编号：" + number, 80, 0))
    assert ex.fields["permit_no"].value == number.replace("（", "(").replace("）", ")")


# --- ticks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("1.该商品房的规划用途为【√住宅】【办公】【商业】。", "residential"),
        ("1.该商品房的规划用途为【住宅】【√办公】【商业】。", "office"),
        ("规划用途：【住宅】【办公】【☑商业】", "commercial"),
        ("规划用途：【住宅】【办公】【商业】", None),
        ("规划用途：【√住宅】【√商业】", None),
    ],
)
def test_ticked_option(text: str, want: str | None) -> None:
    ex = read("purchase_contract", line(text, 80, 0))
    got = ex.fields.get("usage")
    assert (got.value if got else None) == want


# --- stamps ----------------------------------------------------------------------------------------


def test_stamp_text_beside_and_below_an_address_is_not_the_address() -> None:
    ex = read(
        "business_licence",
        line("名称：成都锦程置业有限公司", 80, 0),
        line("住所：成都市成华区府青路二段", 80, 1),
        line("与原件核对一致", 700, 1),
        line("经办人：王军", 80 + CH * 3, 1.6),
    )
    assert ex.fields["address"].value == "成都市成华区府青路二段"


def test_a_value_covered_by_other_text_is_not_given() -> None:
    name = line("成都锦程置业有限公司", 80 + CH * 3, 0)
    stamp = Line(
        text="合同专用",
        box=(name.box[0] + 40, name.box[1] + 8, name.box[0] + 200, name.box[3] + 8),
        confidence=0.9,
    )
    ex = read("business_licence", line("名称：", 80, 0), name, stamp)
    assert "name" not in ex.fields
    assert "value_covered" in codes(ex, "name")


# --- two candidates ---------------------------------------------------------------------------------


def test_two_totals_are_not_guessed() -> None:
    ex = read(
        "purchase_contract",
        line("（一）该房屋成交价格为：人民币3,250,000.00元（大写：叁佰贰拾伍万元整）。", 80, 0),
        line("补充条款：该房屋成交价格调整为人民币3,170,000.00元（大写：叁佰壹拾柒万元整）。", 80, 1),
    )
    assert "price_yuan" not in ex.fields
    assert "conflicting_values" in codes(ex, "price_yuan")


def test_two_buyers_names_for_one_seat_are_listed_not_merged() -> None:
    ex = read("purchase_contract", line("买受人：林芳、黄伟", 80, 0))
    assert ex.fields["buyer_names"].value == ["林芳", "黄伟"]


# --- properties -------------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
names = st.builds(
    lambda s, g: s + g, st.sampled_from(SURNAMES), st.text(alphabet=GIVEN, min_size=1, max_size=2)
)


def id_number(seed: int) -> str:
    born = date(1960, 1, 1) + timedelta(days=seed % 14000)
    body = f"510104{born:%Y%m%d}{seed % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    buyer=names,
    agent=names,
    seeds=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
    role=st.sampled_from(["买受人：", "买受人（乙方）：", "乙方（买受人）：", "买方：", "买受人（一）："]),
    sub=st.sampled_from(["委托代理人", "法定代理人", "【委托代理人】【√法定代理人】", "代理人"]),
    id_label=st.sampled_from(["身份证号码：", "证件号码：", "证件类型：【√居民身份证】【护照】，证号："]),
    same_line=st.booleans(),
)
def test_property_an_agents_id_never_becomes_a_buyers(
    buyer: str, agent: str, seeds: tuple[int, int], role: str, sub: str, id_label: str, same_line: bool
) -> None:
    own, other = id_number(seeds[0]), id_number(seeds[1])
    lines = [line(role + buyer, 80, 0), line(id_label + own, 80, 1)]
    if same_line:
        lines.append(line(f"{sub}：{agent} {id_label}{other}", 80, 2))
    else:
        lines += [line(f"{sub}：{agent}", 80, 2), line(id_label + other, 80, 3)]
    ex = read("purchase_contract", *lines)
    assert ex.fields["buyer_names"].value == [buyer]
    assert ex.fields["buyer_id_numbers"].value == [own]


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    years=st.integers(1, 5),
    sep=st.sampled_from(["至", "—", "-", "～", "——", " 至 "]),
    pad=st.booleans(),
)
def test_property_any_dashed_range_reads_both_ends(start: date, years: int, sep: str, pad: bool) -> None:
    end = start + timedelta(days=365 * years)

    def cn(d: date) -> str:
        return f"{d.year}年{d.month:02d}月{d.day:02d}日" if pad else f"{d.year}年{d.month}月{d.day}日"

    ex = read("safety_permit", line(f"有效期：{cn(start)}{sep}{cn(end)}", 80, 0))
    assert ex.fields["valid_from"].value == start.isoformat()
    assert ex.fields["valid_to"].value == end.isoformat()


@settings(max_examples=60, deadline=None)
@given(wan=st.integers(50, 5000), tenths=st.integers(0, 9), grouped=st.booleans())
def test_property_price_in_a_sentence(wan: int, tenths: int, grouped: bool) -> None:
    price = Decimal(wan * 10000 + tenths * 1000)
    digits = f"{price:,.2f}" if grouped else f"{price:.2f}"
    capitals = amount_to_capitals(price)
    text = f"该房屋成交价格为：人民币{digits}元（大写：{capitals}），单价为每平方米12,345.00元。"
    ex = read("purchase_contract", line(text, 80, 0))
    assert ex.fields["price_yuan"].value == f"{price:.2f}"


# --- the generated tuning documents, end to end ---------------------------------------------------


def _layout_docs() -> list[dict[str, Any]]:
    index = json.loads((LAYOUTS / "index.json").read_text(encoding="utf-8"))["documents"]
    return [e for e in index if e["text_layer"]]


KEY = {
    "purchase_contract": ("buyer_names", "buyer_id_numbers", "area_m2", "price_yuan", "signed_on"),
    "business_licence": ("name", "credit_code", "legal_representative", "established_on"),
    "safety_permit": ("permit_no", "enterprise_name", "valid_from", "valid_to"),
}
ABSENT = {
    ("lc-bj-c", "price_yuan"): "conflicting_values",  # a supplementary clause changes the price
    ("lb-cc-c", "name"): "value_may_continue",  # the name's second line goes back under the label
}


@pytest.mark.parametrize("entry", _layout_docs(), ids=lambda e: e["id"])
def test_generated_layouts_are_read(entry: dict[str, Any]) -> None:
    truth = json.loads((LAYOUTS / entry["truth"]).read_text(encoding="utf-8"))
    doc = read_document(LAYOUTS / entry["path"], options=ExtractOptions(), ocr=None)
    fields, other = specs()[entry["kind"]]
    ex = extract_fields(doc, kind=entry["kind"], fields=fields, other_labels=other)
    for name in KEY[entry["kind"]]:
        if (entry["id"], name) in ABSENT:
            assert name not in ex.fields
            assert ABSENT[entry["id"], name] in codes(ex, name)
            continue
        assert name in ex.fields, [p.message for p in ex.problems if p.field == name]
        assert ex.fields[name].value == truth["fields"][name]
