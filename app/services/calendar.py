"""The legal clock: China's working days and office hours, in Asia/Shanghai.

Every deadline in the app is computed here (行政许可法 Art. 82: periods are
working days and exclude statutory holidays). Sources, in order of authority:

1. overrides imported from the State Council's yearly notice (table calendar_days);
2. the ``holidays`` package (statutory holidays and make-up working days 调休);
3. weekends.

A year that is neither imported nor published in the package (the package only
estimates future years, without make-up days) is *estimated*; deadlines that
fall in such a year are flagged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from time import monotonic as _monotonic

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import CalendarDay, CalendarYear
from .clock import LOCAL_TZ

UNITS = ("workday", "workhour", "day")
UNIT_NAMES = {"workday": "工作日", "workhour": "工作小时", "day": "自然日"}
ONE_DAY = timedelta(days=1)  # a calendar step, not a deadline
MAX_WALK_DAYS = 3_700  # about ten years: a walk over the calendar that gets no further gives up


@lru_cache(maxsize=64)
def _library_year(year: int) -> tuple[frozenset[date], frozenset[date], bool]:
    """(holidays, make-up working days, published) for one year from the package."""
    cn = holidays.China(years=year)
    off = frozenset(d for d in cn if d.year == year)
    on = frozenset(d for d in cn.weekend_workdays if d.year == year)
    return off, on, year in cn.special_public_holidays


@dataclass(frozen=True)
class OfficeHours:
    """Office hours of a working day, e.g. 09:00–12:00 and 13:00–17:00."""

    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(17)))

    @classmethod
    def parse(cls, text: str) -> "OfficeHours":
        periods = []
        for part in text.split(","):
            start, end = (time.fromisoformat(p.strip()) for p in part.split("-"))
            if end <= start:
                raise ValueError(f"bad office period {part!r}")
            periods.append((start, end))
        return cls(tuple(sorted(periods)))

    @property
    def close(self) -> time:
        return self.periods[-1][1]

    @property
    def daily(self) -> timedelta:
        """Office time in one working day."""
        return timedelta(microseconds=self.daily_us)

    @cached_property
    def periods_us(self) -> tuple[tuple[int, int], ...]:
        """The periods as microseconds after midnight."""
        return tuple((_us_of_day(o), _us_of_day(c)) for o, c in self.periods)

    @cached_property
    def daily_us(self) -> int:
        return sum(c - o for o, c in self.periods_us)


@dataclass
class WorkCalendar:
    holidays_override: set[date] = field(default_factory=set)
    workdays_override: set[date] = field(default_factory=set)
    imported_years: set[int] = field(default_factory=set)
    office: OfficeHours = field(default_factory=OfficeHours)
    count_start_day: bool = False

    # -- days -----------------------------------------------------------------
    # A calendar is built whole by ``_read`` (or a test) and not changed afterwards, so
    # answers about days are memoised on the instance (each instance lives a few seconds).
    def is_workday(self, day: date) -> bool:
        memo = self.__dict__.setdefault("_workday", {})
        known = memo.get(day)
        if known is None:
            known = memo[day] = self._is_workday(day)
        return known

    def _is_workday(self, day: date) -> bool:
        if day in self.workdays_override:
            return True
        if day in self.holidays_override:
            return False
        if day.year in self.imported_years:  # the imported notice is the whole truth for its year
            return day.weekday() < 5
        off, on, _ = _library_year(day.year)
        if day in on:
            return True
        if day in off:
            return False
        return day.weekday() < 5

    def is_estimated(self, year: int) -> bool:
        return year not in self.imported_years and not _library_year(year)[2]

    def add_workdays(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (the start day itself is not counted).

        ``days == 0`` is the start day if it is a working day, else the next one (即办件).
        """
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        if days == 0:
            while not self.is_workday(current):
                current += ONE_DAY
            return current
        remaining = days
        if self.count_start_day and self.is_workday(current):
            remaining -= 1
            if remaining == 0:
                return current
        while remaining:
            current += ONE_DAY
            if self.is_workday(current):
                remaining -= 1
        return current

    def _year_prefix(self, year: int) -> list[int]:
        """prefix[i] = working days from 1 Jan to the i-th day of ``year`` inclusive (memoised)."""
        cache = self.__dict__.setdefault("_prefix", {})
        if year not in cache:
            total, prefix, day = 0, [], date(year, 1, 1)
            while day.year == year:
                total += self.is_workday(day)
                prefix.append(total)
                day += ONE_DAY
            cache[year] = prefix
        return cache[year]

    def _through(self, day: date) -> int:
        """Working days from 1 Jan of the day's year through ``day``."""
        return self._year_prefix(day.year)[day.toordinal() - date(day.year, 1, 1).toordinal()]

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative if end is before start."""
        if end < start:
            return -self.workdays_between(end, start)
        full_years = sum(self._year_prefix(y)[-1] for y in range(start.year, end.year))
        return full_years + self._through(end) - self._through(start)

    def _workdays_strictly_between(self, first: date, last: date) -> int:
        memo = self.__dict__.setdefault("_between", {})
        known = memo.get((first, last))
        if known is None:
            known = memo[(first, last)] = self.workdays_between(first, last) - self.is_workday(last)
        return known

    # -- moments --------------------------------------------------------------
    def _close_of(self, day: date) -> datetime:
        return datetime.combine(day, self.office.close, LOCAL_TZ)

    def deadline(self, start: datetime, amount: int, unit: str) -> datetime:
        """When a limit of ``amount`` ``unit`` that starts at ``start`` runs out (aware datetime).

        workday: close of office on the n-th working day after the start day;
        workhour: office time counted from ``start`` (after-hours starts roll to the next opening);
        day: close of office n natural days later.
        """
        local = start.astimezone(LOCAL_TZ)
        if unit == "workday":
            return self._close_of(self.add_workdays(local.date(), amount))
        if unit == "workhour":
            return self.add_work_minutes(local, amount * 60)
        if unit == "day":
            return self._close_of(local.date() + amount * ONE_DAY)
        raise ValueError(f"unknown unit {unit!r}; expected one of {UNITS}")

    def add_work_minutes(self, start: datetime, minutes: int) -> datetime:
        """``minutes`` of office time after ``start``."""
        local = start.astimezone(LOCAL_TZ)
        remaining = timedelta(minutes=minutes)
        day = local.date()
        while True:
            if self.is_workday(day):
                for opens, closes in self.office.periods:
                    begin = max(datetime.combine(day, opens, LOCAL_TZ), local)
                    end = datetime.combine(day, closes, LOCAL_TZ)
                    if begin >= end:
                        continue
                    if begin + remaining <= end:
                        return begin + remaining
                    remaining -= end - begin
            day += ONE_DAY
            local = datetime.combine(day, time(0), LOCAL_TZ)

    def office_point_before(self, end: datetime, minutes: int) -> datetime:
        """The latest moment ``t`` with ``minutes`` of office time in [t, end): ``end`` walked back.

        A count that runs out exactly at an opening gives the opening, so that any
        moment after ``t`` has less than ``minutes`` of office time left before ``end``.
        """
        local = end.astimezone(LOCAL_TZ)
        budget = minutes * 60_000_000
        if budget <= 0:
            return end
        day, until = local.date(), _us_of_day(local)
        for _ in range(MAX_WALK_DAYS):
            if self.is_workday(day):
                for opens, closes in reversed(self.office.periods_us):
                    upper = min(closes, until)
                    if upper <= opens:
                        continue
                    if upper - opens >= budget:
                        return datetime.combine(day, time(0), LOCAL_TZ) + timedelta(microseconds=upper - budget)
                    budget -= upper - opens
            day -= ONE_DAY
            until = _DAY_US
        raise ValueError(f"no {minutes} office minutes in the {MAX_WALK_DAYS} days before {end.isoformat()}")

    def _office_us_within(self, day: date, start_us: int, end_us: int) -> int:
        """Office time of ``day`` inside [start_us, end_us), in microseconds after its midnight."""
        if not self.is_workday(day):
            return 0
        total = 0
        for opens, closes in self.office.periods_us:
            a, b = max(opens, start_us), min(closes, end_us)
            if b > a:
                total += b - a
        return total

    def work_minutes_between(self, start: datetime, end: datetime) -> int:
        """Office minutes in [start, end). Whole days in between are counted, not walked.

        Each list row asks this twice (the traffic light), so it works on integer
        microseconds of Shanghai wall-clock time (China has no daylight saving, so
        local arithmetic is exact) instead of building datetimes per office period.
        """
        if end <= start:
            return 0
        start, end = start.astimezone(LOCAL_TZ), end.astimezone(LOCAL_TZ)
        first, last = start.date(), end.date()
        start_us, end_us = _us_of_day(start), _us_of_day(end)
        if last == first:
            total = self._office_us_within(first, start_us, end_us)
        else:
            total = self._office_us_within(first, start_us, _DAY_US) + self._office_us_within(last, 0, end_us)
            total += self.office.daily_us * self._workdays_strictly_between(first, last)
        return total // 60_000_000


_DAY_US = 86_400_000_000


def _us_of_day(moment: datetime | time) -> int:
    """Microseconds since midnight of a wall-clock time."""
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + moment.microsecond


_office = OfficeHours()


def configure(office_hours: str | None, cache_seconds: float = 5.0) -> None:
    """Set the hall's office hours (APP_OFFICE_HOURS) and the override cache, once at start-up."""
    global _office, CACHE_SECONDS
    _office = OfficeHours.parse(office_hours) if office_hours else OfficeHours()
    CACHE_SECONDS = cache_seconds
    invalidate()


# Overrides change a few times a year; each process re-reads them at most every
# few seconds (an import in this process clears the cache at once).
CACHE_SECONDS = 5.0
_cached: tuple[float, WorkCalendar] | None = None


def load(session: Session, *, fresh: bool = False) -> WorkCalendar:
    """The calendar with the imported overrides (``fresh``: as committed now, not as cached)."""
    global _cached
    now = _monotonic()
    if not fresh and _cached is not None and now - _cached[0] < CACHE_SECONDS:
        return _cached[1]
    cal = _read(session)
    _cached = (now, cal)
    return cal


def invalidate() -> None:
    global _cached
    _cached = None


def _read(session: Session) -> WorkCalendar:
    cal = WorkCalendar(office=_office)
    for row in session.execute(select(CalendarDay)).scalars():
        (cal.holidays_override if row.kind == "holiday" else cal.workdays_override).add(row.day)
    cal.imported_years = set(session.execute(select(CalendarYear.year)).scalars())
    return cal


def parse_date_list(text: str) -> list[date]:
    """'2027-02-06..2027-02-08,2027-02-14' (commas, spaces or new lines between) -> the dates, ranges expanded."""
    days: list[date] = []
    for part in filter(None, (p.strip() for p in text.replace("，", ",").replace("\n", ",").split(","))):
        try:
            first, _, last = part.partition("..")
            start, end = date.fromisoformat(first.strip()), date.fromisoformat((last or first).strip())
        except ValueError:
            raise InvalidInput(f"无效日期：{part}（格式为 2027-02-06，区间写作 2027-02-06..2027-02-12）") from None
        if end < start or (end - start).days > 366:
            raise InvalidInput(f"无效的日期区间：{part}")
        while start <= end:
            days.append(start)
            start += ONE_DAY  # walking a range of calendar dates, not a deadline
    return days


def engine_context(cal: WorkCalendar, now: datetime):
    """Context for an engine call: the app's 'now' and this calendar's deadlines."""
    from .. import engine
    return engine.run_context(now, cal.deadline)


def import_year(session: Session, *, year: int, holidays_list: list[date], workdays_list: list[date],
                source: str, actor_id: int | None, now: datetime) -> CalendarYear:
    """Replace a year's overrides with the official notice's lists."""
    from . import audit, lights
    wrong = [d.isoformat() for d in [*holidays_list, *workdays_list] if d.year != year]
    both = sorted(set(holidays_list) & set(workdays_list))
    if wrong or both:
        problems = ([f"日期不属于 {year} 年：{', '.join(wrong)}"] if wrong else []) + \
                   ([f"同一天不能既是假日又是工作日：{', '.join(map(str, both))}"] if both else [])
        raise InvalidInput("日历数据无效", problems)
    existing = session.execute(select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))).scalars().all()
    for row in existing:
        session.delete(row)
    session.flush()
    for day in sorted(set(holidays_list)):
        session.add(CalendarDay(day=day, kind="holiday", name="法定节假日", updated_at=now, updated_by_id=actor_id))
    for day in sorted(set(workdays_list)):
        session.add(CalendarDay(day=day, kind="workday", name="调休上班", updated_at=now, updated_by_id=actor_id))
    row = session.get(CalendarYear, year) or CalendarYear(year=year)
    row.source, row.imported_at, row.imported_by_id = source, now, actor_id
    session.add(row)
    invalidate()
    lights.forget(session)  # the yellow moments of open rows follow the new days (the scheduler works them out)
    audit.record(session, action="calendar.imported", at=now, actor_id=actor_id, object_type="calendar_year",
                 object_id=year, before={"days": len(existing)},
                 after={"holidays": [d.isoformat() for d in holidays_list],
                        "workdays": [d.isoformat() for d in workdays_list], "source": source})
    session.flush()
    return row
