"""电子监察 figures for managers: the filters, the rules that count a case or task, and the drill-down.

Every figure on the dashboard is an SQL aggregate over one of the predicates below, and its
drill-down lists the cases that satisfy the same predicate, so a number and the list behind it
always agree. Dates are Asia/Shanghai calendar dates; each figure counts by its own date:

* cases, on-time rates and handling times: the cases received (``created_at``) in the range;
* supervision events: the events raised in the range;
* 好差评: the ratings given in the range;
* red and yellow lights: the open tasks now (the range does not apply).

A task or case is on time when it was completed no later than its deadline; an open one whose
deadline has passed is late. A suspended case's clock stands still at its suspension.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import CASE_STATUSES, RATING_LEVELS, Case, FollowUp, Rating, SupervisionEvent, Task
from . import accounts, calendar, deadlines, lights, processes, supervision
from .ratings import BAD_LEVELS
from .clock import LOCAL_TZ, local

DEFAULT_DAYS = 30
MAX_DAYS = 366
OUTCOMES = {"on_time": "按时办结", "late": "超期", "pending": "办理中（未到期）"}
LIGHT_NAMES = {"red": "红灯（已超期）", "yellow": "黄灯（即将超期）"}
STATUS_NAMES = {"running": "办理中", "completed": "已办结", "terminated": "已终止"}
FOLLOW_UP_NAMES = {"open": "待整改", "done": "已整改", "overdue": "逾期未整改"}


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    service: str | None
    department_id: int | None
    department_code: str | None
    department_name: str | None
    now: datetime

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time(0), LOCAL_TZ)

    @property
    def end(self) -> datetime:
        # the midnight after the last day: a calendar step, not a deadline
        return datetime.combine(self.date_to + timedelta(days=1), time(0), LOCAL_TZ)

    def args(self) -> dict[str, str]:
        """The filters as query-string arguments (for links)."""
        found = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.service:
            found["service"] = self.service
        if self.department_code:
            found["department"] = self.department_code
        return found


def _parse_day(text: str, label: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{label}格式有误：{text}（应为 2025-09-26 这样的日期）", {field: ["日期格式有误"]}) from None


def parse_filters(session: Session, args: Mapping[str, str], now: datetime) -> Filters:
    """The dashboard's filters from a GET form; bad input raises InvalidInput naming the field."""
    today = local(now).date()
    date_to = _parse_day(args["to"], "截止日期", "to") if (args.get("to") or "").strip() else today
    date_from = (_parse_day(args["from"], "起始日期", "from") if (args.get("from") or "").strip()
                 else date_to - timedelta(days=DEFAULT_DAYS - 1))  # calendar dates, not a deadline
    if date_from > date_to:
        raise InvalidInput("起始日期不能晚于截止日期", {"from": ["晚于截止日期"]})
    if (date_to - date_from).days >= MAX_DAYS:
        raise InvalidInput(f"查询区间不能超过 {MAX_DAYS} 天", {"from": [f"区间超过 {MAX_DAYS} 天"]})
    service = (args.get("service") or "").strip() or None
    if service and service not in service_names(session):
        raise InvalidInput(f"未知的事项：{service}", {"service": ["未知的事项"]})
    code = (args.get("department") or "").strip() or None
    department = accounts.find_department(session, code) if code else None
    if code and department is None:
        raise InvalidInput(f"未知的部门：{code}", {"department": ["未知的部门"]})
    return Filters(date_from, date_to, service, department.id if department else None,
                   department.code if department else None, department.name if department else None, now)


def service_names(session: Session) -> dict[str, str]:
    """Process key -> the newest version's name (one query)."""
    return {d.key: d.name for d in processes.latest_versions(session)}


# -- the rules ----------------------------------------------------------------------------------

def clock_passed(due, now: datetime):
    """The deadline ``due`` has passed: now, or at the case's suspension while it is suspended."""
    return or_(and_(Case.suspended_at.is_(None), due <= now),
               and_(Case.suspended_at.is_not(None), due <= Case.suspended_at))


def task_on_time():
    return and_(Task.state == "completed", Task.completed_at <= Task.due_at)


def task_late(now: datetime):
    return or_(and_(Task.state == "completed", Task.completed_at > Task.due_at),
               and_(Task.state == "ready", Case.status == "running", clock_passed(Task.due_at, now)))


def task_pending(now: datetime):
    return and_(Task.state == "ready", Case.status == "running", ~clock_passed(Task.due_at, now))


def case_on_time():
    return and_(Case.status == "completed", Case.completed_at <= Case.deadline)


def case_late(now: datetime):
    return or_(and_(Case.status == "completed", Case.completed_at > Case.deadline),
               and_(Case.status == "running", clock_passed(Case.deadline, now)))


def case_pending(now: datetime):
    return and_(Case.status == "running", ~clock_passed(Case.deadline, now))


TASK_OUTCOMES = {"on_time": lambda now: task_on_time(), "late": task_late, "pending": task_pending}
CASE_OUTCOMES = {"on_time": lambda now: case_on_time(), "late": case_late, "pending": case_pending}


def has_task(department_id: int):
    """The case is one the department has (or had) a task in (IN over the tasks index, not correlated)."""
    return Case.id.in_(select(Task.case_id).where(Task.department_id == department_id))


def cases_with_tasks(*conditions):
    """The case has a task meeting ``conditions``, which may name the task's case (joined inside)."""
    return Case.id.in_(select(Task.case_id).join(Case, Case.id == Task.case_id).where(*conditions).correlate(None))


def received(f: Filters) -> list:
    """Cases received in the range, of the service; with a department: cases it has a task in."""
    where = [Case.created_at >= f.start, Case.created_at < f.end]
    if f.service:
        where.append(Case.process_key == f.service)
    if f.department_id is not None:
        where.append(has_task(f.department_id))
    return where


def task_scope(f: Filters) -> list:
    """Tasks with a deadline of the cases received in the range (the department's own, when filtered)."""
    where = [Case.created_at >= f.start, Case.created_at < f.end, Task.due_at.is_not(None),
             Task.department_id.is_not(None), Task.state != "cancelled"]
    if f.service:
        where.append(Case.process_key == f.service)
    if f.department_id is not None:
        where.append(Task.department_id == f.department_id)
    return where


def open_task_scope(f: Filters) -> list:
    """Open tasks with a deadline whose clock runs (lights); the date range does not apply."""
    where = [Task.state == "ready", Task.due_at.is_not(None), Case.status == "running",
             Case.suspended_at.is_(None)]
    if f.service:
        where.append(Case.process_key == f.service)
    if f.department_id is not None:
        where.append(Task.department_id == f.department_id)
    return where


def rating_scope(f: Filters) -> list:
    where = [Rating.created_at >= f.start, Rating.created_at < f.end]
    if f.service:
        where.append(Case.process_key == f.service)
    if f.department_id is not None:
        where.append(has_task(f.department_id))
    return where


def event_scope(f: Filters) -> list:
    where = [SupervisionEvent.created_at >= f.start, SupervisionEvent.created_at < f.end]
    if f.service:
        where.append(Case.process_key == f.service)
    if f.department_id is not None:
        where.append(SupervisionEvent.department_id == f.department_id)
    return where


def red_condition(f: Filters) -> list:
    """Open tasks whose deadline has passed: red (deadlines.light: now >= due), in SQL."""
    return [*open_task_scope(f), Task.due_at <= f.now]


def _light_item(row, light: str) -> dict:
    return {"task_id": row.id, "case_id": row.case_id, "case_no": row.case_no, "name": row.name,
            "department_id": row.department_id, "service": row.process_key,
            "created_at": row.created_at, "due_at": row.due_at, "light": light}


def _open_tasks(*where):
    return (select(Task.id, Task.case_id, Task.name, Task.department_id, Task.created_at, Task.due_at,
                   Task.warn_at, Case.case_no, Case.process_key, Case.process_definition_id)
            .join(Case, Case.id == Task.case_id).where(*where).order_by(Task.due_at, Task.id))


def red_tasks(session: Session, f: Filters, limit: int) -> tuple[int, int, list[dict]]:
    """(red tasks, their cases, the ``limit`` most overdue)."""
    count, case_count = session.execute(
        select(func.count(), func.count(func.distinct(Task.case_id)))
        .select_from(Task).join(Case, Case.id == Task.case_id).where(*red_condition(f))).one()
    rows = session.execute(_open_tasks(*red_condition(f)).limit(limit)).all()
    return int(count), int(case_count), [_light_item(r, "red") for r in rows]


def yellow_tasks(session: Session, f: Filters) -> list[dict]:
    """Open tasks not yet due with little office time left (deadlines.light with the catalog's ratio);
    only rows past their stored yellow moment, or without one yet, are read."""
    cal = calendar.load(session)
    ratios: dict[int, float] = {}
    found = []
    rows = [row for past in lights.past_yellow(Task.warn_at, Task.due_at, f.now)
            for row in session.execute(_open_tasks(*open_task_scope(f), Task.due_at > f.now, past))]
    for row in sorted(rows, key=lambda r: (r.due_at, r.id)):
        if row.process_definition_id not in ratios:
            ratios[row.process_definition_id] = deadlines.warn_ratio(
                processes.deployed(session, row.process_definition_id).catalog)
        if deadlines.light(cal, row.created_at, row.due_at, f.now, ratios[row.process_definition_id],
                           warn=row.warn_at) == "yellow":
            found.append(_light_item(row, "yellow"))
    return found


def describe_light(cal, item: dict, now: datetime) -> dict:
    """Office minutes past the deadline (red) or left before it (yellow)."""
    if item["light"] == "red":
        return {**item, "over_minutes": cal.work_minutes_between(item["due_at"], now), "left_minutes": None}
    return {**item, "over_minutes": None, "left_minutes": cal.work_minutes_between(now, item["due_at"])}


# -- drill-down ---------------------------------------------------------------------------------

def _choice(params: Mapping[str, str], name: str, allowed, label: str) -> str | None:
    value = (params.get(name) or "").strip() or None
    if value is not None and value not in allowed:
        raise InvalidInput(f"{label}无效：{value}", {name: ["取值无效"]})
    return value


def _drill_status(f, params):
    status = _choice(params, "status", CASE_STATUSES, "办件状态")
    where = received(f) + ([Case.status == status] if status else [])
    return f"收件办件{' · ' + STATUS_NAMES[status] if status else ''}", where


def _drill_ontime_service(f, params):
    outcome = _choice(params, "outcome", OUTCOMES, "统计口径") or "late"
    where = received(f) + [Case.deadline.is_not(None), CASE_OUTCOMES[outcome](f.now)]
    return f"办件承诺时限 · {OUTCOMES[outcome]}", where


def _drill_ontime_department(f, params):
    outcome = _choice(params, "outcome", OUTCOMES, "统计口径") or "late"
    where = received(f) + [cases_with_tasks(*task_scope(f), TASK_OUTCOMES[outcome](f.now))]
    return f"部门办理时限 · 有{OUTCOMES[outcome]}任务的办件", where


def _drill_handling_service(f, params):
    return "办结用时（承诺时限内外）", received(f) + [Case.status == "completed", Case.deadline.is_not(None)]


def _drill_handling_department(f, params):
    where = received(f) + [cases_with_tasks(*task_scope(f), Task.state == "completed")]
    return "部门办结任务所在办件", where


def _drill_events(f, params):
    kind = _choice(params, "kind", supervision.KIND_NAMES, "监察类型")
    reason = (params.get("reason") or "").strip() or None
    where = [SupervisionEvent.created_at >= f.start, SupervisionEvent.created_at < f.end]
    if f.department_id is not None:
        where.append(SupervisionEvent.department_id == f.department_id)
    if kind:
        where.append(SupervisionEvent.kind == kind)
    if reason:
        where.append(SupervisionEvent.reason == reason)
    service = [Case.process_key == f.service] if f.service else []
    title = "监察事件" + (f" · {supervision.KIND_NAMES[kind]}" if kind else "") + (f" · {reason}" if reason else "")
    return title, [Case.id.in_(select(SupervisionEvent.case_id).where(*where)), *service]


def _drill_rating(f, params):
    level = _choice(params, "level", ("1", "2", "3", "4", "5", "bad"), "评价等级")
    where = [Rating.created_at >= f.start, Rating.created_at < f.end]
    if level == "bad":
        where.append(Rating.level.in_(BAD_LEVELS))
    elif level:
        where.append(Rating.level == int(level))
    extra = ([Case.process_key == f.service] if f.service else []) + \
        ([has_task(f.department_id)] if f.department_id is not None else [])
    return "好差评" + (f" · {RATING_LEVELS[int(level)]}" if level and level != "bad" else
                       " · 差评" if level else ""), [Case.id.in_(select(Rating.case_id).where(*where)), *extra]


def _drill_followup(f, params):
    status = _choice(params, "followup", FOLLOW_UP_NAMES, "整改状态") or "open"
    where = [Rating.id == FollowUp.rating_id, Rating.created_at >= f.start, Rating.created_at < f.end]
    if status == "overdue":
        where += [FollowUp.status == "open", FollowUp.due_at < f.now]
    else:
        where.append(FollowUp.status == status)
    if f.department_id is not None:
        where.append(FollowUp.department_id == f.department_id)
    service = [Case.process_key == f.service] if f.service else []
    return f"差评整改 · {FOLLOW_UP_NAMES[status]}", [Case.id.in_(select(FollowUp.case_id).where(*where)), *service]


DRILLS = {
    "status": _drill_status, "ontime_service": _drill_ontime_service,
    "ontime_department": _drill_ontime_department, "handling_service": _drill_handling_service,
    "handling_department": _drill_handling_department, "events": _drill_events,
    "rating": _drill_rating, "followup": _drill_followup,
}
FIGURE_PARAMS = ("figure", "status", "outcome", "kind", "reason", "level", "followup", "light")


def drill_cases(session: Session, f: Filters, params: Mapping[str, str], *, limit: int, offset: int
                ) -> tuple[str, int, list[Case]]:
    """(title, total, one page of cases) behind a figure; newest first."""
    figure = (params.get("figure") or "status").strip()
    if figure == "light":
        return _drill_light(session, f, params, limit=limit, offset=offset)
    if figure not in DRILLS:
        raise InvalidInput(f"未知的统计项：{figure}", {"figure": ["未知的统计项"]})
    title, where = DRILLS[figure](f, params)
    total = session.execute(select(func.count()).select_from(Case).where(*where)).scalar_one()
    rows = session.execute(select(Case).where(*where).order_by(Case.id.desc()).limit(limit).offset(offset)).scalars()
    return title, total, list(rows)


def _drill_light(session, f, params, *, limit, offset):
    light = _choice(params, "light", LIGHT_NAMES, "亮灯类型") or "red"
    if light == "red":
        where = [cases_with_tasks(*red_condition(f))]
        total = session.execute(select(func.count()).select_from(Case).where(*where)).scalar_one()
        rows = session.execute(select(Case).where(*where).order_by(Case.id.desc()).limit(limit).offset(offset))
        return f"当前{LIGHT_NAMES[light]}任务所在办件", total, list(rows.scalars())
    ids = sorted({item["case_id"] for item in yellow_tasks(session, f)}, reverse=True)
    page = ids[offset:offset + limit]
    found = {c.id: c for c in session.execute(select(Case).where(Case.id.in_(page))).scalars()} if page else {}
    return f"当前{LIGHT_NAMES[light]}任务所在办件", len(ids), [found[i] for i in page if i in found]


def case_rows(session: Session, rows: list[Case], now: datetime) -> list[dict[str, Any]]:
    """What the drill-down list shows of each case; service names and lights without extra queries per row."""
    cal = calendar.load(session)
    names = service_names(session)
    out = []
    for c in rows:
        catalog = processes.deployed(session, c.process_definition_id).catalog
        light = deadlines.light(cal, c.created_at, c.deadline, c.suspended_at or now, deadlines.warn_ratio(catalog),
                                warn=c.warn_at) if c.status == "running" else None
        out.append({"case_no": c.case_no, "service": names.get(c.process_key, c.process_key),
                    "applicant_name": c.applicant_name, "status": c.status, "created_at": c.created_at,
                    "deadline": c.deadline, "completed_at": c.completed_at, "light": light})
    return out
