"""Write an engine step into the database: state, task rows, timers, case status."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from .. import engine
from ..errors import InvalidInput
from ..models import OPEN_SIGN_STATUSES, Case, Task, TaskSign, Timer, WorkflowState
from . import accounts, deadlines, effects, processes, rows, uow

DueFunction = Callable[[str, datetime], "deadlines.Deadline | None"]


def save_state(session: Session, case: Case, result: engine.StepResult,
               state_row: WorkflowState | None, parsed: engine.ParsedProcess | None = None) -> WorkflowState:
    text = engine.state_text(result.state)
    version = str(result.state.get("serializer_version", ""))
    if state_row is None:
        state_row = WorkflowState(case_id=case.id, state=text, serializer_version=version)
        session.add(state_row)
    else:
        state_row.state = text
        state_row.serializer_version = version
    if parsed is not None and result.resumable is not None:
        _keep_after_commit(session, case, state_row, text, result, parsed)
    return state_row


def resume_key(session: Session, case: Case) -> tuple:
    """Where the engine keeps this case's live workflow between steps in this process."""
    return (str(session.get_bind().url), case.id)


def _keep_after_commit(session: Session, case: Case, state_row: WorkflowState, text: str,
                       result: engine.StepResult, parsed: engine.ParsedProcess) -> None:
    def prepare():
        if state_row.state is not text:  # written again later in this use case: keep nothing
            return None
        key = resume_key(session, case)
        return lambda: engine.remember(result, parsed, key, text)
    uow.after_commit(session, prepare)


# run on every step, so built once (see cases.py)
_TASK_STATES = select(Task.id, Task.state).where(Task.case_id == bindparam("case_id"))
_WAITING_TIMERS = select(Timer).where(Timer.case_id == bindparam("case_id"), Timer.fired_at.is_(None))


def sync_tasks(session: Session, case: Case, result: engine.StepResult,
               lane_departments: dict[str, int], now: datetime,
               due_for: DueFunction | None = None, stored_states: dict[str, str] | None = None) -> list[Task]:
    """Upsert task rows; returns the tasks that became ready in this step.

    ``stored_states`` ({task id: state} as stored) saves the query when the caller read them
    already, in this transaction and under the case's lock.
    """
    with session.no_autoflush:  # the case's own changes are flushed once, later
        # states only, not whole rows: a step changes few of them
        known = dict(stored_states) if stored_states is not None else dict(
            session.execute(_TASK_STATES, {"case_id": case.id}).all())
        known.update(_states_in_session(session, case.id, known))
        return _apply_task_snapshots(session, case, result, known, lane_departments, now, due_for)


def _states_in_session(session: Session, case_id: int, known: dict[str, str]):
    """The states of this case's tasks as this use case has changed them (loaded rows only:
    an expired row is as stored, and reading it would load it again)."""
    for row in session.identity_map.values():
        if isinstance(row, Task):
            loaded = sa_inspect(row).dict
            if loaded.get("case_id") == case_id and "state" in loaded and loaded.get("id") in known:
                yield loaded["id"], loaded["state"]


def _apply_task_snapshots(session: Session, case: Case, result: engine.StepResult, known: dict[str, str],
                          lane_departments: dict[str, int], now: datetime,
                          due_for: DueFunction | None) -> list[Task]:
    new_ready: list[Task] = []
    dropped: list[str] = []
    named: dict[str, Any] | None = None  # departments by name and code, read once if a diagram names one
    for snap in result.tasks:
        stored = known.get(snap.task_id)
        if stored is None:
            if snap.state == "cancelled":
                continue  # predicted but never offered to anybody
            lane, department_id = snap.lane, lane_departments.get(snap.lane or "")
            if snap.department:  # e.g. one instance of a 会签 per reviewing department
                named = named if named is not None else accounts.department_lookup(session)
                if snap.department not in named:
                    raise InvalidInput(f"任务“{snap.name}”的办理部门“{snap.department}”不存在")
                lane, department_id = named[snap.department].name, named[snap.department].id
            deadline = due_for(snap.element_id, now) if due_for else None
            row = Task(id=snap.task_id, case_id=case.id, element_id=snap.element_id, name=snap.name,
                       lane=lane, department_id=department_id,
                       form_key=snap.form_key, state=snap.state, created_at=now,
                       due_at=deadline.due if deadline else None, warn_at=deadline.warn_at if deadline else None)
            session.add(row)
            if snap.state == "ready":
                new_ready.append(row)
        elif stored != snap.state and stored != "completed":
            row = session.get(Task, snap.task_id)  # no query when this use case has loaded it
            if snap.state == "cancelled":
                dropped.append(row.id)
            row.state = snap.state
    if dropped:  # a 加签 round cannot outlive its task (a timer, another branch or an end event took it away)
        session.execute(update(TaskSign).where(TaskSign.task_id.in_(dropped),
                                               TaskSign.status.in_(OPEN_SIGN_STATUSES))
                        .values(status="cancelled", decided_at=now))
    return new_ready


def sync_timers(session: Session, case: Case, result: engine.StepResult, first_step: bool = False) -> None:
    if not result.timers and not result.timers_before:
        return  # no timer before the step and none after it: the case has no timer rows to change
    waiting = {t.task_id: t for t in result.timers}
    rows: dict[str, Timer] = {}
    if not first_step:
        with session.no_autoflush:  # the step's other changes are flushed once, later
            rows = {t.id: t for t in session.execute(_WAITING_TIMERS, {"case_id": case.id}).scalars()
                    if t.fired_at is None}  # marked fired in this step, not yet flushed: keep it as fired
    for task_id, row in rows.items():
        if task_id not in waiting:
            session.delete(row)  # fired or cancelled by the engine
    for task_id, pending in waiting.items():
        due = datetime.fromisoformat(pending.fire_at)
        if task_id in rows:
            rows[task_id].due_at = due
        else:
            session.add(Timer(id=task_id, case_id=case.id, element_id=pending.element_id,
                              name=pending.name, due_at=due))


def lane_departments(session: Session, definition: "processes.Deployed") -> dict[str, int]:
    if "lane_departments" in definition.model:
        return definition.lane_departments
    return {name: dept.id for name, dept in accounts.department_lookup(session).items()}  # older versions


def apply_step(session: Session, case: Case, result: engine.StepResult,
               state_row: WorkflowState | None, definition: "processes.Deployed",
               now: datetime, due_for: DueFunction | None = None,
               actor_id: int | None = None, parsed: engine.ParsedProcess | None = None,
               stored_states: dict[str, str] | None = None) -> list[Task]:
    """Save the step; then carry out what its service tasks asked for, in the same transaction.

    With ``parsed`` (the spec the step ran on), the step's live workflow is kept
    for the case's next step in this process once the transaction commits.
    """
    first_step = state_row is None  # a case just started has no task or timer rows yet
    state_row = save_state(session, case, result, state_row, parsed)
    ready = sync_tasks(session, case, result, lane_departments(session, definition), now, due_for,
                       {} if first_step else stored_states)
    if definition.model.get("has_timers", True):
        sync_timers(session, case, result, first_step)
    case.updated_at = now
    if result.status in ("completed", "terminated") and case.status == "running":
        case.status = result.status
        case.completed_at = now
        case.end_event = result.end_event
    case.waiting_messages = result.waiting_messages or None
    if result.effects:
        if case.id is None:
            session.flush()
        # the effects' queries autoflush: write the changed rows first, so that flush has only the new ones
        rows.write_changes(session, *session.dirty)
        effects.apply(session, case, state_row, definition, result.effects, actor_id, now)
    rows.write_changes(session, case, state_row)  # the step's own rows, without the unit of work
    return ready
