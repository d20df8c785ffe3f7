"""Parsers of values read from documents: table tests for each format and each refusal, and
hypothesis round-trips (amounts, capitals, dates, OCR-corrupted ID numbers and credit codes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from engine.identifiers import is_valid_credit_code, is_valid_id_number
from extractors.parsers import (
    Parsed,
    ParseError,
    amount_to_capitals,
    parse_amount_capitals,
    parse_amount_digits,
    parse_area,
    parse_credit_code,
    parse_date,
    parse_id_number,
    parse_id_numbers,
    parse_names,
    parse_text,
    reconcile_amounts,
)

ROUND_TRIPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ID = "11010519491231002X"
USCC = "91110000600037341L"
FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789,."})


def fails(fn: Callable[[str], Parsed], text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        fn(text)
    return info.value


# --------------------------------------------------------------------------------------------------
# Amounts in digits


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234,567.89", "1234567.89"),
        ("1234567.89元", "1234567.89"),
        ("¥1,234,567.89", "1234567.89"),
        ("￥1,234,567.89", "1234567.89"),
        ("人民币 1234567.89 元", "1234567.89"),
        ("１２３，４５６．７８", "123456.78"),
        ("1 234 567.89", "1234567.89"),
        ("1,234,567. 89 元整", "1234567.89"),
        ("123.45万元", "1234500.00"),
        ("123.4567万", "1234567.00"),
        ("1.5亿元", "150000000.00"),
        ("1234567", "1234567.00"),
        ("1,234,567", "1234567.00"),
        ("12,345.6", "12345.60"),
        ("1234.500", "1234.50"),
        ("0.00", "0.00"),
        ("RMB 99.00", "99.00"),
        ("总价款（小写）：¥1,234.00元", "1234.00"),
    ],
)
def test_amount_digits(text: str, value: str) -> None:
    parsed = parse_amount_digits(text)
    assert parsed.value == value
    assert parsed.raw == text.strip()
    assert parsed.corrections == ()
    assert parsed.confidence_factor == 1.0
    assert parsed.alternatives == ()


@pytest.mark.parametrize(
    ("text", "value", "corrections"),
    [
        ("1.234.567.89", "1234567.89", (".→, @2,6",)),
        ("1.234.567.8", "1234567.80", (".→, @2,6",)),
        ("12.345,678.90", "12345678.90", (".→, @3",)),
        ("１．２３４．５６７．８９元", "1234567.89", (".→, @2,6",)),
        ("1,234,56", "1234.56", (",→. @6",)),
        ("1234567。89", "1234567.89", ("。→. @8",)),
    ],
)
def test_amount_digits_ocr_separators(text: str, value: str, corrections: tuple[str, ...]) -> None:
    parsed = parse_amount_digits(text)
    assert (parsed.value, parsed.corrections) == (value, corrections)
    assert parsed.confidence_factor == pytest.approx(0.9)
    assert parsed.alternatives == ()


@pytest.mark.parametrize(
    ("text", "value", "alternatives"),
    [
        # the decimal reading when it is a two-place amount, the separator reading as alternative
        ("1.230", "1.23", ("1230.00",)),
        ("12.500", "12.50", ("12500.00",)),
        ("1.234万元", "12340.00", ("12340000.00",)),
        # 1.234 / 1,234.567 / 1.234.567 have three significant decimals: no amount of money
        ("1.234", "1234.00", ()),
        ("123.456", "123456.00", ()),
        ("1,234.567", "1234567.00", ()),
        ("1.234.567", "1234567.00", ()),
    ],
)
def test_amount_digits_ambiguous(text: str, value: str, alternatives: tuple[str, ...]) -> None:
    parsed = parse_amount_digits(text)
    assert (parsed.value, parsed.alternatives) == (value, alternatives)
    assert parsed.confidence_factor == 0.5


@pytest.mark.parametrize(
    "text",
    ["", "   ", "元", "-1234.00", "－1,234.00", "负1234", "abc", "12a4", "1O0", "1234.567", "0.123",
     "12,34.5", "1,2345", "1234.", ".50", "1.2.3", "1,234.5a", "3.14159", "(1,234.00)"],
)
def test_amount_digits_refused(text: str) -> None:
    assert fails(parse_amount_digits, text).code == "not_an_amount"


# --------------------------------------------------------------------------------------------------
# Amounts in capitals


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分", "1234567.89"),
        ("人民币叁佰贰拾陆万元整", "3260000.00"),
        ("壹万零伍元", "10005.00"),
        ("壹万零伍元整", "10005.00"),
        ("人民币（大写）：壹佰万元正", "1000000.00"),
        ("壹拾万零柒仟元伍角叁分", "107000.53"),  # standard optional 零, refused by cn2an strict
        ("壹拾万柒仟元伍角叁分", "107000.53"),
        ("壹仟陆佰捌拾元零叁角贰分", "1680.32"),
        ("壹仟陆佰捌拾元叁角贰分", "1680.32"),
        ("叁佰贰拾伍元零肆分", "325.04"),
        ("壹佰元零角捌分", "100.08"),
        ("壹佰元捌角", "100.80"),
        ("壹佰元捌角整", "100.80"),
        ("伍角", "0.50"),
        ("零元伍角", "0.50"),
        ("伍分", "0.05"),
        ("零元整", "0.00"),
        ("拾伍元整", "15.00"),
        ("壹仟零拾元整", "1010.00"),  # cn2an strict alone reads 1000
        ("陆亿拾万元整", "600100000.00"),  # cn2an strict alone reads 600000000
        ("壹亿零柒佰万元整", "107000000.00"),
        ("玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分", "99999999999.99"),
        ("壹佰圓整", "100.00"),
        ("貳萬元整", "20000.00"),
        ("叁 佰 元 整", "300.00"),
    ],
)
def test_amount_capitals(text: str, value: str) -> None:
    assert parse_amount_capitals(text) == Parsed(value, text.strip())


@pytest.mark.parametrize(
    "text",
    ["", "人民币", "一百元", "壹佰元零", "元伍角", "壹仟伍元", "壹万零零伍元", "壹佰元伍", "伍角肆",
     "壹佰元元", "壹佰贰拾叁佰元", "壹佰元捌分角", "123元", "壹佰元整整"],
)
def test_amount_capitals_refused(text: str) -> None:
    assert fails(parse_amount_capitals, text).code == "not_an_amount"


@pytest.mark.parametrize(
    ("amount", "capitals"),
    [
        ("1234567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        ("3260000", "叁佰贰拾陆万元整"),
        ("10005", "壹万零伍元整"),
        ("10", "壹拾元整"),
        ("1010", "壹仟零壹拾元整"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        ("1409.50", "壹仟肆佰零玖元伍角"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("100000005", "壹亿零伍元整"),
        ("107000000", "壹亿零柒佰万元整"),
        ("0.5", "伍角"),
        ("0.05", "伍分"),
        ("0", "零元整"),
        ("1.005", "壹元零壹分"),  # rounded half up
    ],
)
def test_amount_to_capitals(amount: str, capitals: str) -> None:
    assert amount_to_capitals(Decimal(amount)) == capitals


@pytest.mark.parametrize("amount", ["-0.01", "1000000000000", "NaN"])
def test_amount_to_capitals_refuses(amount: str) -> None:
    with pytest.raises(ValueError):
        amount_to_capitals(Decimal(amount))


# --------------------------------------------------------------------------------------------------
# Reconciling digits and capitals


def test_reconcile_agreeing() -> None:
    got = reconcile_amounts(parse_amount_digits("1,234,567.89"), parse_amount_capitals(
        "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"))
    assert got == Parsed("1234567.89", "1,234,567.89", (), 1.0)


def test_reconcile_keeps_ocr_corrections_and_trusts_the_cross_check() -> None:
    got = reconcile_amounts(parse_amount_digits("1.234.567.89"), parse_amount_capitals(
        "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"))
    assert (got.value, got.corrections, got.confidence_factor) == ("1234567.89", (".→, @2,6",), 1.0)


@pytest.mark.parametrize(
    ("digits", "capitals", "value"),
    [
        ("1.230", "壹仟贰佰叁拾元整", "1230.00"),  # the alternative
        ("1.230", "壹元贰角叁分", "1.23"),  # the primary reading, confirmed
        ("1.234", "壹仟贰佰叁拾肆元整", "1234.00"),
        ("1.234.000", "壹佰贰拾叁万肆仟元整", "1234000.00"),
        ("1.234万元", "壹仟贰佰叁拾肆万元整", "12340000.00"),
    ],
)
def test_reconcile_settles_ambiguous_digits(digits: str, capitals: str, value: str) -> None:
    got = reconcile_amounts(parse_amount_digits(digits), parse_amount_capitals(capitals))
    assert got.value == value
    assert got.raw == digits
    assert got.corrections[-1] == f"{digits} → {value} per 大写"
    assert got.confidence_factor == 1.0
    assert got.alternatives == ()


@pytest.mark.parametrize(
    ("digits", "capitals"),
    [
        ("1,234,567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角"),
        ("1.234", "壹元贰角叁分"),
        ("1.230", "壹拾贰元叁角"),
    ],
)
def test_reconcile_disagreeing(digits: str, capitals: str) -> None:
    d, c = parse_amount_digits(digits), parse_amount_capitals(capitals)
    with pytest.raises(ParseError) as info:
        reconcile_amounts(d, c)
    assert info.value.code == "amounts_disagree"
    assert d.value in info.value.message and c.value in info.value.message


def test_reconcile_with_one_side() -> None:
    d = parse_amount_digits("1.230")
    assert reconcile_amounts(d, None) is d
    c = parse_amount_capitals("壹元贰角叁分")
    assert reconcile_amounts(None, c) is c
    with pytest.raises(ParseError) as info:
        reconcile_amounts(None, None)
    assert info.value.code == "not_an_amount"


# --------------------------------------------------------------------------------------------------
# Areas


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("96.30平方米", "96.30"),
        ("96.3 ㎡", "96.30"),
        ("96.30m²", "96.30"),
        ("96.30 m2", "96.30"),
        ("96.30平米", "96.30"),
        ("建筑面积：96.30", "96.30"),
        ("建筑面积: 96.3平方米", "96.30"),
        ("９６．３０平方米", "96.30"),
        ("120", "120.00"),
        ("1,234.5㎡", "1234.50"),
        ("89.990", "89.99"),
    ],
)
def test_area(text: str, value: str) -> None:
    parsed = parse_area(text)
    assert (parsed.value, parsed.corrections) == (value, ())


def test_area_with_ocr_full_stop() -> None:
    assert parse_area("96。30平方米") == Parsed("96.30", "96。30平方米", ("。→. @3",), 0.9)


@pytest.mark.parametrize(
    "text", ["", "平方米", "0", "0.00㎡", "-96.3", "96.305", "89.995㎡", "abc", "96.3.1", "九十六"]
)
def test_area_refused(text: str) -> None:
    assert fails(parse_area, text).code == "not_an_area"


# --------------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    "text",
    [
        "2024年3月15日",
        "2024-03-15",
        "2024.3.15",
        "2024/03/15",
        "2024/3/15",
        "20240315",
        "二〇二四年三月十五日",
        "二○二四年三月十五日",
        "二零二四年三月十五日",
        "2024年03月15日",
        "2024 年 3 月 15 日",
        " 2024年3月15日。",
        "签订日期：2024年3月15日",
        "２０２４年３月１５日",
        "贰零贰肆年零叁月壹拾伍日",
        "二〇二四年三月十五号",
    ],
)
def test_date(text: str) -> None:
    parsed = parse_date(text)
    assert (parsed.value, parsed.corrections, parsed.confidence_factor) == ("2024-03-15", (), 1.0)


@pytest.mark.parametrize(
    ("text", "value", "corrections"),
    [
        ("2024年3月15曰", "2024-03-15", ("曰→日 @10",)),
        ("二O二四年十二月三十一日", "2024-12-31", ("O→〇 @2",)),
        ("二o二o年十月一日", "2020-10-01", ("o→〇 @2", "o→〇 @4")),
    ],
)
def test_date_ocr_noise(text: str, value: str, corrections: tuple[str, ...]) -> None:
    parsed = parse_date(text)
    assert (parsed.value, parsed.corrections) == (value, corrections)
    assert parsed.confidence_factor < 1


@pytest.mark.parametrize(
    "text",
    ["", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-03-00", "二〇二四年十三月一日",
     "二〇二四年二月三十日", "2024-03/15", "24-03-15", "2024年3月", "2024年3月15日10时", "三月十五日",
     "2024年三十二月一日", "abcd-ef-gh", "二〇二四年〇月一日"],
)
def test_date_refused(text: str) -> None:
    assert fails(parse_date, text).code == "not_a_date"


# --------------------------------------------------------------------------------------------------
# ID numbers and credit codes


@pytest.mark.parametrize(
    ("text", "corrections"),
    [
        (ID, ()),
        ("11010519491231002x", ()),
        ("110105 19491231 002X", ()),
        ("身份证号：110105-1949-1231-002X", ()),
        ("１１０１０５１９４９１２３１００２Ｘ", ()),
        ("11O105194912310O2X", ("O→0 @3", "O→0 @16")),
        ("l10105I9491231002X", ("l→1 @1", "I→1 @7")),
        ("11010S19491231002X", ("S→5 @6",)),
        ("1101051949123100ZX", ("Z→2 @17",)),
        ("11010519491231OOZX", None),  # three substitutions: too many
    ],
)
def test_id_number(text: str, corrections: tuple[str, ...] | None) -> None:
    if corrections is None:
        assert fails(parse_id_number, text).code == "invalid_id_number"
        return
    parsed = parse_id_number(text)
    assert (parsed.value, parsed.corrections) == (ID, corrections)
    assert parsed.confidence_factor == pytest.approx(0.9 ** len(corrections))


def test_id_number_correction_must_pass_the_checksum() -> None:
    first17 = "51010419910506011"
    assert first17 + ric.calc_check_digit(first17 + "0") == "510104199105060117"
    err = fails(parse_id_number, "51010419910506011B")  # B→8 gives a wrong check digit
    assert "仍无效" in err.message
    assert parse_id_number("5101041991O5O60117").value == "510104199105060117"


@pytest.mark.parametrize(
    "text",
    ["", "1101051949123100", "11010519491231002X1", "110105194912310021", "11010519491231002Y",
     "110105194913310020", "11010519491231002X 11010519491231002X", "K1010519491231002X"],
)
def test_id_number_refused(text: str) -> None:
    assert fails(parse_id_number, text).code == "invalid_id_number"


@pytest.mark.parametrize(
    ("text", "value", "corrections"),
    [
        (USCC, USCC, ()),
        ("91110000600037341l", USCC, ()),  # l read as L: in the alphabet, and valid
        ("9111 0000 6000 3734 1L", USCC, ()),
        ("9111OOOO600037341L", None, None),  # four forced substitutions
        ("9111000O600037341L", USCC, ("O→0 @8",)),
        ("9111000060003734IL", USCC, ("I→1 @17",)),
        ("911100006OOO37341L", None, None),  # three
        ("91110000600037341I", None, None),  # I→1 in the last place fails the check
        ("9111000060003734L1", USCC, ("L→1 @17", "1→L @18")),
        ("88042716QLBWKBWH48", "88042716QLBWKBWH48", ()),
        # one 8 read as B: correcting it back and another two-substitution candidate both pass
        ("88042716QLBWKBWH4B", None, None),
    ],
)
def test_credit_code(text: str, value: str | None, corrections: tuple[str, ...] | None) -> None:
    if value is None:
        assert fails(parse_credit_code, text).code == "invalid_credit_code"
        return
    parsed = parse_credit_code(text)
    assert (parsed.value, parsed.corrections) == (value, corrections)


def test_credit_code_ambiguity_is_reported() -> None:
    err = fails(parse_credit_code, "88042716QLBWKBWH4B")
    assert "2 种可能" in err.message
    assert "88042716QLBWKBWH48" not in err.message  # messages name no identifiers


@pytest.mark.parametrize(
    "text", ["", "9111000060003734", "A1110000600037341L", "91110000600037341V", "91110000600037341M"]
)
def test_credit_code_refused(text: str) -> None:
    assert fails(parse_credit_code, text).code == "invalid_credit_code"


# --------------------------------------------------------------------------------------------------
# Text, names and lists


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("  张三  ", "张三"),
        ("张  三", "张三"),
        ("张　三：", "张三"),
        ("北京市朝阳区ＸＸ路１２号，", "北京市朝阳区XX路12号"),
        ("北京市 朝阳区  建国路 88 号 3-1201。", "北京市朝阳区建国路 88 号 3-1201"),
        ("某某（北京）有限公司", "某某（北京）有限公司"),
        ("某某(北京)有限公司：", "某某(北京)有限公司"),
        ("阿卜杜・热合曼", "阿卜杜·热合曼"),
        ("阿卜杜.热合曼", "阿卜杜·热合曼"),
        ("John   Smith,", "John Smith"),
        ("Ａｂｃ　Ｌｔｄ．", "Abc Ltd."),
    ],
)
def test_text(text: str, value: str) -> None:
    assert parse_text(text) == Parsed(value, text.strip())


@pytest.mark.parametrize("text", ["", "   ", "：", "。，"])
def test_text_refused(text: str) -> None:
    assert fails(parse_text, text).code == "empty_text"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("张三", ["张三"]),
        ("张三、李四", ["张三", "李四"]),
        ("张三，李四; 王五", ["张三", "李四", "王五"]),
        ("张三,李四；王五、", ["张三", "李四", "王五"]),
        ("张三 李四", ["张三", "李四"]),
        ("张三  李四  王五", ["张三", "李四", "王五"]),
        ("张 三、李 四", ["张三", "李四"]),
        ("某某（北京）有限公司、阿卜杜・热合曼", ["某某（北京）有限公司", "阿卜杜·热合曼"]),
    ],
)
def test_names(text: str, names: list[str]) -> None:
    assert parse_names(text).value == names


def test_names_refused() -> None:
    assert fails(parse_names, " 、，").code == "empty_text"


def test_id_numbers() -> None:
    other = "510104199105060117"
    got = parse_id_numbers(f"{ID}、{other}")
    assert got.value == [ID, other]
    assert parse_id_numbers(f"{ID} {other}").value == [ID, other]
    assert parse_id_numbers("110105 19491231 002X；5101 0419 9105 0601 17").value == [ID, other]
    got = parse_id_numbers(f"{ID}，51O1O4199105060117")
    assert got.value == [ID, other]
    assert got.corrections == ("#2 O→0 @3", "#2 O→0 @5")
    assert got.confidence_factor == pytest.approx(0.81)


@pytest.mark.parametrize("text", ["", "、", f"{ID} 1234", f"{ID}1", "110105194912310021"])
def test_id_numbers_refused(text: str) -> None:
    assert fails(parse_id_numbers, text).code == "invalid_id_number"


# --------------------------------------------------------------------------------------------------
# Round-trips

amounts = st.integers(min_value=1, max_value=9_999_999_999_999).map(lambda cents: Decimal(cents) / 100)


def _spaced(text: str, at: int) -> str:
    at %= len(text) + 1
    return text[:at] + " " + text[at:]


@ROUND_TRIPS
@given(amount=amounts, style=st.integers(0, 6), space_at=st.integers(0, 40))
def test_amount_digits_round_trip(amount: Decimal, style: int, space_at: int) -> None:
    grouped = f"{amount:,.2f}"
    text = [
        grouped,
        f"{amount:.2f}",
        grouped.replace(",", "."),  # OCR full stops for separators
        grouped.translate(FULL_WIDTH),
        grouped.replace(",", ".").translate(FULL_WIDTH),
        f"¥{_spaced(grouped, space_at)}元",
        f"人民币 {amount:.2f} 元",
    ][style]
    parsed = parse_amount_digits(text)
    assert parsed.value == f"{amount:.2f}"
    assert parsed.alternatives == ()


@ROUND_TRIPS
@given(amount=amounts)
def test_capitals_round_trip(amount: Decimal) -> None:
    capitals = amount_to_capitals(amount)
    assert parse_amount_capitals(capitals).value == f"{amount:.2f}"
    assert parse_amount_capitals("人民币" + capitals.replace("元", "圆")).value == f"{amount:.2f}"


@ROUND_TRIPS
@given(yuan=st.integers(min_value=1000, max_value=99_999_999_999), dots=st.booleans())
def test_whole_amounts_with_ocr_full_stops_settled_by_capitals(yuan: int, dots: bool) -> None:
    """'1.234.000' is 1234.00 or 1234000.00 by the digits alone; the capitals decide."""
    text = f"{yuan:,}".replace(",", ".") if dots else f"{yuan:,}"
    digits = parse_amount_digits(text)
    got = reconcile_amounts(digits, parse_amount_capitals(amount_to_capitals(Decimal(yuan))))
    assert got.value == f"{yuan}.00"


CN_DIGITS = "〇一二三四五六七八九"
CAPITALS = "零壹贰叁肆伍陆柒捌玖"


def _cn_small(n: int) -> str:
    tens, units = divmod(n, 10)
    if tens == 0:
        return CN_DIGITS[n]
    return (CN_DIGITS[tens] if tens > 1 else "") + "十" + (CN_DIGITS[units] if units else "")


def _cheque_small(n: int) -> str:
    """Month or day as on a cheque: 零壹, 零壹拾, 壹拾伍, 贰拾, 叁拾壹."""
    tens, units = divmod(n, 10)
    text = (CAPITALS[tens] + "拾" if tens else "") + (CAPITALS[units] if units else "")
    return "零" + text if n <= 10 or units == 0 else text


def _date_formats(d: date, zero: str) -> list[str]:
    y, m, dd = d.year, d.month, d.day
    cn_year = "".join(CN_DIGITS[int(c)] for c in str(y)).replace("〇", zero)
    return [
        f"{y}年{m}月{dd}日",
        f"{y}年{m:02}月{dd:02}日",
        f"{y} 年 {m} 月 {dd} 日",
        f"{y}-{m:02}-{dd:02}",
        f"{y}.{m}.{dd}",
        f"{y}/{m:02}/{dd:02}",
        f"{y}{m:02}{dd:02}",
        f"{cn_year}年{_cn_small(m)}月{_cn_small(dd)}日",
        "".join(CAPITALS[int(c)] for c in str(y)) + f"年{_cheque_small(m)}月{_cheque_small(dd)}日",
    ]


@ROUND_TRIPS
@given(
    d=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    style=st.integers(0, 8),
    zero=st.sampled_from("〇○零"),
)
def test_date_round_trip(d: date, style: int, zero: str) -> None:
    assert parse_date(_date_formats(d, zero)[style]).value == d.isoformat()


REGIONS = ["110101", "110105", "310104", "440305", "510104", "330106", "650102", "210202"]
ID_CONFUSIONS = {"0": "Oo", "1": "Iil", "5": "Ss", "8": "B", "2": "Zz"}


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(REGIONS))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)))
    first17 = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    number = first17 + ric.calc_check_digit(first17 + "0")
    assert is_valid_id_number(number)
    return number


@ROUND_TRIPS
@given(number=id_numbers(), data=st.data())
def test_id_number_ocr_round_trip(number: str, data: st.DataObject) -> None:
    positions = [i for i, c in enumerate(number) if c in ID_CONFUSIONS]
    at = data.draw(st.sampled_from(positions))
    letter = data.draw(st.sampled_from(ID_CONFUSIONS[number[at]]))
    corrupted = number[:at] + letter + number[at + 1 :]
    try:
        parsed = parse_id_number(corrupted)
    except ParseError:
        return
    assert parsed.value == number
    assert parsed.corrections == (f"{letter}→{number[at]} @{at + 1}",)
    assert parsed.confidence_factor == pytest.approx(0.9)


@ROUND_TRIPS
@given(number=id_numbers(), data=st.data())
def test_id_number_two_substitutions_corrected(number: str, data: st.DataObject) -> None:
    """Letters cannot stand in an ID number, so each one has a single reading: always corrected."""
    positions = [i for i, c in enumerate(number) if c in ID_CONFUSIONS]
    chosen = data.draw(st.lists(st.sampled_from(positions), min_size=1, max_size=2, unique=True))
    chars = list(number)
    for at in chosen:
        chars[at] = data.draw(st.sampled_from(ID_CONFUSIONS[number[at]]))
    spaced = "".join(chars[:6]) + " " + "".join(chars[6:14]) + " " + "".join(chars[14:])
    parsed = parse_id_number(spaced.lower())
    assert parsed.value == number
    assert len(parsed.corrections) == len(chosen)


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_CONFUSIONS = {"0": "Oo", "1": "IilL", "5": "Ss", "2": "Zz", "8": "B", "B": "8b", "L": "1l"}


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from("123456789")) + draw(st.text("0123456789", min_size=7, max_size=7))
    first17 = head + draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    code = first17 + uscc.calc_check_digit(first17)
    assert is_valid_credit_code(code)
    return code


@ROUND_TRIPS
@given(code=credit_codes(), data=st.data())
def test_credit_code_ocr_round_trip(code: str, data: st.DataObject) -> None:
    positions = [i for i, c in enumerate(code) if c in USCC_CONFUSIONS]
    assume(positions)  # a code with no confusable character has nothing to corrupt
    at = data.draw(st.sampled_from(positions))
    wrong = data.draw(st.sampled_from(USCC_CONFUSIONS[code[at]]))
    corrupted = code[:at] + wrong + code[at + 1 :]
    try:
        parsed = parse_credit_code(corrupted)
    except ParseError as err:
        assert err.code == "invalid_credit_code"
        return
    assert parsed.value == code  # never a different valid code
    if corrupted.upper() != code:  # 'l' for L and 'b' for B are only lower case
        assert parsed.corrections
        assert parsed.confidence_factor < 1


def test_credit_code_single_substitutions_are_mostly_corrected() -> None:
    """Over every single confusable substitution of a few codes, corrections are never wrong and
    ambiguity (refused) is rare."""
    codes = ["91110000600037341L", "91310115MA1K4B8L1X", "88042716QLBWKBWH48", "12100000400000808B"]
    corrected = refused = 0
    for code in codes:
        if not is_valid_credit_code(code):
            code = code[:17] + uscc.calc_check_digit(code[:17])
        for at, c in enumerate(code):
            for wrong in USCC_CONFUSIONS.get(c, ""):
                try:
                    assert parse_credit_code(code[:at] + wrong + code[at + 1 :]).value == code
                    corrected += 1
                except ParseError:
                    refused += 1
    assert corrected > 0
    assert refused <= corrected // 10


NOISE = st.text(
    st.sampled_from(
        "0123456789,.。 -/:：年月日号元角分整万亿零壹贰叁肆伍陆柒捌玖拾佰仟"
        "〇○一二三十OIlSBZXx平方米㎡、，;张三"
    )
    | st.characters(),
    max_size=24,
)


@settings(max_examples=300, deadline=None)
@given(text=NOISE)
def test_parsers_only_raise_parse_errors(text: str) -> None:
    for fn in (parse_amount_digits, parse_amount_capitals, parse_area, parse_date, parse_id_number,
               parse_credit_code, parse_text, parse_names, parse_id_numbers):
        try:
            parsed = fn(text)
        except ParseError:
            continue
        assert isinstance(parsed, Parsed)
        assert 0 < parsed.confidence_factor <= 1
