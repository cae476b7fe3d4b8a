"""Incidents (故障): cases stuck on an engine error that no user caused, and an analyst's retry or skip."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, NotFound
from ..models import Case, Incident, ProcessDefinition, Timer, User
from . import audit, calendar, cases, deadlines, processes, projection

SOURCE_NAMES = {"timer": "定时", "message": "消息"}


def open_incidents(session: Session, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Unresolved incidents, newest first, with their case and service."""
    query = (select(Incident, Case.case_no, Case.process_key, ProcessDefinition.name, ProcessDefinition.version)
             .join(Case, Case.id == Incident.case_id)
             .join(ProcessDefinition, ProcessDefinition.id == Case.process_definition_id)
             .where(Incident.resolved_at.is_(None))
             .order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit).offset(offset))
    return [{"id": i.id, "case_no": no, "process_key": key, "service_name": name, "version": version,
             "element_id": i.element_id, "source": i.source, "source_name": SOURCE_NAMES.get(i.source, i.source),
             "message": i.message, "created_at": i.created_at}
            for i, no, key, name, version in session.execute(query).all()]


def resolved_incidents(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    query = (select(Incident, Case.case_no, User.name).join(Case, Case.id == Incident.case_id)
             .outerjoin(User, User.id == Incident.resolved_by_id)
             .where(Incident.resolved_at.is_not(None))
             .order_by(Incident.resolved_at.desc(), Incident.id.desc()).limit(limit))
    return [{"id": i.id, "case_no": no, "element_id": i.element_id, "message": i.message,
             "resolution": i.resolution, "resolved_at": i.resolved_at, "resolved_by": who}
            for i, no, who in session.execute(query).all()]


def _open(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("故障记录不存在")
    if incident.resolved_at is not None:
        raise Conflict("该故障已处理")
    return incident


def _resolve(session: Session, incident_id: int, *, skip: bool, actor_id: int, now: datetime) -> Incident:
    """Run the case on from its stored state; on failure nothing changes and the incident stays open."""
    incident = _open(session, incident_id)
    state_row = cases.state_of(session, incident.case_id, for_update=True)
    case = session.get(Case, incident.case_id, populate_existing=True)
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident.resolved_at is not None:
        raise Conflict("该故障已处理")
    if case.status != "running":
        raise Conflict("办件已结束，无需处理该故障")
    if case.suspended_at is not None:
        raise Conflict("办件正在中止计时，恢复后再处理该故障")
    for timer in session.execute(select(Timer).where(Timer.incident_id == incident.id)).scalars():
        timer.incident_id = None  # back in the queue (kept so if the step fails again: rolled back)
    definition = processes.deployed(session, case.process_definition_id)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            outcome = engine.run_pending(processes.runnable(session, definition), state_row.state,
                                         incident.element_id if skip else None)
    except engine.EngineError as exc:
        raise Conflict(f"{'跳过' if skip else '重试'}后仍然失败：{exc.message}") from None
    waiting = {t.task_id for t in outcome.result.timers}
    for timer in session.execute(select(Timer).where(Timer.case_id == case.id, Timer.fired_at.is_(None),
                                                     Timer.due_at <= now)).scalars():
        if timer.id not in waiting:
            timer.fired_at = now
            audit.record(session, action="timer.fired", at=now, actor_id=actor_id, case=case,
                         object_type="timer", object_id=timer.id,
                         after={"element_id": timer.element_id, "due_at": timer.due_at.isoformat()})
    incident.resolved_at, incident.resolved_by_id = now, actor_id
    incident.resolution = "skipped" if skip else "retried"
    audit.record(session, action=f"incident.{incident.resolution}", at=now, actor_id=actor_id, case=case,
                 object_type="incident", object_id=incident.id,
                 after={"element_id": incident.element_id, "skipped_times": outcome.skipped,
                        "case_status": outcome.result.status})
    projection.apply_step(session, case, outcome.result, state_row, definition, now,
                          deadlines.due_function(cal, definition.catalog), actor_id=actor_id)
    session.flush()
    return incident


def retry(session: Session, *, incident_id: int, actor_id: int, now: datetime) -> Incident:
    """重试: run the failed step again (the parked timers fire again)."""
    return _resolve(session, incident_id, skip=False, actor_id=actor_id, now=now)


def skip(session: Session, *, incident_id: int, actor_id: int, now: datetime) -> Incident:
    """跳过: run the step again, but mark the failing element done without running it, and go on."""
    return _resolve(session, incident_id, skip=True, actor_id=actor_id, now=now)
