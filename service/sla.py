"""Promised time limits (承诺办结时限) in working days, and the yellow/red cards of electronic
supervision (黄牌预警、红牌警告).

Working days follow the State Council's holiday arrangements through chinese_calendar: public
holidays do not count, adjusted working days (调休上班的周六、周日) do. For a year the installed
calendar does not cover yet, Monday to Friday is used instead and the result says so
(`Deadline.official` is False, and a warning is logged once per year): a deadline is never
silently presented as official when it is not.

Rules chosen here:

- The time limit runs from the day after acceptance (受理次日起算): N working days after
  acceptance is the end of the Nth working day after the acceptance day. A 即办件 (0 days) is due
  the same working day.
- An application accepted on a non-working day, or on a working day after office close, counts
  as accepted on the next working day (what service centres do for online submissions outside
  office hours).
- A task is due at office close, 17:30 China time, of its last working day. 《民法典》第二百零三条:
  the last day of a period ends at 24:00, but where there are business hours, at the time business
  stops. 17:30 is the common close of government service halls; offices that close later see the
  card turn red up to half an hour early, never late. The close is a keyword argument for a
  department that needs another.
- Working days left count the office closes still to come up to the due time: on the last
  working day (after the previous working day's close) one is left and the card is yellow; past the
  due time the card is red and the count is negative: -1 until the next working day's close, -2
  after it, and so on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

import chinese_calendar

from engine.case import CHINA_TZ

log = logging.getLogger("miaopi.sla")

OFFICE_CLOSE = time(17, 30)
"""End of office hours, China time: the moment a day's work is due."""

MAX_WORKING_DAYS = 365
"""The longest time limit a ruleset may state (engine.model.Item.time_limit_days)."""

Card = Literal["green", "yellow", "red"]

_warned_years: set[int] = set()


@dataclass(frozen=True)
class Deadline:
    """When a task is due, and whether the official holiday calendar covered every day counted."""

    at: datetime
    official: bool
    """False when a year beyond chinese_calendar's data was counted as Monday to Friday."""


def is_official_year(year: int) -> bool:
    """Whether chinese_calendar holds the holiday arrangements of `year`."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date) -> tuple[bool, bool]:
    """(working day?, official?) for one date: the holiday calendar where it has the year, otherwise
    Monday to Friday (logged once per year)."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "no official holiday calendar for %d: working days counted as Monday to Friday", day.year
            )
        return day.weekday() < 5, False


def _china(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got {moment.isoformat()})")
    return moment.astimezone(CHINA_TZ)


def _close_of(day: date, close: time) -> datetime:
    return datetime.combine(day, close, tzinfo=CHINA_TZ)


def compute_due(accepted_at: datetime, working_days: int, *, close: time = OFFICE_CLOSE) -> Deadline:
    """The due time of a task accepted at `accepted_at` with a time limit of `working_days` working
    days, and whether the official holiday calendar covered every day counted."""
    if isinstance(working_days, bool) or not isinstance(working_days, int):
        raise TypeError("working_days must be an integer")
    if not 0 <= working_days <= MAX_WORKING_DAYS:
        raise ValueError(f"working_days must be between 0 and {MAX_WORKING_DAYS} (got {working_days})")
    local = _china(accepted_at, "accepted_at")
    official = True
    day = local.date()
    working, ok = is_working_day(day)
    official &= ok
    if not working or local > _close_of(day, close):
        # accepted outside office time: counts as accepted on the next working day
        day += timedelta(days=1)
        while True:
            working, ok = is_working_day(day)
            official &= ok
            if working:
                break
            day += timedelta(days=1)
    left = working_days
    while left:
        day += timedelta(days=1)
        working, ok = is_working_day(day)
        official &= ok
        if working:
            left -= 1
    return Deadline(at=_close_of(day, close), official=official)


def due_at(accepted_at: datetime, working_days: int, *, close: time = OFFICE_CLOSE) -> datetime:
    """Office close (China time) of the last working day of the time limit; see `compute_due` for
    whether the calendar used was official."""
    return compute_due(accepted_at, working_days, close=close).at


def _closes_between(start: datetime, end: datetime, close: time) -> int:
    """Working-day closes c with start < c <= end (start <= end)."""
    count = 0
    day = start.date()
    while _close_of(day, close) <= end:
        if _close_of(day, close) > start and is_working_day(day)[0]:
            count += 1
        day += timedelta(days=1)
    return count


def working_days_left(due: datetime, now: datetime, *, close: time = OFFICE_CLOSE) -> int:
    """Working days left before `due`: the working-day office closes after `now` up to `due`. On the
    last working day it is 1; once overdue it is -1 until the next working day's close, then -2..."""
    due_local, now_local = _china(due, "due"), _china(now, "now")
    if now_local <= due_local:
        return _closes_between(now_local, due_local, close)
    # overdue: the working day in progress after the due time counts as one overdue day
    return -(_closes_between(due_local, now_local, close) + 1)


def card(due: datetime, now: datetime, *, close: time = OFFICE_CLOSE) -> Card:
    """红牌 when overdue, 黄牌 when one working day or less is left, green otherwise."""
    if _china(now, "now") > _china(due, "due"):
        return "red"
    return "yellow" if working_days_left(due, now, close=close) <= 1 else "green"
