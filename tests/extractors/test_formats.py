"""Values of a known format (DocField.format), calendar dates and validity ranges: a value that does
not fit is absent with a problem, never returned."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.model import DocField
from extractors import parsers as P
from extractors.fields import extract_fields
from tests.extractors.test_fields import doc, line

PERMIT = {
    "permit_no": DocField(title="许可证编号", type="text", format="permit_no", labels=["许可证编号", "编号"]),
    "valid_from": DocField(
        title="有效期起",
        type="date",
        labels=["有效期起"],
        range_labels=["有效期限", "有效期"],
        range_part="start",
    ),
    "valid_to": DocField(
        title="有效期止",
        type="date",
        labels=["有效期止"],
        range_labels=["有效期限", "有效期"],
        range_part="end",
    ),
}

WELL_FORMED = [
    "（鄂）JZ安许证字【2005】000115",
    "(川)JZ安许证字[2024]010231",
    "〔京〕JZ安许证字〔1990〕123",
    "【粤】AQ安许证字（2100）4567",
    "[琼]JZ安许证字(2019)98765",
    "（藏）JZ安许证字（2023）00012",
]

MALFORMED = {
    "letter missing": "(川)Z安许证字[2024]010231",
    "no letters": "(川)安许证字[2024]010231",
    "lower-case letters": "(川)jz安许证字[2024]010231",
    "three letters": "(川)JZA安许证字[2024]010231",
    "not a province": "(西)JZ安许证字[2024]010231",
    "latin province": "(X)JZ安许证字[2024]010231",
    "two provinces": "(川渝)JZ安许证字[2024]010231",
    "no province": "()JZ安许证字[2024]010231",
    "year before 1990": "(川)JZ安许证字[1989]010231",
    "year after 2100": "(川)JZ安许证字[2101]010231",
    "three-digit year": "(川)JZ安许证字[202]010231",
    "serial too short": "(川)JZ安许证字[2024]01",
    "serial too long": "(川)JZ安许证字[2024]0102311",
    "mismatched brackets": "(川]JZ安许证字[2024]010231",
    "missing bracket": "川)JZ安许证字[2024]010231",
    "word misread": "(川)JZ安许正字[2024]010231",
    "trailing text": "(川)JZ安许证字[2024]010231号",
}


@pytest.mark.parametrize("text", WELL_FORMED)
def test_well_formed_permit_numbers_are_read(text: str) -> None:
    assert P.parse_permit_no(text).value == text
    ex = extract_fields(doc(line(f"许可证编号：{text}", 80, 0)), kind="safety_permit", fields=PERMIT)
    # rows are read with full-width forms made half-width (extractors/fields.py)
    assert ex.fields["permit_no"].value == text.replace("（", "(").replace("）", ")"), ex.problems
    assert ex.fields["permit_no"].confidence >= 0.9


def test_spaces_in_a_permit_number_are_dropped() -> None:
    assert P.parse_permit_no("(川) JZ 安许证字 [2024] 010231").value == "(川)JZ安许证字[2024]010231"


@pytest.mark.parametrize("text", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_permit_numbers_are_absent_with_a_problem(text: str) -> None:
    with pytest.raises(P.ParseError) as err:
        P.parse_permit_no(text)
    assert err.value.code == "bad_format"
    ex = extract_fields(doc(line(f"许可证编号：{text}", 80, 0)), kind="safety_permit", fields=PERMIT)
    assert "permit_no" not in ex.fields
    assert [p.code for p in ex.problems if p.field == "permit_no"] == ["bad_format"]


def test_format_only_on_text_fields() -> None:
    with pytest.raises(ValidationError):
        DocField(title="x", type="date", format="permit_no", labels=["x"])


def test_without_a_format_any_text_is_read() -> None:
    fields = {"permit_no": DocField(title="许可证编号", type="text", labels=["许可证编号"])}
    ex = extract_fields(doc(line("许可证编号：(川)Z安许证字[2024]010231", 80, 0)), kind="x", fields=fields)
    assert ex.fields["permit_no"].value == "(川)Z安许证字[2024]010231"


@pytest.mark.parametrize("text", ["2024年2月30日", "2023-02-29", "2024年13月1日", "2024.04.31"])
def test_dates_that_do_not_exist_are_absent(text: str) -> None:
    ex = extract_fields(doc(line(f"有效期起：{text}", 80, 0)), kind="safety_permit", fields=PERMIT)
    assert "valid_from" not in ex.fields
    assert [p.code for p in ex.problems if p.field == "valid_from"] == ["not_a_date"]


def test_a_validity_range_is_read() -> None:
    ex = extract_fields(
        doc(line("有效期：2024年6月15日至2027年6月14日", 80, 0)), kind="safety_permit", fields=PERMIT
    )
    assert ex.fields["valid_from"].value == "2024-06-15"
    assert ex.fields["valid_to"].value == "2027-06-14"


@pytest.mark.parametrize(
    "text", ["2027年6月15日至2024年6月14日", "2024年6月15日至2024年6月15日", "2024年6月15日至2021年6月14日"]
)
def test_a_range_ending_before_it_starts_gives_neither_end(text: str) -> None:
    ex = extract_fields(doc(line(f"有效期：{text}", 80, 0)), kind="safety_permit", fields=PERMIT)
    assert "valid_from" not in ex.fields and "valid_to" not in ex.fields
    codes = {(p.field, p.code) for p in ex.problems}
    assert {("valid_from", "range_inverted"), ("valid_to", "range_inverted")} <= codes


def test_separate_start_and_end_labels_are_checked_too() -> None:
    ex = extract_fields(
        doc(line("有效期起：2027年6月15日", 80, 0), line("有效期止：2024年6月14日", 80, 1)),
        kind="safety_permit",
        fields=PERMIT,
    )
    assert "valid_from" not in ex.fields and "valid_to" not in ex.fields
