"""Key-value extraction by declared labels, on hand-built result trees (no OCR needed)."""

from __future__ import annotations

from engine.model import DocField
from extractors.fields import extract_fields
from extractors.model import Line, Page, ReadDocument

H = 30.0  # line height in pixels


def line(text: str, x: float, row: float, *, conf: float = 0.99, width: float | None = None) -> Line:
    w = width if width is not None else 28.0 * len(text)
    y = 100 + row * 50
    return Line(text=text, box=(x, y, x + w, y + H), confidence=conf)


def doc(*lines: Line, pages: int = 1) -> ReadDocument:
    return ReadDocument(
        path="t.png",
        media_type="image/png",
        method="ocr",
        pages=(Page(number=1, width=1654, height=2339, method="ocr", lines=tuple(lines)),),
    )


CONTRACT = {
    "buyer_names": DocField(
        title="买受人", type="names", labels=["买受人", "买方"], section=["买受人", "买方"]
    ),
    "buyer_id_numbers": DocField(
        title="买受人身份证号码", type="id_numbers", labels=["身份证号码"], section=["买受人", "买方"]
    ),
    "seller": DocField(title="出卖人", type="text", labels=["出卖人", "卖方"], section=["出卖人", "卖方"]),
    "house_address": DocField(title="房屋坐落", type="text", labels=["房屋坐落", "房屋地址"]),
    "area_m2": DocField(title="建筑面积", type="area", labels=["建筑面积"]),
    "price_yuan": DocField(
        title="总价", type="amount", labels=["合同总价", "总价款"], capitals_labels=["大写"]
    ),
    "usage": DocField(title="用途", type="text", labels=["规划用途"], choices={"住宅": "residential"}),
    "signed_on": DocField(title="签订日期", type="date", labels=["合同签订日期", "签订日期"]),
}
OTHER = ["套内建筑面积", "统一社会信用代码", "联系电话", "通讯地址"]


def test_form_layout_values_right_of_labels() -> None:
    d = doc(
        line("卖方", 80, 0),
        line("成都天府置业有限公司", 200, 0),
        line("统一社会信用代码：91510116MA6G6MFY9C", 80, 1),
        line("买方", 80, 2),
        line("余娜雪", 200, 2),
        line("身份证号码", 400, 2),
        line("510106199509110988", 600, 2),
        line("联系电话：15842696959", 80, 3),
        line("房屋地址：成都市成华区府青路二段1166号", 80, 4),
        line("建筑面积：108.00平方米", 80, 5),
        line("套内建筑面积：86.40平方米", 600, 5),
        line("规划用途：住宅", 80, 6),
        line("合同总价：人民币（小写）1,950,000.00元", 80, 7),
        line("人民币（大写）：壹佰玖拾伍万元整", 80, 8),
        line("合同签订日期 2026年10月17日", 80, 9),
    )
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    values = {k: f.value for k, f in ex.fields.items()}
    assert values == {
        "buyer_names": ["余娜雪"],
        "buyer_id_numbers": ["510106199509110988"],
        "seller": "成都天府置业有限公司",
        "house_address": "成都市成华区府青路二段1166号",
        "area_m2": "108.00",
        "price_yuan": "1950000.00",
        "usage": "residential",
        "signed_on": "2026-10-17",
    }, ex.problems
    assert ex.fields["price_yuan"].page == 1
    assert ex.fields["area_m2"].box[0] == 80


def test_value_below_label_and_wrapped_address() -> None:
    d = doc(
        line("买受人：", 80, 0),
        line("陈晓明", 80, 1),
        line("身份证号码：510104199105060117", 80, 2),
        line("房屋坐落：成都市高新区天府大道", 80, 3),
        line("100号1栋2单元301室", 80 + 28 * 5, 4),
        line("总价款", 80, 5),
        line("1.580.000.00元", 80, 6),
        line("大写：壹佰伍拾捌万元整", 80, 7),
    )
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    assert ex.fields["buyer_names"].value == ["陈晓明"]
    assert ex.fields["house_address"].value == "成都市高新区天府大道100号1栋2单元301室"
    assert ex.fields["price_yuan"].value == "1580000.00"
    assert {p.field for p in ex.problems} >= {"area_m2", "signed_on"}


def test_two_buyers_in_their_section_and_seller_id_not_taken() -> None:
    d = doc(
        line("出卖人：刘强", 80, 0),
        line("身份证号码：510104198603040317", 80, 1),
        line("买受人：林芳、黄伟", 80, 2),
        line("身份证号码：510104198502030224", 80, 3),
        line("身份证号码：510104197912010416", 80, 4),
    )
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    assert ex.fields["buyer_names"].value == ["林芳", "黄伟"]
    assert ex.fields["buyer_id_numbers"].value == ["510104198502030224", "510104197912010416"]
    assert ex.fields["seller"].value == "刘强"


def test_capitals_disagreeing_with_digits_make_the_price_unreadable() -> None:
    d = doc(line("合同总价：1,950,000.00元", 80, 0), line("大写：壹佰玖拾万元整", 80, 1))
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    assert "price_yuan" not in ex.fields
    assert any(p.field == "price_yuan" and p.code == "amounts_disagree" for p in ex.problems)


def test_conflicting_values_are_not_guessed() -> None:
    d = doc(line("建筑面积：108.00平方米", 80, 0), line("建筑面积：118.00平方米", 80, 1))
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    assert "area_m2" not in ex.fields
    assert any(p.code == "conflicting_values" for p in ex.problems)


def test_confidence_comes_from_the_lines_read() -> None:
    d = doc(line("建筑面积：108.00平方米", 80, 0, conf=0.61))
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    assert ex.fields["area_m2"].confidence == 0.61


def test_id_number_corrected_only_through_its_checksum() -> None:
    d = doc(line("买受人：陈晓明", 80, 0), line("身份证号码：51O104199105060117", 80, 1))
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    got = ex.fields["buyer_id_numbers"]
    assert got.value == ["510104199105060117"]
    assert got.corrections and got.confidence < 0.99


def test_unknown_usage_wording_is_unreadable() -> None:
    d = doc(line("规划用途：仓储", 80, 0))
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    assert "usage" not in ex.fields
    assert any(p.code == "unknown_wording" for p in ex.problems)


def test_a_row_with_thousands_separators_is_not_joined_to_the_next() -> None:
    """Commas between digits are not the commas of running text: the 大写 row stays its own row, so
    the price is read in digits and in capitals, and both must agree."""
    d = doc(
        line("合同总价：人民币（小写）1,950,000.00元", 80, 0),
        line("人民币（大写）：壹佰玖拾伍万元整", 80, 0.7),
    )
    ex = extract_fields(d, kind="purchase_contract", fields=CONTRACT, other_labels=OTHER)
    got = ex.fields["price_yuan"]
    assert got.value == "1950000.00"
    assert "1,950,000.00" in got.raw and "壹佰玖拾伍万元整" in got.raw
