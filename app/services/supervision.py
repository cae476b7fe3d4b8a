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

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict
from ..models import Case, SupervisionEvent, Task
from . import audit, calendar, cases, deadlines, lights, processes

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


@dataclass(frozen=True)
class DueEvent:
    key: str
    case_id: int
    task_id: str | None
    department_id: int | None
    kind: str
    reason: str


def _not_escalated(prefix: str, key_of):
    """No 升级 event yet: a row that has had all three is not looked at again."""
    return ~exists().where(SupervisionEvent.dedupe_key == literal(prefix) + key_of + literal(":escalate"))


def due_events(session: Session, now: datetime) -> list[DueEvent]:
    """Read-only: the supervision events that are due and not yet written.

    Only rows past their yellow moment (``warn_at``, or none stored yet) are read, by index:
    the scan costs what is late or nearly late, not every open row.
    """
    cal = calendar.load(session)
    found: list[DueEvent] = []
    open_tasks = [row for past in lights.past_yellow(Task.warn_at, Task.due_at, now)
                  for row in session.execute(
                      select(Task, Case).join(Case, Case.id == Task.case_id)
                      .where(Task.state == "ready", past, Case.status == "running", Case.suspended_at.is_(None),
                             _not_escalated("task:", Task.id)))]
    for task, case in open_tasks:
        ratio, escalate_after, intake = _settings(session, case)
        light = deadlines.light(cal, task.created_at, task.due_at, now, ratio, warn=task.warn_at)
        for kind in _events_due(cal, light, task.due_at, now, escalate_after):
            reason = "即将超期" if kind == "remind" and light == "yellow" else (
                "不及时受理" if task.element_id == intake else "超期未办结")
            found.append(DueEvent(f"task:{task.id}:{kind}", case.id, task.id, task.department_id, kind, reason))
    late_cases = [case for past in lights.past_yellow(Case.warn_at, Case.deadline, now)
                  for case in session.execute(select(Case).where(
                      Case.status == "running", past, Case.suspended_at.is_(None),
                      _not_escalated("case:", cast(Case.id, String)))).scalars()]
    for case in late_cases:
        ratio, escalate_after, _ = _settings(session, case)
        light = deadlines.light(cal, case.created_at, case.deadline, now, ratio, warn=case.warn_at)
        for kind in _events_due(cal, light, case.deadline, now, escalate_after):
            found.append(DueEvent(f"case:{case.id}:{kind}", case.id, None, None, kind,
                                  "即将超期" if light == "yellow" else "超期未办结"))
    if not found:
        return []
    written = set(session.execute(select(SupervisionEvent.dedupe_key).where(
        SupervisionEvent.dedupe_key.in_([e.key for e in found]))).scalars())
    return [e for e in found if e.key not in written]


def write_event(session: Session, event: DueEvent, now: datetime) -> bool:
    """Write one due event in its own short transaction; False if another scheduler was first."""
    cases.lock(session, event.case_id)  # the audit chain needs the case lock
    case = session.get(Case, event.case_id, populate_existing=True)
    if session.execute(select(SupervisionEvent.id).where(SupervisionEvent.dedupe_key == event.key)).first():
        return False
    try:
        with session.begin_nested():
            session.add(SupervisionEvent(case_id=event.case_id, task_id=event.task_id,
                                         department_id=event.department_id, kind=event.kind,
                                         reason=event.reason, created_at=now, note="", dedupe_key=event.key))
    except IntegrityError:
        return False
    audit.record(session, action=f"supervision.{event.kind}", at=now, actor_id=None, case=case,
                 object_type="task" if event.task_id else "case",
                 object_id=event.task_id or case.case_no,
                 after={"kind": KIND_NAMES[event.kind], "reason": event.reason})
    return True


def supervise_manually(session: Session, *, case: Case, note: str, actor_id: int, now: datetime) -> SupervisionEvent:
    """A manager's 督办 on a case, from the dashboard."""
    if case.status != "running":
        raise Conflict("办件已办结，无需督办")
    cases.lock(session, case.id)
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
