"""Starting and reading cases (办件)."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import engine
from ..errors import InvalidInput, NotFound
from ..models import AuditEvent, Case, CaseCounter, Task, User, WorkflowState
from . import audit, calendar, catalog, deadlines, forms, materials, processes, projection, rows
from .clock import local


# Statements run on most requests are built once, with bind parameters: building a select
# and working out its cache key costs SQLAlchemy more than running it on SQLite.
_NEW_DAY = {name: insert(CaseCounter).values(day=bindparam("counter_day"), value=0).on_conflict_do_nothing()
            for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_NEXT_NUMBER = (update(CaseCounter).where(CaseCounter.day == bindparam("counter_day"))
                .values(value=CaseCounter.value + 1).returning(CaseCounter.value)
                .execution_options(synchronize_session=False))  # counters are never loaded as objects


def next_case_no(session: Session, region_code: str, now: datetime) -> str:
    """统一受理号码: region code + local date + a per-day sequence."""
    day = local(now).strftime("%Y%m%d")
    session.execute(_NEW_DAY[session.get_bind().dialect.name], {"counter_day": day})
    value = session.execute(_NEXT_NUMBER, {"counter_day": day}).scalar_one()
    return f"{region_code}{day}{value:06d}"


def start_case(session: Session, *, process_key: str, applicant: dict[str, str],
               data: dict[str, Any], actor_id: int | None, region_code: str,
               now: datetime) -> Case:
    definition = processes.deployed(session, processes.get_latest(session, process_key).id)
    clean = forms.validate_data(forms.for_definition(session, definition, definition.model.get("start_form_key")), data)
    parsed = processes.runnable(session, definition)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            result = engine.start(parsed, {**clean, **catalog.variant_data(definition.catalog, clean)})
    except engine.EngineError as exc:
        raise InvalidInput(exc.message, {"element_id": exc.element_id}) from None
    case = Case(case_no=next_case_no(session, region_code, now), process_definition_id=definition.id,
                process_key=definition.key, status="running", applicant_name=applicant["name"],
                applicant_id_number=applicant["id_number"], applicant_phone=applicant["phone"],
                data=clean, created_by_id=actor_id, created_at=now, updated_at=now)
    case.deadline, case.statutory_deadline = deadlines.case_deadlines(cal, definition.catalog, now, clean)
    case.deadline = case.deadline or case.statutory_deadline
    case.warn_at = deadlines.case_warn_at(cal, definition.catalog, case)
    case.query_code = f"{secrets.randbelow(10**6):06d}"
    session.add(case)
    session.flush()
    audit.record(session, action="case.started", at=now, actor_id=actor_id, case=case,
                 object_type="case", object_id=case.case_no,
                 after={"process_key": definition.key, "version": definition.version, "data": clean})
    projection.apply_step(session, case, result, None, definition, now,
                          deadlines.due_function(cal, definition.catalog), actor_id=actor_id, parsed=parsed)
    materials.attach_certificates(session, case, definition.catalog, now)  # 免证办
    rows.write_changes(session, case)  # its audit head and projected columns: one UPDATE, not a flush
    session.flush()
    return case


_CASE_BY_NO = select(Case).where(Case.case_no == bindparam("case_no"))
_CASE_TASKS = select(Task).where(Task.case_id == bindparam("case_id")).order_by(Task.created_at, Task.id)
_STATE = select(WorkflowState).where(WorkflowState.case_id == bindparam("case_id"))
_STATE_FOR_UPDATE = _STATE.with_for_update()
_CASE_LOCK = select(WorkflowState.case_id).where(WorkflowState.case_id == bindparam("case_id")).with_for_update()


def get_case(session: Session, case_no: str) -> Case:
    case = session.execute(_CASE_BY_NO, {"case_no": case_no}).scalar_one_or_none()
    if case is None:
        raise NotFound(f"办件“{case_no}”不存在")
    return case


def case_tasks(session: Session, case_id: int) -> list[Task]:
    return list(session.execute(_CASE_TASKS, {"case_id": case_id}).scalars())


def department_has_task(session: Session, case_id: int, department_id: int | None) -> bool:
    """Whether a department has (or had) a task in the case: what lets its approvers read it."""
    if department_id is None:
        return False
    return session.execute(select(Task.id).where(Task.case_id == case_id, Task.department_id == department_id)
                           .limit(1)).first() is not None


def list_cases(session: Session, *, status: str | None = None, process_key: str | None = None,
               search: str | None = None, limit: int = 50, offset: int = 0) -> list[Case]:
    """Newest first; ``search`` matches the case number (prefix) or the applicant's name."""
    query = select(Case).order_by(Case.id.desc()).limit(limit).offset(offset)
    if status:
        query = query.where(Case.status == status)
    if process_key:
        query = query.where(Case.process_key == process_key)
    if search:
        query = query.where(Case.case_no.startswith(search) | (Case.applicant_name == search))
    return list(session.execute(query).scalars())


def state_of(session: Session, case_id: int, *, for_update: bool) -> WorkflowState:
    return session.execute(_STATE_FOR_UPDATE if for_update else _STATE, {"case_id": case_id}).scalar_one()


def lock(session: Session, case_id: int) -> None:
    """Serialise this transaction with every other writer of the case (its audit chain, its state).

    On PostgreSQL a row lock on the case's workflow state, the lock every step
    takes. SQLite has no row locks: a write transaction excludes every other
    writer of the whole database (from BEGIN IMMEDIATE, or else from its first
    write, refused if another writer committed since its first read), so there
    is nothing to take.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.execute(_CASE_LOCK, {"case_id": case_id}).scalar_one()


def history(session: Session, case_id: int) -> list[tuple[AuditEvent, str | None]]:
    """The case's audit events, oldest first, each with the name of who did it (one query)."""
    query = (select(AuditEvent, User.name).outerjoin(User, User.id == AuditEvent.actor_id)
             .where(AuditEvent.case_id == case_id).order_by(AuditEvent.id))
    return [(event, name) for event, name in session.execute(query).all()]
