"""The manager dashboard's figures: a few grouped SQL queries each, over the rules in ``reports``."""
from __future__ import annotations

import math
from datetime import datetime, time
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import RATING_LEVELS, Case, Department, FollowUp, Rating, SupervisionEvent, Task
from . import calendar, reports, supervision
from .clock import LOCAL_TZ
from .ratings import BAD_LEVELS, FOLLOW_UP_STATUSES
from .reports import Filters

LIST_SIZE = 20  # rows of the red, yellow and bad-rating lists shown on the dashboard
MAX_HANDLING_ROWS = 10000  # handling-time quantiles use the newest completions up to this many


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(on_time: int, late: int) -> float | None:
    return on_time / (on_time + late) if on_time + late else None


def cases_by_status(session: Session, f: Filters) -> list[dict[str, Any]]:
    rows = session.execute(select(Case.process_key, Case.status, func.count())
                           .where(*reports.received(f)).group_by(Case.process_key, Case.status)).all()
    return [{"service": key, "status": status, "count": n} for key, status, n in rows]


def on_time_by_service(session: Session, f: Filters) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Case.process_key, _count(reports.case_on_time()), _count(reports.case_late(f.now)),
               _count(reports.case_pending(f.now)))
        .where(*reports.received(f), Case.deadline.is_not(None)).group_by(Case.process_key)).all()
    return [{"service": key, "on_time": int(a), "late": int(b), "pending": int(c), "rate": _rate(int(a), int(b))}
            for key, a, b, c in rows]


def on_time_by_department(session: Session, f: Filters) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Task.department_id, _count(reports.task_on_time()), _count(reports.task_late(f.now)),
               _count(reports.task_pending(f.now)))
        .join(Case, Case.id == Task.case_id).where(*reports.task_scope(f)).group_by(Task.department_id)).all()
    return [{"department_id": d, "on_time": int(a), "late": int(b), "pending": int(c), "rate": _rate(int(a), int(b))}
            for d, a, b, c in rows]


class OfficeMinutes:
    """Office minutes from the midnight of ``first`` to a moment: the whole days by the calendar's
    work_minutes_between (memoised per day), the last day from its office hours, so that ``m(b) - m(a)``
    is the office time in [a, b) at the cost of two lookups per row."""

    def __init__(self, cal: calendar.WorkCalendar, first: datetime):
        self.cal = cal
        self.origin = datetime.combine(first.astimezone(LOCAL_TZ).date(), time(0), LOCAL_TZ)
        self.days: dict = {}
        self.periods = [(o.hour * 60 + o.minute, c.hour * 60 + c.minute) for o, c in cal.office.periods]

    def _day(self, day) -> tuple[int, bool]:
        found = self.days.get(day)
        if found is None:
            base = self.cal.work_minutes_between(self.origin, datetime.combine(day, time(0), LOCAL_TZ))
            found = self.days[day] = (base, self.cal.is_workday(day))
        return found

    def __call__(self, moment: datetime) -> float:
        local = moment.astimezone(LOCAL_TZ)
        base, working = self._day(local.date())
        if not working:
            return base
        now = local.hour * 60 + local.minute + local.second / 60
        return base + sum(max(0.0, min(now, closes) - opens) for opens, closes in self.periods)


def _ratios(cal, rows) -> dict[Any, list[float]]:
    """rows of (key, start, end, due) -> per key, office time used / office time allowed."""
    groups: dict[Any, list[float]] = {}
    if not rows:
        return groups
    minutes = OfficeMinutes(cal, min(r[1] for r in rows))
    for key, begin, end, due in rows:
        start = minutes(begin)
        allowed = minutes(due) - start
        if allowed > 0:
            groups.setdefault(key, []).append((minutes(end) - start) / allowed)
    return groups


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks of sorted ``values``."""
    if not values:
        return None
    pos = (len(values) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return values[low] + (values[high] - values[low]) * (pos - low)


def _summarise(groups: dict[Any, list[float]], key_name: str) -> list[dict[str, Any]]:
    out = []
    for key, ratios in groups.items():
        ratios.sort()
        out.append({key_name: key, "count": len(ratios), "median": quantile(ratios, 0.5),
                    "p90": quantile(ratios, 0.9), "over": sum(1 for r in ratios if r > 1)})
    return out


def handling_by_service(session: Session, f: Filters) -> list[dict[str, Any]]:
    """Completed cases: office time used / office time allowed (from acceptance to the deadline)."""
    cal = calendar.load(session)
    rows = session.execute(
        select(Case.process_key, Case.accepted_at, Case.created_at, Case.completed_at, Case.deadline)
        .where(*reports.received(f), Case.status == "completed", Case.deadline.is_not(None))
        .order_by(Case.completed_at.desc()).limit(MAX_HANDLING_ROWS)).all()
    return _summarise(_ratios(cal, [(key, accepted or created, completed, deadline)
                                    for key, accepted, created, completed, deadline in rows]), "service")


def handling_by_department(session: Session, f: Filters) -> list[dict[str, Any]]:
    """Completed tasks: office time used / office time allowed (from the task's start to its deadline)."""
    cal = calendar.load(session)
    rows = session.execute(
        select(Task.department_id, Task.created_at, Task.completed_at, Task.due_at)
        .join(Case, Case.id == Task.case_id).where(*reports.task_scope(f), Task.state == "completed")
        .order_by(Task.completed_at.desc()).limit(MAX_HANDLING_ROWS)).all()
    return _summarise(_ratios(cal, [tuple(r) for r in rows]), "department_id")


def lights(session: Session, f: Filters) -> dict[str, Any]:
    """Counts of red and yellow open tasks, and the most urgent of each."""
    cal = calendar.load(session)
    red_count, red_cases, red = reports.red_tasks(session, f, LIST_SIZE)
    yellow = reports.yellow_tasks(session, f)
    return {"red_count": red_count, "yellow_count": len(yellow),
            "red_cases": red_cases, "yellow_cases": len({i["case_id"] for i in yellow}),
            "red": [reports.describe_light(cal, i, f.now) for i in red],
            "yellow": [reports.describe_light(cal, i, f.now) for i in yellow[:LIST_SIZE]]}


def supervision_events(session: Session, f: Filters) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SupervisionEvent.kind, SupervisionEvent.reason, func.count())
        .join(Case, Case.id == SupervisionEvent.case_id).where(*reports.event_scope(f))
        .group_by(SupervisionEvent.kind, SupervisionEvent.reason)).all()
    return [{"kind": kind, "kind_name": supervision.KIND_NAMES.get(kind, kind), "reason": reason, "count": n}
            for kind, reason, n in rows]


def ratings(session: Session, f: Filters) -> dict[str, Any]:
    """好差评 given in the range: counts per level, follow-ups by status, and the newest bad ones."""
    levels = dict(session.execute(
        select(Rating.level, func.count()).join(Case, Case.id == Rating.case_id)
        .where(*reports.rating_scope(f)).group_by(Rating.level)).all())
    fu_where = [Rating.created_at >= f.start, Rating.created_at < f.end]
    if f.service:
        fu_where.append(Case.process_key == f.service)
    if f.department_id is not None:
        fu_where.append(FollowUp.department_id == f.department_id)
    open_, done, overdue = session.execute(
        select(_count(FollowUp.status == "open"), _count(FollowUp.status == "done"),
               _count((FollowUp.status == "open") & (FollowUp.due_at < f.now)))
        .join(Rating, Rating.id == FollowUp.rating_id).join(Case, Case.id == FollowUp.case_id)
        .where(*fu_where)).one()
    bad = session.execute(
        select(Rating.level, Rating.comment, Rating.created_at, Case.case_no, FollowUp.status, FollowUp.due_at,
               Department.name)
        .join(Case, Case.id == Rating.case_id).outerjoin(FollowUp, FollowUp.rating_id == Rating.id)
        .outerjoin(Department, Department.id == FollowUp.department_id)
        .where(*reports.rating_scope(f), Rating.level.in_(BAD_LEVELS))
        .order_by(Rating.created_at.desc(), Rating.id.desc()).limit(LIST_SIZE)).all()
    return {
        "levels": [{"level": lv, "name": RATING_LEVELS[lv], "count": int(levels.get(lv, 0))}
                   for lv in sorted(RATING_LEVELS, reverse=True)],
        "total": int(sum(levels.values())), "bad": int(sum(levels.get(lv, 0) for lv in BAD_LEVELS)),
        "follow_ups": {"open": int(open_), "done": int(done), "overdue": int(overdue)},
        "bad_list": [{"level": r.level, "level_name": RATING_LEVELS.get(r.level, ""), "comment": r.comment,
                      "created_at": r.created_at, "case_no": r.case_no, "follow_up": r.status,
                      "follow_up_word": FOLLOW_UP_STATUSES.get(r.status or "", "—"), "due_at": r.due_at,
                      "department": r.name} for r in bad],
    }


def dashboard(session: Session, f: Filters) -> dict[str, Any]:
    """Every figure of the dashboard, with the names they need (services, departments)."""
    by_status = cases_by_status(session, f)
    by_service = on_time_by_service(session, f)
    on_time = sum(r["on_time"] for r in by_service)
    late = sum(r["late"] for r in by_service)
    return {
        "services": reports.service_names(session),
        "departments": {d.id: {"name": d.name, "code": d.code}
                        for d in session.execute(select(Department).order_by(Department.id)).scalars()},
        "cases_by_status": by_status,
        "totals": {"received": sum(r["count"] for r in by_status),
                   **{s: sum(r["count"] for r in by_status if r["status"] == s) for s in reports.STATUS_NAMES},
                   "on_time": on_time, "late": late, "rate": _rate(on_time, late)},
        "on_time_by_service": by_service,
        "on_time_by_department": on_time_by_department(session, f),
        "handling_by_service": handling_by_service(session, f),
        "handling_by_department": handling_by_department(session, f),
        "lights": lights(session, f),
        "events": supervision_events(session, f),
        "ratings": ratings(session, f),
    }
