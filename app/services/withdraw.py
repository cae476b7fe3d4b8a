"""撤回: the one who completed a task takes the completion back while the next step has not started.

Allowed only when

- the caller completed the task and still works for its department;
- the case is running;
- nothing the completion caused has happened yet: no service task of that step ran
  (a notice issued or a certificate generated cannot be taken back), and none of the
  tasks it offered has been claimed, handed over, commented on, copied, signed or
  completed;
- the engine can reset the branch (see :mod:`app.engine.withdraw`: no later user task
  completed, no join fired from another branch, the step not yet compacted away).

The task comes back to the caller (claimed by them) with its original deadline: the
legal clock has kept running. The case's data gets back what the submission overwrote.
The tasks the completion offered are cancelled and the timers it started are removed
by the projection. One audit event records it all.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, Forbidden, InvalidInput
from ..models import AuditEvent, Case, Task, TaskComment, TaskCopy, TaskSign
from .accounts import Actor
from . import audit, calendar, cases, deadlines, inputs, processes, projection, tasks

REASON_MAX = 500


def _completion_event(session: Session, case_id: int, task_id: str) -> AuditEvent | None:
    return session.execute(select(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.object_type == "task", AuditEvent.object_id == task_id,
        AuditEvent.action == "task.completed").order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()


def _step_effects(session: Session, case_id: int, completed: AuditEvent) -> list[str]:
    """What the service tasks of the completing step carried out (recorded right after it, same moment)."""
    later = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.id > completed.id)
                            .order_by(AuditEvent.id).limit(50)).scalars()
    done = []
    for event in later:
        if not event.action.startswith("effect.") or event.at != completed.at:
            break
        done.append(EFFECT_WORDS.get(event.action.removeprefix("effect."), "执行服务环节"))
    return list(dict.fromkeys(done))


def _touched(session: Session, rows: list[Task]) -> str | None:
    """Why one of the tasks the completion offered can no longer be quietly taken back, if it cannot."""
    ids = [r.id for r in rows]
    for row in rows:
        if row.state != "ready":
            return f"后续环节“{row.name}”已办理"
        if row.assignee_id is not None or row.owner_id is not None:
            return f"后续环节“{row.name}”已被认领"
    for model, what in ((TaskComment, "已有评论"), (TaskCopy, "已抄送他人")):
        found = session.execute(select(model.task_id).where(model.task_id.in_(ids)).limit(1)).scalar_one_or_none()
        if found is not None:
            return f"后续环节“{next(r.name for r in rows if r.id == found)}”{what}"
    found = session.execute(select(TaskSign.task_id).where(TaskSign.task_id.in_(ids)).limit(1)).scalar_one_or_none()
    if found is not None:
        return f"后续环节“{next(r.name for r in rows if r.id == found)}”已加签"
    return None


def _check_asker(user: Actor, task: Task) -> None:
    if not tasks.may_work(user, task):
        raise Forbidden("该任务不属于您的部门")
    if task.state != "completed":
        raise Conflict("任务未办结，无需撤回")
    if task.completed_by_id != user.id:
        raise Forbidden("只能撤回本人办结的任务")


def may_withdraw(user: Actor, task: Task) -> bool:
    """Whether to offer the button; the use case checks everything again under the lock."""
    return task.state == "completed" and task.completed_by_id == user.id and tasks.may_work(user, task)


EFFECT_WORDS = {"accept": "受理", "notice": "出具文书", "notify": "通知申请人", "credit_record": "记入信用记录",
                "certificate": "生成电子证照", "revoke_certificates": "作废证照", "suspend": "中止计时",
                "resume": "恢复计时", "deliver": "送达出件"}


def _engine_step(session: Session, task: Task, state_row, definition, now: datetime):
    parsed = processes.runnable(session, definition)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            outcome = engine.withdraw(parsed, state_row.state, task.id)
    except engine.WithdrawRefused as exc:
        raise Conflict(exc.message) from None
    except engine.EngineError as exc:
        raise InvalidInput(exc.message, {"element_id": exc.element_id}) from None
    return outcome, cal


def withdraw(session: Session, *, task_id: str, user: Actor, now: datetime, reason: str = "") -> Task:
    """撤回 the caller's completion of ``task_id``; the task is ready (and theirs) again."""
    _check_asker(user, tasks.get_task(session, task_id))
    reason = inputs.text_field(reason, field="reason", label="撤回理由", limit=REASON_MAX, required=False)
    state_row = cases.state_of(session, tasks.get_task(session, task_id).case_id, for_update=True)
    case = session.get(Case, state_row.case_id, populate_existing=True)
    task = session.get(Task, task_id, populate_existing=True)
    _check_asker(user, task)
    if case.status != "running":
        raise Conflict("办件已办结或已终止，不能撤回")
    completed = _completion_event(session, case.id, task.id)
    definition = processes.deployed(session, case.process_definition_id)
    effects = _step_effects(session, case.id, completed) if completed is not None else []
    if effects:
        raise Conflict(f"办结后已自动{'、'.join(effects)}，已生效的文书、证照等不能收回，不能撤回")
    outcome, cal = _engine_step(session, task, state_row, definition, now)
    dropped = list(session.execute(select(Task).where(Task.id.in_(outcome.dropped_task_ids))).scalars()) \
        if outcome.dropped_task_ids else []
    problem = _touched(session, dropped)
    if problem:
        raise Conflict(f"{problem}，不能撤回")
    _apply(session, case, task, dropped, user, now, reason, completed)
    projection.apply_step(session, case, outcome.step, state_row, definition, now,
                          deadlines.due_function(cal, definition.catalog), actor_id=user.id)
    session.flush()
    return task


def _apply(session: Session, case: Case, task: Task, dropped: list[Task], user: Actor, now: datetime,
           reason: str, completed: AuditEvent | None) -> None:
    before = {"state": task.state, "completed_at": task.completed_at.isoformat() if task.completed_at else None,
              "data": task.data}
    restored = _data_before(case.data or {}, completed)
    if restored is not None:
        case.data = restored
    task.state = "ready"
    task.warn_at = None  # worked out again (the calendar may have changed while it was done)
    task.completed_by_id = task.completed_at = task.data = None
    task.assignee_id, task.owner_id, task.claimed_at = user.id, None, now
    for row in dropped:
        row.state = "cancelled"
    audit.record(session, action="task.withdrawn", at=now, actor_id=user.id, case=case, object_type="task",
                 object_id=task.id, before=before,
                 after={"state": "ready", "element_id": task.element_id, "reason": reason,
                        "cancelled_tasks": [{"id": r.id, "name": r.name} for r in dropped],
                        "completed_event_id": completed.id if completed is not None else None,
                        "case_data_restored": restored is not None})


def _data_before(data: dict, completed: AuditEvent | None) -> dict | None:
    """The case's data as before the completion: each field it submitted gets its earlier value
    back (or goes, if it was new), unless another branch has set it since (theirs stands). None
    for a completion recorded before the overwritten values were kept in its event."""
    if completed is None or "case_data" not in (completed.before or {}):
        return None
    earlier = completed.before["case_data"]
    out = dict(data)
    for key, value in ((completed.after or {}).get("data") or {}).items():
        if key not in out or out[key] != value:
            continue
        if key in earlier:
            out[key] = earlier[key]
        else:
            del out[key]
    return out

