"""The legal clock, checked against the worked examples and an independent oracle."""
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from app.services.calendar import OfficeHours, WorkCalendar
from app.services.clock import LOCAL_TZ

CAL = WorkCalendar()


@pytest.mark.parametrize("days,expected", [(1, date(2025, 9, 28)), (5, date(2025, 10, 10)),
                                           (20, date(2025, 10, 30))])
def test_domain_worked_examples(days, expected):
    # accepted Friday 2025-09-26; 28 Sep and 11 Oct are make-up working days
    assert CAL.add_workdays(date(2025, 9, 26), days) == expected


# One known difference between the two sources: per 国办发明电〔2005〕40号, Saturday
# 31 Dec 2005 was a make-up working day for the 2006 New Year holiday; the `holidays`
# package has it, chinese-calendar does not.
KNOWN_ORACLE_DIFFERENCES = [date(2005, 12, 31)]


def test_every_day_2004_to_2026_agrees_with_chinese_calendar():
    day, disagreements = date(2004, 1, 1), []
    while day <= date(2026, 12, 31):
        if CAL.is_workday(day) != chinese_calendar.is_workday(day):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == KNOWN_ORACLE_DIFFERENCES
    assert CAL.is_workday(date(2005, 12, 31))


def test_a_deadline_crossing_into_2027_is_flagged_estimated_until_imported():
    due = CAL.add_workdays(date(2026, 12, 20), 20)
    assert due.year == 2027
    assert not CAL.is_estimated(2026) and CAL.is_estimated(2027)
    imported = WorkCalendar(imported_years={2027})
    assert not imported.is_estimated(2027)


def test_an_imported_override_changes_the_result():
    start = date(2027, 2, 4)
    # the package's estimate: 5-10 Feb are holidays
    assert [CAL.add_workdays(start, n) for n in (1, 2, 3, 5)] == [
        date(2027, 2, 11), date(2027, 2, 12), date(2027, 2, 15), date(2027, 2, 17)]
    # a (made-up) notice: 8-12 Feb are holidays and Sunday 7 Feb is a make-up working day
    notice = WorkCalendar(holidays_override={date(2027, 2, d) for d in range(8, 13)},
                          workdays_override={date(2027, 2, 7)}, imported_years={2027})
    assert [notice.add_workdays(start, n) for n in (1, 2, 3, 5)] == [
        date(2027, 2, 5), date(2027, 2, 7), date(2027, 2, 15), date(2027, 2, 17)]
    # with the notice imported, a day the package guessed as a holiday is a working day again
    assert not CAL.is_workday(date(2027, 2, 5)) and notice.is_workday(date(2027, 2, 5))


def test_zero_days_is_the_same_working_day_or_the_next():
    assert CAL.add_workdays(date(2025, 10, 9), 0) == date(2025, 10, 9)
    assert CAL.add_workdays(date(2025, 10, 4), 0) == date(2025, 10, 9)  # holiday → next working day


def test_counting_the_start_day_is_a_setting():
    inclusive = WorkCalendar(count_start_day=True)
    assert inclusive.add_workdays(date(2025, 9, 26), 1) == date(2025, 9, 26)
    assert inclusive.add_workdays(date(2025, 9, 26), 2) == date(2025, 9, 28)


def test_workdays_between_inverts_add_workdays():
    start = date(2025, 9, 26)
    for n in (1, 5, 20, 60):
        assert CAL.workdays_between(start, CAL.add_workdays(start, n)) == n
    assert CAL.workdays_between(date(2025, 10, 1), date(2025, 10, 8)) == 0


def at(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ)


def test_working_hours_skip_lunch_nights_weekends_and_holidays():
    # Friday 2025-09-26 15:00 + 3 working hours: 2 h left Friday, then Sunday 28th (make-up day) 09:00 +1 h
    assert CAL.deadline(at(2025, 9, 26, 15), 3, "workhour") == at(2025, 9, 28, 10)
    # 11:00 + 2 h crosses lunch (12:00–13:00)
    assert CAL.deadline(at(2025, 10, 9, 11), 2, "workhour") == at(2025, 10, 9, 14)
    # an after-hours start rolls to the next opening
    assert CAL.deadline(at(2025, 10, 9, 20), 1, "workhour") == at(2025, 10, 10, 10)
    assert CAL.work_minutes_between(at(2025, 10, 9, 11), at(2025, 10, 9, 14)) == 120


def test_workday_and_natural_day_deadlines_end_at_office_close():
    assert CAL.deadline(at(2025, 9, 26, 10), 5, "workday") == at(2025, 10, 10, 17)
    assert CAL.deadline(at(2025, 9, 26, 10), 5, "day") == at(2025, 10, 1, 17)
    late = WorkCalendar(office=OfficeHours.parse("08:30-12:00,14:30-17:30"))
    assert late.deadline(at(2025, 9, 26, 10), 1, "workday") == at(2025, 9, 28, 17, 30)


def test_fast_counting_agrees_with_walking_day_by_day():
    import random
    rng = random.Random(20251001)
    for _ in range(500):
        start = at(2024, 1, 1, 0) + timedelta(minutes=rng.randint(0, 60 * 24 * 900))
        end = start + timedelta(minutes=rng.randint(0, 60 * 24 * 400))
        walked, day = timedelta(), start.date()
        naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)  # already Shanghai time
        while day <= end.date():  # the office periods of each day, clipped to [start, end)
            for opens, closes in CAL.office.periods if CAL.is_workday(day) else ():
                a = max(datetime.combine(day, opens), naive_start)
                b = min(datetime.combine(day, closes), naive_end)
                walked += max(b - a, timedelta())
            day += timedelta(days=1)
        assert CAL.work_minutes_between(start, end) == int(walked.total_seconds() // 60)
        a, b = start.date(), end.date()
        assert CAL.workdays_between(a, b) == sum(CAL.is_workday(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


# -- 即办件: the same working day, but never a deadline before the task exists ------------------
_IMMEDIATE = {"matters": [{"code": "m", "name": "社保登记", "task": "task_social", "kind": "immediate"}]}


@pytest.mark.parametrize("offered,expected", [
    (datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ), datetime(2025, 9, 26, 17, 0, tzinfo=LOCAL_TZ)),  # Friday
    # after close of office on Friday: Sunday 28 Sep is a make-up working day
    (datetime(2025, 9, 26, 18, 30, tzinfo=LOCAL_TZ), datetime(2025, 9, 28, 17, 0, tzinfo=LOCAL_TZ)),
    # on a rest day (Saturday 27 Sep): the next working day
    (datetime(2025, 9, 27, 10, 0, tzinfo=LOCAL_TZ), datetime(2025, 9, 28, 17, 0, tzinfo=LOCAL_TZ)),
    # after close on the last day before 国庆: the first working day after the holiday
    (datetime(2025, 9, 30, 20, 0, tzinfo=LOCAL_TZ), datetime(2025, 10, 9, 17, 0, tzinfo=LOCAL_TZ)),
])
def test_an_immediate_task_is_due_by_the_close_of_the_working_day_it_can_be_worked(offered, expected):
    from app.services.deadlines import task_due
    assert task_due(CAL, _IMMEDIATE, "task_social", offered) == expected
