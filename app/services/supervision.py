"""电子监察: watch every open deadline and raise 催办 / 督办 / 升级 once each.

* 催办 (remind): the task's light turned yellow: a notice to its department's inbox.
* 督办 (supervise): the task or case is overdue (red): to the department head.
* 升级 (escalate): still red N working days after its deadline (per service,
  ``supervision.escalate_after_workdays``): to the managers.
Reasons: 不及时受理 (the intake task is late), 即将超期, 超期未办结.
Each automatic event is written at most once (a unique key), so the scan is
safe to run again and from several scheduler processes at once.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict
from ..models import Case, SupervisionEvent, Task
from . import audit, calendar, cases, deadlines, processes

KIND_NAMES = {"remind": "催办", "supervise": "督办", "escalate": "升级问责"}


def _settings(session: Session, case: Case) -> tuple[float, int, str | None]:
    catalog = processes.deployed(session, case.process_definition_id).catalog or {}
    cfg = catalog.get("supervision", {})
    return (deadlines.warn_ratio(catalog), int(cfg.get("escalate_after_workdays", 2)),
            catalog.get("intake_task"))


def _events_due(cal, light: str | None, due: datetime, now: datetime, escalate_after: int) -> list[str]:
    kinds = []
    if light in ("yellow", "red"):
        kinds.append("remind")
    if light == "red":
        kinds.append("supervise")
        if now >= cal.deadline(due, escalate_after, "workday"):
            kinds.append("escalate")
    return kinds


def _add(session: Session, *, key: str, case: Case, task: Task | None, kind: str, reason: str,
         now: datetime) -> bool:
    exists = session.execute(select(SupervisionEvent.id).where(SupervisionEvent.dedupe_key == key)).first()
    if exists:
        return False
    try:
        with session.begin_nested():
            session.add(SupervisionEvent(case_id=case.id, task_id=task.id if task else None,
                                         department_id=task.department_id if task else None, kind=kind,
                                         reason=reason, created_at=now, note="", dedupe_key=key))
    except IntegrityError:
        return False  # another scheduler wrote it first
    cases.state_of(session, case.id, for_update=True)  # the audit chain needs the case lock
    session.refresh(case)
    audit.record(session, action=f"supervision.{kind}", at=now, actor_id=None, case=case,
                 object_type="task" if task else "case", object_id=task.id if task else case.case_no,
                 after={"kind": KIND_NAMES[kind], "reason": reason})
    return True


def scan(session: Session, now: datetime) -> int:
    """Raise every supervision event that is due; returns how many were written."""
    cal = calendar.load(session)
    written = 0
    open_tasks = session.execute(
        select(Task, Case).join(Case, Case.id == Task.case_id)
        .where(Task.state == "ready", Task.due_at.is_not(None), Case.status == "running",
               Case.suspended_at.is_(None))).all()
    for task, case in open_tasks:
        ratio, escalate_after, intake = _settings(session, case)
        light = deadlines.light(cal, task.created_at, task.due_at, now, ratio)
        for kind in _events_due(cal, light, task.due_at, now, escalate_after):
            reason = "即将超期" if kind == "remind" and light == "yellow" else (
                "不及时受理" if task.element_id == intake else "超期未办结")
            written += _add(session, key=f"task:{task.id}:{kind}", case=case, task=task, kind=kind,
                            reason=reason, now=now)
    late_cases = session.execute(select(Case).where(
        Case.status == "running", Case.deadline.is_not(None), Case.suspended_at.is_(None))).scalars()
    for case in late_cases:
        ratio, escalate_after, _ = _settings(session, case)
        light = deadlines.light(cal, case.created_at, case.deadline, now, ratio)
        for kind in _events_due(cal, light, case.deadline, now, escalate_after):
            written += _add(session, key=f"case:{case.id}:{kind}", case=case, task=None, kind=kind,
                            reason="即将超期" if light == "yellow" else "超期未办结", now=now)
    session.flush()
    return written


def supervise_manually(session: Session, *, case: Case, note: str, actor_id: int, now: datetime) -> SupervisionEvent:
    """A manager's 督办 on a case, from the dashboard."""
    if case.status != "running":
        raise Conflict("办件已办结，无需督办")
    cases.state_of(session, case.id, for_update=True)
    session.refresh(case)
    event = SupervisionEvent(case_id=case.id, kind="supervise", reason="人工督办", created_at=now,
                             created_by_id=actor_id, note=note.strip())
    session.add(event)
    session.flush()
    audit.record(session, action="supervision.supervise", at=now, actor_id=actor_id, case=case,
                 object_type="case", object_id=case.case_no, after={"kind": "督办", "note": event.note})
    return event


def events(session: Session, *, kind: str | None = None, department_id: int | None = None,
           limit: int = 200) -> list[tuple[SupervisionEvent, str]]:
    query = (select(SupervisionEvent, Case.case_no).join(Case, Case.id == SupervisionEvent.case_id)
             .order_by(SupervisionEvent.id.desc()).limit(limit))
    if kind:
        query = query.where(SupervisionEvent.kind == kind)
    if department_id is not None:
        query = query.where(SupervisionEvent.department_id == department_id)
    return list(session.execute(query).all())
