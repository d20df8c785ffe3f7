"""Due dates in working days (chinese_calendar) and the yellow/red cards."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.case import CHINA_TZ
from service import sla
from service.sla import card, compute_due, due_at, is_official_year, working_days_left


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def close(y: int, m: int, d: int) -> datetime:
    return at(y, m, d, 17, 30)


# -- real holidays ---------------------------------------------------------------------------------


def test_national_day_2025_is_skipped() -> None:
    # 2025-10-01..08 holidays (国庆 + 中秋); accepted on the last working day before them
    assert due_at(at(2025, 9, 30), 1) == close(2025, 10, 9)
    # 10-09, 10-10, 10-11 (Saturday, adjusted), 10-13, 10-14
    assert due_at(at(2025, 9, 30), 5) == close(2025, 10, 14)


def test_national_day_2025_adjusted_sunday_counts() -> None:
    # 2025-09-28 is a Sunday worked in exchange (调休): it is day 1 for an acceptance on the 27th
    assert due_at(at(2025, 9, 26), 1) == close(2025, 9, 28)
    assert due_at(at(2025, 9, 26), 3) == close(2025, 9, 30)
    # accepted on that Sunday: a working day, so counting starts the next day
    assert due_at(at(2025, 9, 28), 1) == close(2025, 9, 29)


def test_national_day_2026() -> None:
    # 2026-10-01..07 holidays, 2026-09-20 (Sun) and 2026-10-10 (Sat) adjusted workdays
    assert due_at(at(2026, 9, 30), 1) == close(2026, 10, 8)
    assert due_at(at(2026, 9, 30), 3) == close(2026, 10, 10)
    assert due_at(at(2026, 9, 18), 1) == close(2026, 9, 20)
    # accepted during the holiday: accepted on the next working day (10-08), day 1 is 10-09
    assert due_at(at(2026, 10, 3), 1) == close(2026, 10, 9)


def test_spring_festival_2026_with_adjusted_saturdays() -> None:
    # 2026-02-14 (Sat) and 2026-02-28 (Sat) are worked; 02-15..23 are holidays
    assert chinese_calendar.is_workday(date(2026, 2, 14))
    assert chinese_calendar.is_workday(date(2026, 2, 28))
    assert due_at(at(2026, 2, 13), 1) == close(2026, 2, 14)
    assert due_at(at(2026, 2, 13), 2) == close(2026, 2, 24)
    # accepted on a holiday: counts from 02-24; 02-25..27 then the adjusted Saturday 02-28 is day 4
    assert due_at(at(2026, 2, 23), 4) == close(2026, 2, 28)
    assert due_at(at(2026, 2, 23), 5) == close(2026, 3, 2)


def test_same_day_item_and_office_close() -> None:
    assert due_at(at(2026, 11, 20, 9), 0) == close(2026, 11, 20)  # 即办件
    assert due_at(at(2026, 11, 20, 17, 30), 0) == close(2026, 11, 20)
    # after close on Friday: accepted on Monday
    assert due_at(at(2026, 11, 20, 17, 31), 0) == close(2026, 11, 23)
    assert due_at(at(2026, 11, 20, 18), 1) == close(2026, 11, 24)
    # on Saturday: accepted on Monday, 1 working day → Tuesday
    assert due_at(at(2026, 11, 21), 1) == close(2026, 11, 24)


def test_other_timezones_are_converted() -> None:
    # 2025-09-30T20:00Z is 2025-10-01 04:00 in China, a holiday
    utc = datetime(2025, 9, 30, 20, tzinfo=UTC)
    assert due_at(utc, 0) == close(2025, 10, 9)
    assert due_at(utc, 0).utcoffset() == timedelta(hours=8)


def test_close_time_can_be_given() -> None:
    assert due_at(at(2026, 11, 20), 1, close=time(18)) == at(2026, 11, 23, 18)


@pytest.mark.parametrize("bad", [-1, 366])
def test_out_of_range_days_are_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        due_at(at(2026, 11, 20), bad)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 11, 20, 10), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        card(close(2026, 11, 20), datetime(2026, 11, 20, 10))


# -- years beyond the calendar ---------------------------------------------------------------------


def test_year_without_calendar_falls_back_to_weekdays_and_says_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    year = 2099
    assert not is_official_year(year)
    assert is_official_year(2026)
    monkeypatch.setattr(sla, "_warned_years", set())
    with caplog.at_level(logging.WARNING, logger="miaopi.sla"):
        deadline = compute_due(at(year, 1, 2), 3)  # Friday
    assert deadline.official is False
    assert deadline.at == close(year, 1, 7)  # Mon, Tue, Wed
    assert any(str(year) in r.getMessage() for r in caplog.records)
    # still no crash for cards in that year
    assert card(deadline.at, at(year, 1, 7, 9)) == "yellow"


def test_deadline_crossing_into_an_uncovered_year_is_not_official() -> None:
    last = max(y for y in range(2004, 2200) if is_official_year(y))
    inside = compute_due(at(last, 6, 1), 3)
    assert inside.official is True
    crossing = compute_due(at(last, 12, 30), 5)
    assert crossing.official is False
    assert crossing.at.year == last + 1


# -- cards -----------------------------------------------------------------------------------------


def test_cards_over_the_life_of_a_task() -> None:
    due = due_at(at(2026, 9, 30), 3)  # 10-10 (adjusted Saturday)
    assert due == close(2026, 10, 10)
    assert working_days_left(due, at(2026, 9, 30, 11)) == 4  # 09-30 close, 10-08, 10-09, 10-10
    assert card(due, at(2026, 9, 30, 11)) == "green"
    assert working_days_left(due, at(2026, 10, 5)) == 3  # holidays do not count
    assert card(due, at(2026, 10, 9, 9)) == "green"
    assert working_days_left(due, at(2026, 10, 9, 17, 31)) == 1
    assert card(due, at(2026, 10, 9, 17, 31)) == "yellow"
    assert card(due, at(2026, 10, 10, 17, 30)) == "yellow"
    assert card(due, at(2026, 10, 10, 17, 31)) == "red"
    assert working_days_left(due, at(2026, 10, 10, 17, 31)) == -1
    assert working_days_left(due, at(2026, 10, 11, 12)) == -1  # Sunday: no working day passed
    assert working_days_left(due, at(2026, 10, 12, 17, 31)) == -2


def test_same_day_item_is_yellow_at_once() -> None:
    accepted = at(2026, 11, 20, 9)
    assert card(due_at(accepted, 0), accepted) == "yellow"


# -- properties ------------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2004, 1, 1), max_value=datetime(2026, 12, 31, 23, 59), timezones=st.just(CHINA_TZ)
)
days = st.integers(min_value=0, max_value=30)


@settings(max_examples=300, deadline=None)
@given(moments, days)
def test_due_is_not_before_acceptance_and_on_a_working_day(accepted: datetime, n: int) -> None:
    deadline = compute_due(accepted, n)
    assert deadline.at >= accepted
    assert deadline.at.time() == sla.OFFICE_CLOSE
    if deadline.official:
        assert chinese_calendar.is_workday(deadline.at.date())
        assert not chinese_calendar.is_holiday(deadline.at.date())
    else:
        assert deadline.at.weekday() < 5


@settings(max_examples=300, deadline=None)
@given(moments, days)
def test_due_is_monotone_in_days(accepted: datetime, n: int) -> None:
    assert due_at(accepted, n) < due_at(accepted, n + 1)


@settings(max_examples=200, deadline=None)
@given(moments, moments, days)
def test_due_is_monotone_in_acceptance(a: datetime, b: datetime, n: int) -> None:
    first, second = sorted((a, b))
    assert due_at(first, n) <= due_at(second, n)


@settings(max_examples=200, deadline=None)
@given(moments, days)
def test_n_working_days_after_the_acceptance_day(accepted: datetime, n: int) -> None:
    # just accepted: the acceptance day (or the next working day when accepted outside office
    # time) is still to close, then the n days of the limit
    assert working_days_left(due_at(accepted, n), accepted) == n + 1


@settings(max_examples=200, deadline=None)
@given(moments, days, st.integers(min_value=0, max_value=60 * 24 * 60))
def test_cards_follow_time(accepted: datetime, n: int, minutes: int) -> None:
    due = due_at(accepted, n)
    now = accepted + timedelta(minutes=minutes)
    colour = card(due, now)
    left = working_days_left(due, now)
    assert (colour == "red") == (now > due)
    if colour == "red":
        assert left < 0
    else:
        assert left >= 1
        assert (colour == "yellow") == (left <= 1)
    later = now + timedelta(hours=7)
    order = {"green": 0, "yellow": 1, "red": 2}
    assert order[card(due, later)] >= order[colour]
