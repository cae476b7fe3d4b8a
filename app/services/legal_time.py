"""Stopping the clock (特别程序, Art. 45) and extending the limit (延期, Art. 42).

While a case is suspended its deadlines do not run. On resume, every deadline
of the case moves by the office time that passed: the case's promised and
statutory deadlines, its open tasks' deadlines, and its BPMN timers (in the
timers table and inside the engine state).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, InvalidInput
from ..models import SUSPENSION_KINDS, Case, Extension, Suspension, Task, Timer, WorkflowState
from . import audit, calendar, cases, deadlines, processes, projection

DEFAULT_EXTENSION_CAP = {"amount": 10, "unit": "workday"}  # 行政许可法第四十二条：可延长十日


def suspend(session: Session, *, case_no: str, kind: str, reason: str, notice: str,
            actor_id: int | None, now: datetime) -> Suspension:
    case = cases.get_case(session, case_no)
    cases.lock(session, case.id)  # serialise with task completions
    session.refresh(case)
    return suspend_case(session, case, kind=kind, reason=reason, notice=notice, actor_id=actor_id, now=now)


def suspend_case(session: Session, case: Case, *, kind: str, reason: str, notice: str,
                 actor_id: int | None, now: datetime) -> Suspension:
    """Stop the clock of a case whose workflow-state lock the caller holds."""
    if case.status != "running":
        raise Conflict("办件已办结或已终止，不能中止计时")
    if case.suspended_at is not None:
        raise Conflict("办件已处于中止计时状态")
    if kind not in SUSPENSION_KINDS:
        raise InvalidInput("中止计时原因类型无效", {"kind": [f"必须是 {', '.join(SUSPENSION_KINDS)} 之一"]})
    if not reason.strip():
        raise InvalidInput("请填写中止计时的理由", {"reason": ["必填"]})
    row = Suspension(case_id=case.id, kind=kind, reason=reason.strip(), notice=notice.strip(),
                     started_at=now, started_by_id=actor_id)
    session.add(row)
    case.suspended_at = now
    session.flush()
    audit.record(session, action="case.suspended", at=now, actor_id=actor_id, case=case,
                 object_type="suspension", object_id=row.id,
                 after={"kind": kind, "kind_name": SUSPENSION_KINDS[kind], "reason": row.reason,
                        "notice": row.notice})
    return row


def resume(session: Session, *, case_no: str, actor_id: int | None, now: datetime) -> Suspension:
    case = cases.get_case(session, case_no)
    state_row = cases.state_of(session, case.id, for_update=True)
    session.refresh(case)
    return resume_case(session, case, state_row, actor_id=actor_id, now=now)


def resume_case(session: Session, case: Case, state_row: WorkflowState, *, actor_id: int | None,
                now: datetime) -> Suspension:
    """Restart the clock; every deadline and timer of the case moves by the paused office time."""
    row = session.execute(select(Suspension).where(Suspension.case_id == case.id, Suspension.ended_at.is_(None))
                          ).scalar_one_or_none()
    if row is None or case.suspended_at is None:
        raise Conflict("办件没有处于中止计时状态")
    cal = calendar.load(session)
    minutes = cal.work_minutes_between(row.started_at, now)
    row.ended_at, row.ended_by_id, row.paused_minutes = now, actor_id, minutes
    case.suspended_at = None
    before = {"deadline": _iso(case.deadline), "statutory_deadline": _iso(case.statutory_deadline)}

    def shift(moment: datetime | None) -> datetime | None:
        return cal.add_work_minutes(moment, minutes) if moment is not None and minutes else moment

    case.deadline, case.statutory_deadline = shift(case.deadline), shift(case.statutory_deadline)
    # a task offered in this very step (e.g. re-offered once the supplement came) was given its
    # deadline from now, with the clock running again: only older tasks move, each by its own pause
    definition = processes.deployed(session, case.process_definition_id)
    case.warn_at = deadlines.case_warn_at(cal, definition.catalog, case)
    ratio = deadlines.warn_ratio(definition.catalog)
    for task in session.execute(select(Task).where(Task.case_id == case.id, Task.state == "ready",
                                                   Task.created_at < now)).scalars():
        if task.due_at is not None and task.created_at > row.started_at:  # offered during the pause
            task.due_at = cal.add_work_minutes(task.due_at, cal.work_minutes_between(task.created_at, now))
        else:
            task.due_at = shift(task.due_at)
        if task.due_at is not None:
            task.warn_at = deadlines.warn_at(cal, task.created_at, task.due_at, ratio)
    with session.no_autoflush:  # timers started in this step are pending rows: they run from now already
        pending = session.execute(select(Timer).where(
            Timer.case_id == case.id, Timer.fired_at.is_(None))).scalars().all()
    if pending and minutes:
        moved = {t.id: shift(t.due_at).isoformat() for t in pending}
        parsed = processes.runnable(session, definition)
        result = engine.move_timers(parsed, state_row.state, moved, projection.resume_key(session, case))
        projection.apply_step(session, case, result, state_row, definition, now, parsed=parsed)
    audit.record(session, action="case.resumed", at=now, actor_id=actor_id, case=case,
                 object_type="suspension", object_id=row.id, before=before,
                 after={"paused_minutes": minutes, "deadline": _iso(case.deadline),
                        "statutory_deadline": _iso(case.statutory_deadline)})
    session.flush()
    return row


def extend(session: Session, *, case_no: str, workdays: int, reason: str, approver_id: int,
           now: datetime) -> Extension:
    case = cases.get_case(session, case_no)
    cases.lock(session, case.id)
    session.refresh(case)
    if case.status != "running":
        raise Conflict("办件已办结或已终止，不能延期")
    if workdays < 1:
        raise InvalidInput("延长的工作日数必须大于 0", {"workdays": ["至少 1 个工作日"]})
    if not reason.strip():
        raise InvalidInput("请填写延期理由", {"reason": ["必填"]})
    catalog = processes.deployed(session, case.process_definition_id).catalog or {}
    cap = catalog.get("limits", {}).get("extension_cap") or DEFAULT_EXTENSION_CAP
    used = session.execute(select(func.coalesce(func.sum(Extension.workdays), 0))
                           .where(Extension.case_id == case.id)).scalar_one()
    if used + workdays > cap["amount"]:
        raise InvalidInput(f"超过法定延长上限：最多延长 {cap['amount']} 个工作日，已延长 {used} 个工作日",
                           {"workdays": [f"最多还能延长 {max(cap['amount'] - used, 0)} 个工作日"]})
    cal = calendar.load(session)
    before = {"deadline": _iso(case.deadline), "statutory_deadline": _iso(case.statutory_deadline)}
    for attr in ("deadline", "statutory_deadline"):
        moment = getattr(case, attr)
        if moment is not None:
            setattr(case, attr, cal.deadline(moment, workdays, "workday"))
    case.warn_at = deadlines.case_warn_at(cal, catalog, case)
    row = Extension(case_id=case.id, workdays=workdays, reason=reason.strip(), approved_by_id=approver_id,
                    approved_at=now)
    session.add(row)
    session.flush()
    audit.record(session, action="case.extended", at=now, actor_id=approver_id, case=case,
                 object_type="extension", object_id=row.id, before=before,
                 after={"workdays": workdays, "reason": row.reason, "deadline": _iso(case.deadline),
                        "statutory_deadline": _iso(case.statutory_deadline)})
    return row


def suspensions(session: Session, case_id: int) -> list[Suspension]:
    return list(session.execute(select(Suspension).where(Suspension.case_id == case_id)
                                .order_by(Suspension.id)).scalars())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
