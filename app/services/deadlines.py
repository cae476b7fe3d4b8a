"""Time limits from the catalog, as deadlines on the legal calendar, and their lights (红黄绿灯)."""
from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from .calendar import WorkCalendar
from .clock import LOCAL_TZ
from .catalog import limits_for, matter_for_task

DEFAULT_WARN_RATIO = 0.2


def _limit_deadline(cal: WorkCalendar, start: datetime, limit: dict[str, Any] | None) -> datetime | None:
    if not limit:
        return None
    return cal.deadline(start, int(limit["amount"]), limit["unit"])


def case_deadlines(cal: WorkCalendar, catalog: dict[str, Any] | None, start: datetime,
                   data: dict[str, Any] | None = None) -> tuple[datetime | None, datetime | None]:
    """(promised, statutory) deadlines of a case accepted at ``start``; a variant the case
    data picks (e.g. its project type) brings its own limits."""
    limits = limits_for(catalog, data)
    return _limit_deadline(cal, start, limits.get("promised")), _limit_deadline(cal, start, limits.get("statutory"))


def task_due(cal: WorkCalendar, catalog: dict[str, Any] | None, element_id: str,
             created_at: datetime) -> datetime | None:
    """A task's deadline: 即办件 the same working day, else its promised (or statutory) limit."""
    matter = matter_for_task(catalog, element_id)
    if matter is None:
        return None
    if matter.get("kind") == "immediate":
        # the same working day; offered after close of office or on a rest day: the next working day's close
        due = cal.deadline(created_at, 0, "workday")
        if due <= created_at or not cal.is_workday(created_at.astimezone(LOCAL_TZ).date()):
            due = cal.deadline(created_at, 1, "workday")
        return due
    limits = matter.get("limits", {})
    return _limit_deadline(cal, created_at, limits.get("promised") or limits.get("statutory"))


class Deadline(NamedTuple):
    due: datetime
    warn_at: datetime  # the light turns yellow after this moment (see ``warn_at``)


def due_function(cal: WorkCalendar, catalog: dict[str, Any] | None) -> Callable[[str, datetime], Deadline | None]:
    """A task's deadline and the moment its light turns yellow, by its element id and when it is offered."""
    ratio = warn_ratio(catalog)

    def due_for(element_id: str, created_at: datetime) -> Deadline | None:
        due = task_due(cal, catalog, element_id, created_at)
        return None if due is None else Deadline(due, warn_at(cal, created_at, due, ratio))
    return due_for


def warn_at(cal: WorkCalendar, start: datetime, due: datetime, warn_ratio: float = DEFAULT_WARN_RATIO) -> datetime:
    """After this moment (and before ``due``) the light is yellow: the office time left before ``due``
    is at most ``warn_ratio`` of the office time from ``start`` to ``due``, in whole minutes.

    Stored beside each deadline, so that lists and the supervision scan find yellow and red
    rows with an index instead of working out every open row's light.
    """
    total = cal.work_minutes_between(start, due)
    if total <= 0:
        return due  # no office time to run out of: green until it is red
    # office minutes left (a whole number) <= total * ratio  <=>  less than floor(total * ratio) + 1 left
    return cal.office_point_before(due, math.floor(total * warn_ratio) + 1)


def case_warn_at(cal: WorkCalendar, catalog: dict[str, Any] | None, case: Any) -> datetime | None:
    """``warn_at`` of a case's deadline (its light runs from when the case came in)."""
    return None if case.deadline is None else warn_at(cal, case.created_at, case.deadline, warn_ratio(catalog))


def light(cal: WorkCalendar, start: datetime, due: datetime | None, now: datetime,
          warn_ratio: float = DEFAULT_WARN_RATIO, warn: datetime | None = None) -> str | None:
    """green / yellow (little office time left) / red (overdue); None without a deadline.

    ``warn`` is the stored ``warn_at`` of the row when it has one (it is worked out otherwise).
    """
    if due is None:
        return None
    if now >= due:
        return "red"
    if warn is None:
        warn = warn_at(cal, start, due, warn_ratio)
    return "yellow" if now > warn else "green"


def warn_ratio(catalog: dict[str, Any] | None) -> float:
    return float((catalog or {}).get("supervision", {}).get("warn_remaining_ratio", DEFAULT_WARN_RATIO))
