"""周通报: the weekly report (Monday to Sunday, Asia/Shanghai), stored once per week and kept as history.

For a week [Monday 00:00, next Monday 00:00) a department's tasks with a deadline count as

* on time: completed in the week no later than the deadline;
* late (超期办结): completed in the week after the deadline;
* overdue (超期未办结): not completed in the week, with the deadline passed by the cut-off (the
  week's end; for the current week, now). A suspended case's clock stopped at its suspension.

Departments are ranked by on-time rate, then fewer overdue, then satisfaction (the average 好差评
level given in the week on cases the department worked). The week's overdue cases are those with
a late or overdue task, or a case deadline missed in the week, each with the reasons of its
supervision events (不及时受理 / 即将超期 / 超期未办结 / 人工督办).
"""
from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import Case, Department, Rating, SupervisionEvent, Task, User, WeeklyReport
from . import audit, calendar, processes, reports
from .clock import LOCAL_TZ, local

WEEK = timedelta(days=7)  # a calendar step between Mondays, not a deadline
RANKING_HEADER = ["名次", "部门", "按时办结率", "按时办结", "超期办结", "超期未办结", "超期合计", "满意度（平均分）", "评价数"]
OVERDUE_HEADER = ["统一受理号码", "事项", "超期部门", "承诺期限", "办件状态", "超期原因", "超期时长（工作小时）"]


def week_of(day: date) -> date:
    """The Monday of the week ``day`` is in."""
    return day - timedelta(days=day.weekday())


def current_week(now: datetime) -> date:
    return week_of(local(now).date())


def previous_week(now: datetime) -> date:
    return current_week(now) - WEEK


def parse_week(text: str) -> date:
    """A week as its Monday, ``2025-09-22``; anything else is not found."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise NotFound(f"周通报“{text}”不存在") from None
    if day.weekday() != 0:
        raise NotFound(f"周通报“{text}”不存在（每周从星期一开始）")
    return day


def _bounds(week_start: date, now: datetime) -> tuple[datetime, datetime, datetime]:
    start = datetime.combine(week_start, time(0), LOCAL_TZ)
    end = start + WEEK
    return start, end, min(now, end)


def _task_rules(start: datetime, end: datetime, cutoff: datetime):
    """(on time, late, overdue) for tasks: what happened in [start, end); deadlines passed by ``cutoff``."""
    done_in_week = and_(Task.state == "completed", Task.completed_at >= start, Task.completed_at < end)
    on_time = and_(done_in_week, Task.completed_at <= Task.due_at)
    late = and_(done_in_week, Task.completed_at > Task.due_at)
    overdue = and_(Task.state != "cancelled", Task.created_at < end,
                   or_(Task.completed_at.is_(None), Task.completed_at >= end),
                   Task.due_at <= cutoff, or_(Case.suspended_at.is_(None), Task.due_at <= Case.suspended_at))
    return on_time, late, overdue


def _case_late(start: datetime, end: datetime, cutoff: datetime):
    missed_done = and_(Case.status == "completed", Case.completed_at >= start, Case.completed_at < end,
                       Case.completed_at > Case.deadline)
    open_late = and_(Case.status != "terminated", Case.created_at < end,
                     or_(Case.completed_at.is_(None), Case.completed_at >= end), Case.deadline <= cutoff,
                     or_(Case.suspended_at.is_(None), Case.deadline <= Case.suspended_at))
    return and_(Case.deadline.is_not(None), or_(missed_done, open_late))


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ranking(session: Session, start: datetime, end: datetime, cutoff: datetime) -> list[dict[str, Any]]:
    on_time, late, overdue = _task_rules(start, end, cutoff)
    counts = session.execute(
        select(Task.department_id, _count(on_time), _count(late), _count(overdue))
        .join(Case, Case.id == Task.case_id)
        .where(Task.due_at.is_not(None), Task.department_id.is_not(None), Task.created_at < end,
               or_(Task.completed_at.is_(None), Task.completed_at >= start))  # nothing finished earlier
        .group_by(Task.department_id)).all()
    rated_in_week = select(Rating.case_id).where(Rating.created_at >= start, Rating.created_at < end)
    worked = select(Task.case_id, Task.department_id).distinct().where(
        Task.state == "completed", Task.department_id.is_not(None), Task.case_id.in_(rated_in_week)).subquery()
    rated = dict((d, (float(avg), int(n))) for d, avg, n in session.execute(
        select(worked.c.department_id, func.avg(Rating.level), func.count(Rating.id))
        .join(worked, worked.c.case_id == Rating.case_id)
        .where(Rating.created_at >= start, Rating.created_at < end).group_by(worked.c.department_id)).all())
    names = dict(session.execute(select(Department.id, Department.name)).all())
    rows = {}
    for department_id, a, b, c in counts:
        if a or b or c:
            rows[department_id] = {"on_time": int(a), "late_done": int(b), "overdue_open": int(c)}
    for department_id in rated:
        rows.setdefault(department_id, {"on_time": 0, "late_done": 0, "overdue_open": 0})
    out = []
    for department_id, row in rows.items():
        counted = row["on_time"] + row["late_done"] + row["overdue_open"]
        satisfaction, n_ratings = rated.get(department_id, (None, 0))
        out.append({"department_id": department_id, "department": names.get(department_id, ""), **row,
                    "overdue": row["late_done"] + row["overdue_open"],
                    "rate": row["on_time"] / counted if counted else None,
                    "satisfaction": round(satisfaction, 2) if satisfaction is not None else None,
                    "ratings": n_ratings})
    out.sort(key=lambda r: (r["rate"] is None, -(r["rate"] or 0), r["overdue"],
                            r["satisfaction"] is None, -(r["satisfaction"] or 0), r["department"]))
    for rank, row in enumerate(out, 1):
        row["rank"] = rank
    return out


def _derived_reasons(session: Session, tasks, rows: dict[int, Case]) -> dict[int, str]:
    """Without a supervision event (the scan has not run): 不及时受理 when the window's intake task is late."""
    derived = {}
    for t in tasks:
        catalog = processes.deployed(session, rows[t.case_id].process_definition_id).catalog or {}
        if t.element_id == catalog.get("intake_task"):
            derived[t.case_id] = "不及时受理"
    return derived


def _event_reasons(session: Session, ids: set[int], end: datetime) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = {}
    for case_id, reason in session.execute(
            select(SupervisionEvent.case_id, SupervisionEvent.reason).distinct()
            .where(SupervisionEvent.case_id.in_(ids), SupervisionEvent.created_at < end)
            .order_by(SupervisionEvent.case_id, SupervisionEvent.reason)).all():
        reasons.setdefault(case_id, []).append(reason)
    return reasons


def _measure(cal, tasks, cases_late, names: dict, end: datetime, cutoff: datetime):
    """Per case: the longest overdue time (office minutes), the late departments, and whether it was
    still unfinished at the week's end (超期未办结) rather than finished late (超期办结)."""
    over: dict[int, int] = {}
    departments: dict[int, set[str]] = {}
    still_open: set[int] = set()
    moments = [(t.case_id, t.department_id, t.due_at, t.completed_at) for t in tasks]
    moments += [(c.id, None, c.deadline, c.completed_at) for c in cases_late]
    for case_id, department_id, due, completed in moments:
        finished = completed is not None and completed < end
        if not finished:
            still_open.add(case_id)
        over[case_id] = max(over.get(case_id, 0), cal.work_minutes_between(due, completed if finished else cutoff))
        if department_id is not None:
            departments.setdefault(case_id, set()).add(names.get(department_id, ""))
    return over, departments, still_open


def _overdue_cases(session: Session, start: datetime, end: datetime, cutoff: datetime) -> list[dict[str, Any]]:
    _, late, overdue = _task_rules(start, end, cutoff)
    late_task = or_(late, overdue)
    tasks = session.execute(
        select(Task.case_id, Task.department_id, Task.element_id, Task.due_at, Task.completed_at)
        .join(Case, Case.id == Task.case_id)
        .where(Task.due_at.is_not(None), Task.created_at < end, late_task,
               or_(Task.completed_at.is_(None), Task.completed_at >= start))).all()
    cases_late = session.execute(select(Case).where(_case_late(start, end, cutoff))).scalars().all()
    ids = {t.case_id for t in tasks} | {c.id for c in cases_late}
    if not ids:
        return []
    rows = {c.id: c for c in cases_late}
    missing = ids - set(rows)
    if missing:
        rows.update({c.id: c for c in session.execute(select(Case).where(Case.id.in_(missing))).scalars()})
    names = dict(session.execute(select(Department.id, Department.name)).all())
    services = reports.service_names(session)
    reasons = _event_reasons(session, ids, end)
    over, departments, still_open = _measure(calendar.load(session), tasks, cases_late, names, end, cutoff)
    derived = _derived_reasons(session, tasks, rows)
    out = []
    for case_id in sorted(ids, key=lambda i: rows[i].case_no):
        c = rows[case_id]
        fallback = derived.get(case_id) or ("超期未办结" if case_id in still_open else "超期办结")
        out.append({"case_no": c.case_no, "service": services.get(c.process_key, c.process_key),
                    "departments": sorted(departments.get(case_id, set())),
                    "deadline": c.deadline.isoformat() if c.deadline else None,
                    "status": c.status, "reasons": reasons.get(case_id) or [fallback],
                    "overdue_hours": round(over.get(case_id, 0) / 60, 1)})
    return out


def weekly_figures(session: Session, week_start: date, now: datetime) -> dict[str, Any]:
    start, end, cutoff = _bounds(week_start, now)
    ranking = _ranking(session, start, end, cutoff)
    overdue = _overdue_cases(session, start, end, cutoff)
    return {"week_start": week_start.isoformat(), "week_end": (week_start + WEEK - timedelta(days=1)).isoformat(),
            "cutoff": cutoff.isoformat(), "complete": cutoff >= end, "departments": ranking,
            "overdue_cases": overdue,
            "totals": {"on_time": sum(r["on_time"] for r in ranking), "late_done": sum(r["late_done"] for r in ranking),
                       "overdue_open": sum(r["overdue_open"] for r in ranking), "overdue_cases": len(overdue)}}


def build_weekly(session: Session, *, week_start: date, actor_id: int | None, now: datetime,
                 replace: bool = True) -> WeeklyReport:
    """Build (or rebuild: it replaces the stored one) the report of the week starting ``week_start``.

    ``replace=False`` (the scheduled job) keeps a report of the whole week that is already stored,
    by another scheduler process or an earlier run, and writes nothing: one report and one audit
    event per week however many schedulers run. A report built before the week ended is rebuilt.
    """
    if week_start.weekday() != 0:
        raise InvalidInput("周通报按周生成，起始日须为星期一")
    if week_start > current_week(now):
        raise InvalidInput("该周尚未开始，不能生成周通报")
    row = session.execute(select(WeeklyReport).where(WeeklyReport.week_start == week_start)).scalar_one_or_none()
    if row is not None and not replace and row.figures.get("complete"):
        return row
    figures = weekly_figures(session, week_start, now)
    replaced = row is not None
    if row is None:
        try:
            with session.begin_nested():
                row = WeeklyReport(week_start=week_start, built_at=now, built_by_id=actor_id, figures=figures)
                session.add(row)
        except IntegrityError:  # another process stored this week at the same moment
            row = session.execute(select(WeeklyReport).where(WeeklyReport.week_start == week_start)).scalar_one()
            if not replace:
                return row
            replaced = True
    row.built_at, row.built_by_id, row.figures = now, actor_id, figures
    session.flush()
    audit.record(session, action="report.weekly_built", at=now, actor_id=actor_id, object_type="weekly_report",
                 object_id=week_start.isoformat(),
                 after={"week_start": week_start.isoformat(), "replaced": replaced,
                        "departments": len(figures["departments"]), "overdue_cases": len(figures["overdue_cases"])})
    return row


def get_weekly(session: Session, week_start: date) -> WeeklyReport:
    row = session.execute(select(WeeklyReport).where(WeeklyReport.week_start == week_start)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{week_start.isoformat()} 这一周的周通报尚未生成")
    return row


def history(session: Session, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Stored reports, newest week first, without loading their figures."""
    rows = session.execute(
        select(WeeklyReport.week_start, WeeklyReport.built_at, User.name)
        .outerjoin(User, User.id == WeeklyReport.built_by_id)
        .order_by(WeeklyReport.week_start.desc()).limit(limit).offset(offset)).all()
    return [{"week_start": w, "week_end": w + WEEK - timedelta(days=1), "built_at": at, "built_by": name}
            for w, at, name in rows]


def _local_text(iso: str | None) -> str:
    return local(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M") if iso else ""


STATUS_WORDS = {"running": "办理中", "completed": "已办结", "terminated": "已终止"}


def xlsx(report: WeeklyReport) -> bytes:
    """The report as an XLSX workbook: sheets 部门排名 and 超期办件, each with a header row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    figures = report.figures
    book = Workbook()
    ranking = book.active
    ranking.title = "部门排名"
    ranking.append(RANKING_HEADER)
    for r in figures["departments"]:
        ranking.append([r["rank"], r["department"], r["rate"], r["on_time"], r["late_done"], r["overdue_open"],
                        r["overdue"], r["satisfaction"], r["ratings"]])
        ranking.cell(row=ranking.max_row, column=3).number_format = "0.0%"
    overdue = book.create_sheet("超期办件")
    overdue.append(OVERDUE_HEADER)
    for c in figures["overdue_cases"]:
        overdue.append([c["case_no"], c["service"], "、".join(c["departments"]), _local_text(c["deadline"]),
                        STATUS_WORDS.get(c["status"], c["status"]), "、".join(c["reasons"]), c["overdue_hours"]])
    for sheet, widths in ((ranking, (6, 18, 12, 10, 10, 12, 10, 16, 8)), (overdue, (24, 22, 24, 18, 10, 30, 18))):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, width in enumerate(widths):
            sheet.column_dimensions[chr(ord("A") + index)].width = width
        sheet.freeze_panes = "A2"
    book.properties.title = f"周通报 {figures['week_start']} 至 {figures['week_end']}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
