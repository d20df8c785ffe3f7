"""ID-number checks against python-stdnum: our birth-date test (done on the digits directly) must
accept and refuse exactly the IDs stdnum's `get_birth_date` does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from engine.identifiers import id_number_problem


def _with_check_digit(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


# region, then year/month/day drawn around the edges of the calendar (month 00 and 13, day 00, 29
# February in leap and common years, day 31 of short months)
_bodies = st.builds(
    lambda region, year, month, day, seq: f"{region}{year:04d}{month:02d}{day:02d}{seq:03d}",
    st.sampled_from(["510104", "110101", "440305"]),
    st.sampled_from([1900, 1999, 2000, 2004, 2023, 2024, 2100]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 999),
)


@given(_bodies)
def test_birth_dates_are_judged_as_stdnum_does(body: str) -> None:
    number = _with_check_digit(body)
    try:
        ric.get_birth_date(number)
        stdnum_ok = True
    except ValidationError:
        stdnum_ok = False
    problem = id_number_problem(number)
    assert (problem is None) == stdnum_ok, (number, problem)
    if not stdnum_ok:
        assert problem == "出生日期无效"


def test_a_wrong_check_digit_is_refused_before_the_date() -> None:
    number = _with_check_digit("51010419900230001")  # 30 February
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert id_number_problem(wrong) == "校验位不正确"
    assert id_number_problem(number) == "出生日期无效"
