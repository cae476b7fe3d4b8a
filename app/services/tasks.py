"""Department inboxes and completing tasks."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import Case, Task
from .accounts import Actor
from . import audit, calendar, cases, catalog, deadlines, forms, intake, processes, projection


def inbox(session: Session, user: Actor, *, state: str | None = "ready", limit: int = 100,
          offset: int = 0) -> list[tuple[Task, str]]:
    """Tasks the user may work, with their case numbers, soonest deadline first."""
    query = select(Task, Case.case_no).join(Case, Case.id == Task.case_id)
    if not user.has_role("admin", "manager"):
        if user.department_id is None:
            return []
        query = query.where(Task.department_id == user.department_id)
    if state:
        query = query.where(Task.state == state)
    # NULLS LAST matches the (department_id, state, due_at) index order on PostgreSQL
    query = query.order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
    return [(t, no) for t, no in session.execute(query.limit(limit).offset(offset)).all()]


def may_work(user: Actor, task: Task) -> bool:
    return user.has_role("approver", "clerk") and user.department_id is not None \
        and task.department_id == user.department_id


def get_task(session: Session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("任务不存在")
    return task


def task_detail(session: Session, task: Task, case: Case) -> dict[str, Any]:
    """What a department needs to work a task: its form, its matter, and the fields it uses.

    A matter may list ``fields`` in the catalog: the department then sees only
    those fields of the one application (一表申请), not everything the others asked.
    """
    definition = processes.deployed(session, case.process_definition_id)
    matter = catalog.matter_for_task(definition.catalog, task.element_id)
    shown = (matter or {}).get("fields")
    data = case.data or {}
    return {"service_name": definition.name, "matter": matter,
            "form": forms.for_definition(session, definition, task.form_key),
            "case_data": {k: data[k] for k in shown if k in data} if shown else dict(data)}


def complete_task(session: Session, *, task_id: str, user: Actor, data: Any, now: datetime) -> Task:
    task = get_task(session, task_id)
    if not may_work(user, task):
        raise Forbidden("该任务不属于您的部门")
    if task.state != "ready":
        raise Conflict("任务已办理或已取消")
    # lock the workflow state first (a row lock on PostgreSQL), then read the case
    # fresh, so a parallel branch that committed meanwhile is never overwritten
    state_row = cases.state_of(session, task.case_id, for_update=True)
    case = session.get(Case, task.case_id, populate_existing=True)
    definition = processes.deployed(session, case.process_definition_id)
    clean = forms.validate_data(forms.for_definition(session, definition, task.form_key), data)
    facts = intake.check(session, case, definition.catalog, task.element_id, clean)
    parsed = processes.runnable(session, definition)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            result = engine.complete(parsed, state_row.state, task.id, {**clean, **facts})
    except (engine.TaskNotReady, engine.UnknownTask):
        raise Conflict("任务已办理或已取消") from None
    except engine.EngineError as exc:
        raise InvalidInput(exc.message, {"element_id": exc.element_id}) from None
    before = {"state": task.state}
    task.state = "completed"
    task.completed_by_id = user.id
    task.completed_at = now
    task.data = clean
    case.data = {**case.data, **clean}
    audit.record(session, action="task.completed", at=now, actor_id=user.id, case=case,
                 object_type="task", object_id=task.id, before=before,
                 after={"state": "completed", "element_id": task.element_id, "data": clean,
                        "case_status": result.status})
    projection.apply_step(session, case, result, state_row, definition, now,
                          deadlines.due_function(cal, definition.catalog), actor_id=user.id)
    session.flush()
    return task
