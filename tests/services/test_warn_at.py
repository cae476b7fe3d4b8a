"""The stored moment a light turns yellow (deadlines.warn_at) against the rule it stands for.

The rule, as the lights were computed before the moment was stored: yellow while not yet
due and the office minutes left are at most ``ratio`` of the office minutes from the
start to the deadline.
"""
import random
from datetime import date, datetime, timedelta

import pytest

from app.services import deadlines
from app.services.calendar import OfficeHours, WorkCalendar
from app.services.clock import LOCAL_TZ


def rule(cal: WorkCalendar, start: datetime, due: datetime, now: datetime, ratio: float) -> str:
    if now >= due:
        return "red"
    total = cal.work_minutes_between(start, due)
    left = cal.work_minutes_between(now, due)
    return "yellow" if total > 0 and left <= total * ratio else "green"


CALENDARS = {
    "standard": WorkCalendar(),
    "split day": WorkCalendar(office=OfficeHours.parse("08:30-12:00,13:30-17:30")),
    "spring festival moved": WorkCalendar(holidays_override={date(2026, 2, 23), date(2026, 2, 24)},
                                          workdays_override={date(2026, 2, 28)}),
}


@pytest.mark.parametrize("name", CALENDARS)
def test_warn_at_gives_the_rules_light_at_every_moment(name):
    cal, rng = CALENDARS[name], random.Random(name)
    checked = 0
    for _ in range(150):
        start = datetime(2026, 1, 20, tzinfo=LOCAL_TZ) + timedelta(minutes=rng.randrange(60 * 24 * 60))
        unit = rng.choice(["workday", "workhour", "day"])
        due = cal.deadline(start, rng.randint(0, 12), unit)
        ratio = rng.choice([0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0])
        warn = deadlines.warn_at(cal, start, due, ratio)
        # moments around the stored one and spread over the whole period
        probes = [warn + timedelta(microseconds=d) for d in (-1, 0, 1)]
        probes += [warn + timedelta(minutes=d) for d in (-61, -1, 1, 59)]
        probes += [start + (due - start) * rng.random() for _ in range(12)] + [due, start]
        for now in probes:
            assert deadlines.light(cal, start, due, now, ratio) == rule(cal, start, due, now, ratio), \
                (start, due, unit, ratio, warn, now)
            assert deadlines.light(cal, start, due, now, ratio, warn=warn) == rule(cal, start, due, now, ratio)
            checked += 1
    assert checked > 3000


def test_a_deadline_of_two_working_days_turns_yellow_in_the_last_fifth_of_its_office_time():
    cal = WorkCalendar()  # 09:00-12:00 and 13:00-17:00: 420 office minutes a day
    start = datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)  # Monday
    due = cal.deadline(start, 2, "workday")  # Wednesday 17:00
    assert due == datetime(2026, 3, 4, 17, 0, tzinfo=LOCAL_TZ)
    assert cal.work_minutes_between(start, due) == 1260
    warn = deadlines.warn_at(cal, start, due, 0.2)
    # yellow once fewer than 1260 * 0.2 + 1 = 253 minutes are left: the afternoon's 240 and 13 before lunch
    assert warn == datetime(2026, 3, 4, 11, 47, tzinfo=LOCAL_TZ)
    assert deadlines.light(cal, start, due, warn, 0.2) == "green"
    assert deadlines.light(cal, start, due, warn + timedelta(seconds=1), 0.2) == "yellow"


def test_a_count_that_runs_out_at_an_opening_stops_there_not_at_the_close_before():
    cal = WorkCalendar()
    due = datetime(2026, 3, 3, 10, 0, tzinfo=LOCAL_TZ)  # Tuesday, an hour after opening
    assert cal.office_point_before(due, 60) == datetime(2026, 3, 3, 9, 0, tzinfo=LOCAL_TZ)
    assert cal.office_point_before(due, 61) == datetime(2026, 3, 2, 16, 59, tzinfo=LOCAL_TZ)
    # over a weekend: Monday 10:00 back 2 office hours is Friday 16:00
    assert cal.office_point_before(datetime(2026, 3, 9, 10, 0, tzinfo=LOCAL_TZ), 120) == \
        datetime(2026, 3, 6, 16, 0, tzinfo=LOCAL_TZ)


def test_without_office_time_before_the_deadline_the_light_goes_from_green_to_red():
    cal = WorkCalendar()
    start = datetime(2026, 3, 7, 10, 0, tzinfo=LOCAL_TZ)  # Saturday
    due = datetime(2026, 3, 8, 12, 0, tzinfo=LOCAL_TZ)   # Sunday: no office time in between
    assert deadlines.warn_at(cal, start, due, 0.2) == due
    assert deadlines.light(cal, start, due, due - timedelta(seconds=1), 0.2) == "green"
