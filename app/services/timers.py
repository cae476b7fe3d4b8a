"""Firing due BPMN timers. Each firing is its own transaction, safe to re-run."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import engine
from ..models import Case, Incident, Timer, WorkflowState
from . import audit, calendar, cases, deadlines, processes, projection

log = logging.getLogger(__name__)


class TimerFailed(Exception):
    def __init__(self, case_id: int, error: engine.EngineError):
        super().__init__(error.message)
        self.case_id = case_id
        self.error = error


def record_incident(session: Session, failure: TimerFailed, now: datetime) -> Incident:
    """Park the failing timers of a case behind an incident, so they are not retried every second."""
    incident = Incident(case_id=failure.case_id, element_id=failure.error.element_id, source="timer",
                        message=failure.error.message, created_at=now)
    session.add(incident)
    session.flush()
    for timer in session.execute(select(Timer).where(
            Timer.case_id == failure.case_id, Timer.fired_at.is_(None), Timer.incident_id.is_(None),
            Timer.due_at <= now)).scalars():
        timer.incident_id = incident.id
    cases.lock(session, failure.case_id)  # the audit chain needs the case lock
    case = session.get(Case, failure.case_id, populate_existing=True)
    audit.record(session, action="incident.opened", at=now, actor_id=None, case=case,
                 object_type="incident", object_id=incident.id,
                 after={"element_id": incident.element_id, "message": incident.message})
    return incident


def due_case_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    query = (select(Timer.case_id).join(Case, Case.id == Timer.case_id)
             .where(Timer.fired_at.is_(None), Timer.incident_id.is_(None), Timer.due_at <= now,
                    Case.suspended_at.is_(None))
             .order_by(Timer.due_at).limit(limit))
    return list(dict.fromkeys(session.execute(query).scalars()))


def fire_case_timers(session: Session, case_id: int, now: datetime) -> int:
    """Let the engine fire whatever is due on one case; returns timers fired."""
    # another scheduler working this case skips it (PostgreSQL); SQLite serialises writers anyway
    state_row = session.execute(select(WorkflowState).where(WorkflowState.case_id == case_id)
                                .with_for_update(skip_locked=True)).scalar_one_or_none()
    if state_row is None:
        return 0
    case = session.get(Case, case_id, populate_existing=True)
    due = list(session.execute(select(Timer).where(
        Timer.case_id == case_id, Timer.fired_at.is_(None), Timer.incident_id.is_(None),
        Timer.due_at <= now)).scalars())
    if not due or case.status != "running" or case.suspended_at is not None:
        return 0  # a suspended case's timers are moved on resume, not fired
    definition = processes.deployed(session, case.process_definition_id)
    parsed = processes.runnable(session, definition)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            result = engine.fire_due_timers(parsed, state_row.state, projection.resume_key(session, case))
    except engine.EngineError as exc:
        log.error("timer on case %s failed: %s", case.case_no, exc.message)
        raise TimerFailed(case_id, exc) from None
    for timer in due:
        timer.fired_at = now
        audit.record(session, action="timer.fired", at=now, actor_id=None, case=case,
                     object_type="timer", object_id=timer.id,
                     after={"element_id": timer.element_id, "due_at": timer.due_at.isoformat()})
    projection.apply_step(session, case, result, state_row, definition, now,
                          deadlines.due_function(cal, definition.catalog), parsed=parsed)
    session.flush()
    return len(due)
