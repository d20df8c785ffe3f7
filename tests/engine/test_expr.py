"""The expression language: parsing, errors, three-valued evaluation, functions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import expr as E
from engine.errors import ExpressionError
from engine.expr import MISSING, Binary, ListExpr, Literal, Path, Unary, add_months, age_on, parse


def ev(text: str, **env: Any) -> Any:
    return E.evaluate(parse(text), env)


def p(dotted: str) -> Path:
    return Path(tuple(dotted.split(".")))


# --------------------------------------------------------------------------- parsing


def test_and_binds_tighter_than_or_and_not_wraps_a_comparison() -> None:
    assert parse("not a == b and c or d") == Binary(
        "or", Binary("and", Unary("not", Binary("==", p("a"), p("b"))), p("c")), p("d")
    )


def test_not_binds_tighter_than_and() -> None:
    assert parse("not a and b") == Binary("and", Unary("not", p("a")), p("b"))
    assert ev("not true and false") is False
    assert ev("not (true and false)") is True


def test_arithmetic_precedence_and_left_associativity() -> None:
    assert ev("1 + 2 * 3") == 7
    assert ev("(1 + 2) * 3") == 9
    assert ev("10 - 3 - 2") == 5
    assert ev("12 / 3 / 2") == 2
    assert ev("-2 * 3") == -6
    assert ev("2 - -3") == 5
    assert ev("1 + 2 < 4") is True


def test_in_and_not_in() -> None:
    assert parse("a in [1, 2] and b") == Binary(
        "and", Binary("in", p("a"), ListExpr((Literal(Decimal(1)), Literal(Decimal(2))))), p("b")
    )
    assert parse("a not in ['x']") == Unary("not", Binary("in", p("a"), ListExpr((Literal("x"),))))
    assert ev("'x' not in ['y', 'z']") is True


def test_literals() -> None:
    assert ev("'it\\'s'") == "it's"
    assert ev('"双引号"') == "双引号"
    assert ev("null") is None
    assert ev("[]") == []
    assert ev("date('2024-02-29')") == date(2024, 2, 29)
    assert isinstance(ev("1.50"), Decimal) and str(ev("1.50")) == "1.50"


def test_a_path_through_a_list_maps_over_its_elements() -> None:
    staff = [{"id": "a"}, {"id": "b"}, {}]
    assert ev("staff.id", staff=staff) == ["a", "b", MISSING]
    assert ev("person.name", person=None) is MISSING
    assert ev("person.name.first", person={"name": "x"}) is MISSING


# --------------------------------------------------------------------------- parse errors


def test_misspelt_function_names_the_position_and_suggests_the_right_one() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("1 + cont(x in items where x > 1)")
    err = info.value
    assert err.position == 4
    assert err.suggestion is not None and "'count'" in err.suggestion
    assert "cont" in err.message and "位置 4" in err.message


def test_misspelt_function_suggestions() -> None:
    for wrong, right in (
        ("add_month", "add_months"),
        ("coalese", "coalesce"),
        ("days_betwen", "days_between"),
    ):
        with pytest.raises(ExpressionError) as info:
            parse(f"{wrong}(a, b)")
        assert info.value.suggestion is not None and repr(right) in info.value.suggestion


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("form.a > ", 9, "表达式结尾"),
        ("form.a @ 1", 7, "'@'"),
        ("(1 + 2", 6, "')'"),
        ("1 2", 2, "多余的内容"),
        ("form.", 5, "字段名"),
        ("round(1, 2, 3)", 0, "1–2 个参数"),
        ("exists(x in l where x)", 0, "不支持 where"),
        ("any(l)", 0, "any(x in 列表 where 条件)"),
        ("[1, 2", 5, "']'"),
    ],
)
def test_parse_errors_carry_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.position == position
    assert words in info.value.message
    assert text in info.value.message


# --------------------------------------------------------------------------- three-valued logic

TRUTH = {"T": True, "F": False, "M": MISSING}


@pytest.mark.parametrize("a", "TFM")
@pytest.mark.parametrize("b", "TFM")
def test_kleene_and_or(a: str, b: str) -> None:
    env = {k: v for k, v in (("a", TRUTH[a]), ("b", TRUTH[b])) if v is not MISSING}
    expected_and = "F" if "F" in (a, b) else ("M" if "M" in (a, b) else "T")
    expected_or = "T" if "T" in (a, b) else ("M" if "M" in (a, b) else "F")
    assert E.evaluate(parse("a and b"), env) is TRUTH[expected_and]
    assert E.evaluate(parse("a or b"), env) is TRUTH[expected_or]


def test_not_of_missing_is_missing_and_missing_has_no_truth_value() -> None:
    assert ev("not a") is MISSING
    with pytest.raises(TypeError):
        bool(MISSING)


def test_missing_propagates_through_everything_strict() -> None:
    assert ev("a == 1") is MISSING
    assert ev("a != null") is MISSING
    assert ev("a + 1") is MISSING
    assert ev("-a") is MISSING
    assert ev("a in [1, 2]") is MISSING
    assert ev("days_between(a, date('2024-01-01'))") is MISSING
    assert ev("round(a, 2)") is MISSING
    assert ev("if(a, 1, 2)") is MISSING
    assert ev("exists(a)") is MISSING
    assert ev("known(a)") is False
    assert ev("known(a)", a=None) is True


def test_comparisons_of_unlike_or_null_values() -> None:
    assert ev("null == null") is True
    assert ev("null != 1") is True
    assert ev("null < 1") is MISSING
    assert ev("1 < 'a'") is MISSING
    assert ev("1 == '1'") is False
    assert ev("true == 1") is False
    assert ev("1.0 == 1.00") is True
    assert ev("1 / 0") is MISSING


def test_membership_with_unknown_items() -> None:
    assert ev("1 in [1, a]") is True
    assert ev("2 in [1, a]") is MISSING
    assert ev("null in [null]") is True
    assert ev("x in l", x="a", l=["b", "a"]) is True
    assert ev("x in l", x="a", l=MISSING) is MISSING


_kleene_trees = st.recursive(
    st.sampled_from(["p", "q", "r"]),
    lambda sub: st.one_of(
        st.tuples(sub, sub).map(lambda ab: ("and", *ab)),
        st.tuples(sub, sub).map(lambda ab: ("or", *ab)),
        sub.map(lambda a: ("not", a)),
    ),
    max_leaves=8,
)


def _render(tree: Any) -> str:
    if isinstance(tree, str):
        return tree
    if tree[0] == "not":
        return f"not ({_render(tree[1])})"
    return f"({_render(tree[1])}) {tree[0]} ({_render(tree[2])})"


def _kleene(tree: Any, env: dict[str, str]) -> str:
    if isinstance(tree, str):
        return env[tree]
    if tree[0] == "not":
        return {"T": "F", "F": "T", "M": "M"}[_kleene(tree[1], env)]
    a, b = _kleene(tree[1], env), _kleene(tree[2], env)
    if tree[0] == "and":
        return "F" if "F" in (a, b) else ("M" if "M" in (a, b) else "T")
    return "T" if "T" in (a, b) else ("M" if "M" in (a, b) else "F")


@given(_kleene_trees, st.fixed_dictionaries({v: st.sampled_from("TFM") for v in "pqr"}))
def test_random_boolean_trees_follow_kleene_logic(tree: Any, values: dict[str, str]) -> None:
    env = {k: TRUTH[v] for k, v in values.items() if v != "M"}
    assert E.evaluate(parse(_render(tree)), env) is TRUTH[_kleene(tree, values)]


# --------------------------------------------------------------------------- comprehensions


def test_comprehensions_over_an_empty_list() -> None:
    assert ev("count(x in l where x > 1)", l=[]) == 0
    assert ev("any(x in l where x > 1)", l=[]) is False
    assert ev("all(x in l where x > 1)", l=[]) is True
    assert ev("select(x in l where x > 1)", l=[]) == []


def test_comprehensions_with_some_unknown_predicates() -> None:
    items = [{"v": Decimal(5)}, {"v": Decimal(0)}, {}]
    assert ev("count(x in l where x.v > 1)", l=items) is MISSING
    assert ev("select(x in l where x.v > 1)", l=items) is MISSING
    assert ev("any(x in l where x.v > 1)", l=items) is True  # one is known to hold
    assert ev("all(x in l where x.v > 1)", l=items) is False  # one is known not to hold
    assert ev("any(x in l where x.v > 9)", l=items) is MISSING
    assert ev("all(x in l where x.v >= 0)", l=items) is MISSING


def test_a_filter_whose_free_parameters_are_missing_is_missing_even_over_an_empty_list() -> None:
    text = "count(x in l where x.v > limit)"
    assert ev(text, l=[]) is MISSING  # `limit` unknown: we cannot say that nothing exceeds it
    assert ev(text, l=[], limit=None) == 0  # a known null is not unknown
    assert ev(text, l=[], limit=Decimal(1)) == 0
    assert ev("any(x in l where x.v > permit.issued_on)", l=[], permit={"found": False}) is MISSING


def test_comprehension_source_that_is_unknown_or_not_a_list() -> None:
    assert ev("count(x in l where x > 1)") is MISSING
    assert ev("count(x in l where x > 1)", l="abc") is MISSING
    assert ev("count(l)", l=[1, 2, 3]) == 3


def test_nested_comprehension_sees_the_outer_variable() -> None:
    staff = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    paid = [{"id": "a"}, {"id": "a"}, {"id": "b"}]
    text = "count(s in staff where count(i in paid where i.id == s.id) < 2)"
    assert ev(text, staff=staff, paid=paid) == 2


def test_select_keeps_the_matching_items() -> None:
    assert ev("select(x in l where x.k == 'a')", l=[{"k": "a"}, {"k": "b"}, {"k": "a", "n": 1}]) == [
        {"k": "a"},
        {"k": "a", "n": 1},
    ]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
        (date(2025, 1, 15), -13, date(2023, 12, 15)),
        (date(2027, 5, 31), -3, date(2027, 2, 28)),
        (date(2024, 8, 31), 0, date(2024, 8, 31)),
    ],
)
def test_add_months_clamps_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected
    assert ev(f"add_months(date('{start}'), {months})") == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)), st.integers(-600, 600))
def test_add_months_moves_whole_months(start: date, months: int) -> None:
    out = add_months(start, months)
    assert (out.year * 12 + out.month) - (start.year * 12 + start.month) == months
    assert out.day == start.day or (out.day < start.day and (out + timedelta(days=1)).day == 1)


def test_age_on_the_birthday() -> None:
    birth = date(2008, 11, 21)
    assert age_on(birth, date(2026, 11, 21)) == 18  # exactly 18 on the day
    assert age_on(birth, date(2026, 11, 20)) == 17
    assert age_on(birth, date(2026, 11, 22)) == 18
    assert ev("age(date('2008-11-21'), date('2026-11-21'))") == 18
    assert ev("age(date('2008-11-21'), date('2026-11-20')) < 18") is True


def test_age_of_someone_born_on_29_february() -> None:
    birth = date(2008, 2, 29)
    assert age_on(birth, date(2026, 2, 28)) == 17
    assert age_on(birth, date(2026, 3, 1)) == 18
    assert age_on(birth, date(2028, 2, 29)) == 20
    assert ev("age(b, on)", b=None, on=date(2026, 1, 1)) is MISSING


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)), st.integers(0, 120))
def test_age_increments_on_each_birthday(birth: date, years: int) -> None:
    if (birth.month, birth.day) == (2, 29):
        birth -= timedelta(days=1)
    birthday = birth.replace(year=birth.year + years)
    assert age_on(birth, birthday) == years
    if years:
        assert age_on(birth, birthday - timedelta(days=1)) == years - 1


def test_months_before() -> None:
    assert ev("months_before(date('2026-03-15'), 3)") == ["2025-12", "2026-01", "2026-02"]
    assert ev("months_before(date('2026-01-01'), 1)") == ["2025-12"]
    assert ev("months_before(date('2026-01-31'), 0)") == []


def test_date_arithmetic() -> None:
    assert ev("date('2024-02-28') + 1") == date(2024, 2, 29)
    assert ev("date('2024-03-01') - 1") == date(2024, 2, 29)
    assert ev("days_between(date('2024-02-28'), date('2024-03-01'))") == 2
    assert ev("date('2024-02-30')") is MISSING


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("round(1.005, 2)", "1.01"),
        ("round(2.675, 2)", "2.68"),  # binary floating point would give 2.67
        ("round(0.125, 2)", "0.13"),  # banker's rounding would give 0.12
        ("round(0.135, 2)", "0.14"),
        ("round(-1.005, 2)", "-1.01"),
        ("round(2.5)", "3"),
        ("round(3.5)", "4"),
        ("round(1866667.00 * 0.015, 2)", "28000.01"),  # 28000.005
        ("round(1.004999, 2)", "1.00"),
    ],
)
def test_round_is_half_up(text: str, expected: str) -> None:
    assert str(ev(text)) == expected


@given(st.integers(-(10**9), 10**9))
def test_round_half_up_on_every_tie(cents_and_a_half: int) -> None:
    x = Decimal(cents_and_a_half) / 100 + (Decimal("0.005") if cents_and_a_half >= 0 else Decimal("-0.005"))
    rounded = ev("round(x, 2)", x=x)
    assert abs(rounded) == abs(x) + Decimal("0.005")  # away from zero
    assert rounded.as_tuple().exponent == -2


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**15), max_value=10**15))
def test_decimal_literals_round_trip(value: Decimal) -> None:
    text = str(value)
    assert "E" not in text
    assert ev(text) == value


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30))
def test_decimal_literals_round_trip_in_plain_notation(value: Decimal) -> None:
    significant = "".join(map(str, value.as_tuple().digits)).strip("0")
    if value.is_signed() and len(significant) > 28:
        return  # see test_negative_literal_with_many_digits
    assert ev(format(value, "f")) == value


def test_negative_literal_with_many_digits() -> None:
    text = "-1234567890123456789012345678.9"
    assert ev(text) == Decimal(text)


def test_coalesce_skips_unknown_null_and_records_not_found() -> None:
    found = {"found": True, "price_yuan": Decimal(1)}
    assert ev("coalesce(a, b, c)", a={"found": False}, b=None, c=found) == found
    assert ev("coalesce(a, b)", b=Decimal(2)) == 2
    assert ev("coalesce(a, b)", a={"found": False}, b={"found": False}) is MISSING
    assert ev("coalesce(a)") is MISSING
    assert ev("coalesce(a, 0)", a=False) is False  # false is a known value


def test_collect_distinct_sum_min_max() -> None:
    assert ev("collect(a, b, c)", a="x", b=["y", None], c=None) == ["x", "y"]
    assert ev("collect(a, b)", b="y") == ["y"]
    assert ev("distinct(l)", l=["a", "b", "a"]) == ["a", "b"]
    assert ev("sum(l)", l=[Decimal(1), None, Decimal("2.5")]) == Decimal("3.5")
    assert ev("sum(l.v)", l=[{"v": Decimal(1)}, {}]) is MISSING
    assert ev("min(3, 1, 2)") == 1
    assert ev("max(date('2024-01-01'), date('2025-01-01'))") == date(2025, 1, 1)
    assert ev("max(1, 'a')") is MISSING


def test_if_and_exists() -> None:
    assert ev("if(c, 1, 2)", c=True) == 1
    assert ev("if(c, 1, 2)", c=False) == 2
    assert ev("if(c, 1, 2)", c=None) is MISSING
    assert ev("exists(x)", x=None) is False
    assert ev("exists(x)", x="a") is True


def test_free_paths_skip_the_bound_variable() -> None:
    node = parse("count(s in form.staff where s.role == kind and any(c in certs where c.no == s.no))")
    assert [f.dotted for f in E.free_paths(node)] == ["form.staff", "kind", "certs"]


def test_negate_pushes_not_down_to_the_comparisons() -> None:
    assert E.negate(parse("a < 1 and (b == 2 or not c)")) == parse("a >= 1 or (b != 2 and c)")
    assert E.negate(parse("not a")) == p("a")
