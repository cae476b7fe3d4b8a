"""Department inboxes and completing tasks."""
from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from .. import engine
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import OPEN_SIGN_STATUSES, Case, Task, TaskSign, WorkflowState
from .accounts import Actor
from . import audit, calendar, cases, catalog, deadlines, forms, intake, processes, projection, rows, uow


_INBOX_COLUMNS = (Task.id, Task.name, Task.element_id, Task.lane, Task.state, Task.form_key, Task.created_at,
                  Task.due_at, Task.warn_at, Task.completed_at, Task.completed_by_id, Case.case_no,
                  Case.process_definition_id)


def _inbox_statement(department: bool, state: bool):
    query = select(*_INBOX_COLUMNS).join(Case, Case.id == Task.case_id)
    if department:
        query = query.where(Task.department_id == bindparam("department_id"))
    if state:
        query = query.where(Task.state == bindparam("state"))
    # NULLS LAST matches the (department_id, state, due_at, created_at, id) index order on PostgreSQL
    return (query.order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
            .limit(bindparam("limit")).offset(bindparam("offset")))


# every inbox request runs one of these: built once (see cases.py)
_INBOX = {(department, state): _inbox_statement(department, state)
          for department in (False, True) for state in (False, True)}


def inbox(session: Session, user: Actor, *, state: str | None = "ready", limit: int = 100,
          offset: int = 0) -> list:
    """Tasks the user may work, soonest deadline first: rows with the task's listed columns and
    its ``case_no`` (plain columns: a page of 100 builds no ORM objects and decodes no task data)."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    everyone = user.has_role("admin", "manager")
    if not everyone:
        if user.department_id is None:
            return []
        params["department_id"] = user.department_id
    if state:
        params["state"] = state
    return session.execute(_INBOX[(not everyone, bool(state))], params).all()


INBOX_VIEWS = ("department", "mine")


def inbox_rows(session: Session, user: Actor, *, view: str = "department", process_key: str | None = None,
               overdue_at: datetime | None = None, search: str | None = None, limit: int = 50,
               offset: int = 0) -> list[tuple[Task, str, str, str, int]]:
    """One page of an inbox tab in one query: (task, case_no, applicant_name, process_key, definition_id).

    ``department``: the ready tasks of the user's department that nobody else has taken
    (managers and admins see every department's); ``mine``: the ready tasks assigned to
    the user. Soonest deadline first, no deadline last. ``overdue_at``: only tasks due
    before that moment; ``search``: a case number prefix or the applicant's exact name.
    """
    query = (select(Task, Case.case_no, Case.applicant_name, Case.process_key, Case.process_definition_id)
             .join(Case, Case.id == Task.case_id).where(Task.state == "ready"))
    if view == "mine":
        query = query.where(Task.assignee_id == user.id)  # ix_tasks_assignee_id
    elif not user.has_role("admin", "manager"):
        if user.department_id is None:
            return []
        # ix_tasks_inbox (department_id, state, due_at, created_at, id)
        query = query.where(Task.department_id == user.department_id,
                            or_(Task.assignee_id.is_(None), Task.assignee_id == user.id))
    if process_key:
        query = query.where(Case.process_key == process_key)
    if overdue_at is not None:
        query = query.where(Task.due_at < overdue_at)
    if search:
        query = query.where(Case.case_no.startswith(search, autoescape=True) | (Case.applicant_name == search))
    query = query.order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id).limit(limit).offset(offset)
    return [tuple(row) for row in session.execute(query).all()]


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


def check_may_complete(user: Actor, task: Task) -> None:
    """A claimed task is completed by its assignee only; a delegated one by its owner, once it is back."""
    if task.owner_id is not None:
        if task.assignee_id == user.id:
            raise Forbidden("受委派的任务不能直接办结，请填写意见后交回委派人")
        raise Forbidden("任务已委派他人办理，交回后才能办结")
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise Forbidden("任务已由他人认领")


def lock_task(session: Session, task_id: str, *, unless_signing: str | None = None) -> tuple[Task, Case]:
    """For a task action that is not an engine step: take the case's lock, then read the case
    and the task fresh. With ``unless_signing`` (the action's name, e.g. 转办), an open 加签
    round refuses the action: the round is tied to the task's holder."""
    task = get_task(session, task_id)
    cases.lock(session, task.case_id)
    if unless_signing is None:
        return _task_and_case(session, task_id)
    task, case, sign_kind = _task_for_step(session, task_id)
    if sign_kind is not None:
        from . import signing  # signing imports this module
        signing.refuse_open_sign(sign_kind, unless_signing)
    return task, case


# Read on every task action, so built once (see cases.py). Each reads its rows fresh.
_TASK_AND_CASE = (select(Task, Case).join(Case, Case.id == Task.case_id).where(Task.id == bindparam("task_id"))
                  .execution_options(populate_existing=True))
# the kind of the task's open 加签 round (None: no round holds it)
# (status = … OR status = …, not IN: SQLAlchemy renders an IN list again at every execution)
_OPEN_SIGN_KIND = (select(TaskSign.kind).where(TaskSign.task_id == Task.id,
                                               or_(*(TaskSign.status == s for s in OPEN_SIGN_STATUSES)))
                   .order_by(TaskSign.position).limit(1).correlate(Task).scalar_subquery())
_FOR_STEP = _TASK_AND_CASE.add_columns(_OPEN_SIGN_KIND)
# a step also needs the stored state of each of the case's tasks ({id: state}, to project the
# step onto the task rows): read with the task, as one JSON value, instead of by a query of its own
_sibling = aliased(Task)


def _stored_states(aggregate):
    return (select(aggregate(_sibling.id, _sibling.state, type_=JSON)).where(_sibling.case_id == Task.case_id)
            .correlate(Task).scalar_subquery())


_STEP_ON_SQLITE = (_FOR_STEP.add_columns(WorkflowState, _stored_states(func.json_group_object))
                   .join(WorkflowState, WorkflowState.case_id == Task.case_id))
_STEP_RECHECK_ON_POSTGRESQL = _FOR_STEP.add_columns(_stored_states(func.json_object_agg))


def _read_task(session: Session, statement, task_id: str) -> tuple:
    row = session.execute(statement, {"task_id": task_id}).one_or_none()
    if row is None:
        raise NotFound("任务不存在")
    set_committed_value(row[0], "case", row[1])  # task.case works without a query, and keeps the case loaded
    return tuple(row)


def _task_and_case(session: Session, task_id: str) -> tuple[Task, Case]:
    """The task and its case in one query, read fresh from the database."""
    return _read_task(session, _TASK_AND_CASE, task_id)


def _task_for_step(session: Session, task_id: str) -> tuple:
    """(task, case, open 加签 kind) in one query, read fresh."""
    return _read_task(session, _FOR_STEP, task_id)


def _serialized(session: Session) -> bool:
    """Whether this transaction already excludes every other writer (SQLite's BEGIN IMMEDIATE)."""
    return session.get_bind().dialect.name == "sqlite" and uow.write_intent.get()


def _check_step(user: Actor, task: Task, sign_kind: str | None) -> None:
    if not may_work(user, task):
        raise Forbidden("该任务不属于您的部门")
    if task.state != "ready":
        raise Conflict("任务已办理或已取消")
    check_may_complete(user, task)
    if sign_kind is not None:
        from . import signing  # signing imports this module
        signing.refuse_open_sign(sign_kind)


class LockedStep(NamedTuple):
    task: Task
    case: Case
    state_row: WorkflowState
    stored_states: dict[str, str] | None  # {task id: state} of the case's task rows, if read with them


def lock_for_step(session: Session, task_id: str, user: Actor) -> LockedStep:
    """The task, its case and the case's workflow state, locked for a step by ``user``.

    Refused unless the user may complete the task now (department, state, claim,
    delegation, and no open 加签 round holding it).
    """
    if _serialized(session):  # nobody else writes: the task, case, state and task states in one read
        task, case, sign_kind, state_row, states = _read_task(session, _STEP_ON_SQLITE, task_id)
        _check_step(user, task, sign_kind)
        return LockedStep(task, case, state_row, states or {})
    task, case = _task_and_case(session, task_id)
    _check_step(user, task, None)
    # lock the workflow state (a row lock on PostgreSQL), then read the task and
    # case again, so a parallel branch that committed meanwhile is never overwritten
    state_row = cases.state_of(session, task.case_id, for_update=True)
    # a claim, hand-over, delegation or 加签 may have committed meanwhile: check again under the lock
    if session.get_bind().dialect.name == "postgresql":
        task, case, sign_kind, states = _read_task(session, _STEP_RECHECK_ON_POSTGRESQL, task_id)
        states = states or {}
    else:
        (task, case, sign_kind), states = _task_for_step(session, task_id), None
    _check_step(user, task, sign_kind)
    return LockedStep(task, case, state_row, states)


def complete_task(session: Session, *, task_id: str, user: Actor, data: Any, now: datetime) -> Task:
    task, case, state_row, stored_states = lock_for_step(session, task_id, user)
    definition = processes.deployed(session, case.process_definition_id)
    clean = forms.validate_data(forms.for_definition(session, definition, task.form_key), data)
    facts = intake.check(session, case, definition.catalog, task.element_id, clean)
    parsed = processes.runnable(session, definition)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            result = engine.complete(parsed, state_row.state, task.id, {**clean, **facts},
                                     projection.resume_key(session, case))
    except (engine.TaskNotReady, engine.UnknownTask):
        raise Conflict("任务已办理或已取消") from None
    except engine.EngineError as exc:
        raise InvalidInput(exc.message, {"element_id": exc.element_id}) from None
    # what the submission overwrote, so that 撤回 can put the case's data back
    before = {"state": task.state, "case_data": {k: case.data[k] for k in clean if k in case.data}}
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
                          deadlines.due_function(cal, definition.catalog), actor_id=user.id, parsed=parsed,
                          stored_states=stored_states)
    rows.write_changes(session, task)
    session.flush()
    return task
