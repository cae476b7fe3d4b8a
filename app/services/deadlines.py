"""Time limits from the catalog, as deadlines on the legal calendar, and their lights (红黄绿灯)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

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


def due_function(cal: WorkCalendar, catalog: dict[str, Any] | None) -> Callable[[str, datetime], datetime | None]:
    return lambda element_id, created_at: task_due(cal, catalog, element_id, created_at)


def light(cal: WorkCalendar, start: datetime, due: datetime | None, now: datetime,
          warn_ratio: float = DEFAULT_WARN_RATIO) -> str | None:
    """green / yellow (little office time left) / red (overdue); None without a deadline."""
    if due is None:
        return None
    if now >= due:
        return "red"
    total = cal.work_minutes_between(start, due)
    left = cal.work_minutes_between(now, due)
    if total > 0 and left <= total * warn_ratio:
        return "yellow"
    return "green"


def warn_ratio(catalog: dict[str, Any] | None) -> float:
    return float((catalog or {}).get("supervision", {}).get("warn_remaining_ratio", DEFAULT_WARN_RATIO))
