"""加签: add approvers before (前加签) or after (后加签) the one who holds a task.

The diagram does not know about it: it lives around the engine task.

- 前加签: the holder asks one or more colleagues, in order, for their approval first.
  Until they have all decided, the task cannot be completed; then it comes back to
  the holder, who completes it (a 不同意 ends the round at once and also comes back).
- 后加签: the holder submits the form together with the approvers to add. The form is
  checked and kept; the engine task stays ready. Each added approver approves in turn,
  and only when the last one has approved is the engine task completed, with the
  holder's form, as the holder. A 不同意 hands the task back to the holder with the
  opinion; the kept form is dropped.

Who may be added: any active approver or front-desk clerk, of any department. In
并联审批 the usual reason to add somebody is 征求意见 of a unit with a stake in the
matter (for example 市场监管局 asking 公安局 before registering a seal-bearing name) or
a superior's sign-off; limiting it to the task's own department would rule out the
first. The decision stays with the task's department: a 前加签 approver only gives an
opinion, a 后加签 approver can only hold the completion back, never complete it with
other data; the case data they see is masked by their role, like anybody's.

The legal clock keeps running: nothing here touches deadlines. Every step is one
use case under the case's lock and writes an audit event on the case.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import OPEN_SIGN_STATUSES, SIGN_KINDS, SIGN_STATUSES, Case, Department, Task, TaskSign, User
from .accounts import Actor
from . import audit, forms, inputs, processes, tasks

MAX_SIGNERS = 5
NOTE_MAX = 500
OPINION_MAX = 2000
SIGN_ROLES = ("approver", "clerk")


def open_rows(session: Session, task_id: str) -> list[TaskSign]:
    return list(session.execute(select(TaskSign).where(TaskSign.task_id == task_id,
                                                       TaskSign.status.in_(OPEN_SIGN_STATUSES))
                                .order_by(TaskSign.position)).scalars())


def refuse_open_sign(kind: str, action: str = "办结") -> None:
    raise Conflict(f"任务正在{SIGN_KINDS[kind]}中，须等加签人审批完成后才能{action}")


def _signers(session: Session, user: Actor, user_ids: Any) -> list[User]:
    people = inputs.chosen_users(session, user, user_ids, noun="加签人", verb="加签", most=MAX_SIGNERS,
                                 not_yourself="不能给自己加签")
    for person in people:
        if not person.has_role(*SIGN_ROLES) or person.department_id is None:
            raise InvalidInput(f"“{person.name}”不是审批人员或窗口人员，不能加签",
                               {"user_ids": [f"“{person.name}”无审批角色"]})
    return people


def _check_holder(user: Actor, task: Task) -> None:
    """The one who holds the task: its department, and its claimant (加签 needs a named holder)."""
    if not tasks.may_work(user, task):
        raise Forbidden("该任务不属于您的部门")
    if task.state != "ready":
        raise Conflict("任务已办理或已取消")
    if task.owner_id is not None:
        raise Conflict("任务正在委派中，交回后才能加签")
    if task.assignee_id != user.id:
        raise Forbidden("请先认领任务再加签" if task.assignee_id is None else "任务已由他人认领，只有认领人可以加签")


def _start_round(session: Session, case: Case, task: Task, user: Actor, kind: str, people: list[User],
                 note: str, data: dict | None, now: datetime) -> list[TaskSign]:
    if open_rows(session, task.id):
        raise Conflict("任务已在加签中，请等本轮加签结束或撤销后再加签")
    rows = [TaskSign(case_id=case.id, task_id=task.id, round_id=0, kind=kind, position=n, user_id=p.id,
                     requested_by_id=user.id, note=note, status="pending" if n == 0 else "waiting", opinion="",
                     data=data, created_at=now) for n, p in enumerate(people)]
    session.add_all(rows)
    session.flush()
    for row in rows:
        row.round_id = rows[0].id
    audit.record(session, action="task.sign_added", at=now, actor_id=user.id, case=case, object_type="task",
                 object_id=task.id, after={"element_id": task.element_id, "kind": kind, "round_id": rows[0].id,
                                           "user_ids": [p.id for p in people], "names": [p.name for p in people],
                                           "note": note, **({"data": data} if data is not None else {})})
    session.flush()
    return rows


def add_before(session: Session, *, task_id: str, user: Actor, user_ids: Any, now: datetime,
               note: str = "") -> list[TaskSign]:
    """前加签: the added approvers decide first, in order; then the task comes back to the holder."""
    _check_holder(user, tasks.get_task(session, task_id))
    note = inputs.text_field(note, field="note", label="加签说明", limit=NOTE_MAX, required=False)
    people = _signers(session, user, user_ids)
    task, case = tasks.lock_task(session, task_id)
    _check_holder(user, task)
    return _start_round(session, case, task, user, "before", people, note, None, now)


def submit_after(session: Session, *, task_id: str, user: Actor, user_ids: Any, data: Any, now: datetime,
                 note: str = "") -> list[TaskSign]:
    """后加签: the holder's decision is kept; the task completes after the last added approver approves."""
    _check_holder(user, tasks.get_task(session, task_id))
    note = inputs.text_field(note, field="note", label="加签说明", limit=NOTE_MAX, required=False)
    people = _signers(session, user, user_ids)
    task, case = tasks.lock_task(session, task_id)
    _check_holder(user, task)
    tasks.check_may_complete(user, task)
    definition = processes.deployed(session, case.process_definition_id)
    clean = forms.validate_data(forms.for_definition(session, definition, task.form_key), data)
    return _start_round(session, case, task, user, "after", people, note, clean, now)


def _actor(session: Session, user_id: int) -> Actor:
    return Actor.of(session.get(User, user_id))


def decide(session: Session, *, sign_id: int, user: Actor, approve: Any, opinion: str, now: datetime) -> TaskSign:
    """The added approver's 同意 / 不同意, with an opinion; the last 同意 of a 后加签 completes the task."""
    found = session.get(TaskSign, sign_id) if isinstance(sign_id, int) else None
    if found is None:
        raise NotFound("加签记录不存在")
    if found.user_id != user.id:
        raise Forbidden("这不是请您审批的加签")
    if not isinstance(approve, bool):
        raise InvalidInput("请选择同意或不同意", {"approve": ["必须选择同意或不同意"]})
    opinion = inputs.text_field(opinion, field="opinion", label="加签意见", limit=OPINION_MAX, required=True)
    task, case = tasks.lock_task(session, found.task_id)
    row = session.get(TaskSign, sign_id, populate_existing=True)
    if row.status != "pending":
        raise Conflict("该加签已审批或已撤销" if row.status != "waiting" else "还没轮到您审批")
    if task.state != "ready":
        raise Conflict("任务已办理或已取消")
    row.status, row.opinion, row.decided_at = ("approved" if approve else "rejected"), opinion, now
    later = [r for r in open_rows(session, task.id) if r.id != row.id]
    if approve and later:
        later[0].status = "pending"
    elif not approve:
        for other in later:
            other.status = "cancelled"
    audit.record(session, action="task.sign_decided", at=now, actor_id=user.id, case=case, object_type="task",
                 object_id=task.id, after={"element_id": task.element_id, "kind": row.kind, "sign_id": row.id,
                                           "approve": approve, "opinion": opinion,
                                           "next_user_id": later[0].user_id if approve and later else None})
    session.flush()
    if approve and not later and row.kind == "after":
        tasks.complete_task(session, task_id=task.id, user=_actor(session, row.requested_by_id), data=row.data,
                            now=now)
    return row


def cancel(session: Session, *, task_id: str, user: Actor, now: datetime) -> list[TaskSign]:
    """撤销加签: the holder takes back the open round (e.g. to decide without the opinion after all)."""
    if not tasks.may_work(user, tasks.get_task(session, task_id)):
        raise Forbidden("该任务不属于您的部门")
    task, case = tasks.lock_task(session, task_id)
    rows = open_rows(session, task.id)
    if not rows:
        raise Conflict("任务没有进行中的加签")
    if rows[0].requested_by_id != user.id:
        raise Forbidden("只有发起加签的人可以撤销")
    for row in rows:
        row.status, row.decided_at = "cancelled", now
    audit.record(session, action="task.sign_cancelled", at=now, actor_id=user.id, case=case, object_type="task",
                 object_id=task.id, after={"element_id": task.element_id, "kind": rows[0].kind,
                                           "round_id": rows[0].round_id, "sign_ids": [r.id for r in rows]})
    session.flush()
    return rows


# -- reading ------------------------------------------------------------------------------

def is_signer(session: Session, task_id: str, user_id: int) -> bool:
    """Whether the user was ever added to the task: what lets them open it."""
    return session.execute(select(TaskSign.id).where(TaskSign.task_id == task_id, TaskSign.user_id == user_id)
                           .limit(1)).first() is not None


def for_task(session: Session, task_id: str) -> list[dict[str, Any]]:
    """Every 加签 of a task, by round and order, with names."""
    requester = aliased(User)
    query = (select(TaskSign, User.name, requester.name).join(User, User.id == TaskSign.user_id)
             .join(requester, requester.id == TaskSign.requested_by_id).where(TaskSign.task_id == task_id)
             .order_by(TaskSign.round_id, TaskSign.position))
    return [_row(s, name, by) for s, name, by in session.execute(query).all()]


def _row(s: TaskSign, name: str, by: str, **extra: Any) -> dict[str, Any]:
    return {"id": s.id, "task_id": s.task_id, "round_id": s.round_id, "kind": s.kind, "kind_name": SIGN_KINDS[s.kind],
            "position": s.position, "user_id": s.user_id, "user_name": name, "requested_by_id": s.requested_by_id,
            "requested_by_name": by, "note": s.note, "status": s.status, "status_name": SIGN_STATUSES[s.status],
            "opinion": s.opinion,
            "created_at": s.created_at, "decided_at": s.decided_at, **extra}


def inbox(session: Session, user_id: int, *, limit: int = 50, offset: int = 0,
          sign_id: int | None = None) -> list[dict[str, Any]]:
    """加签待办: the signs waiting for the user's decision, oldest first, in one query."""
    requester = aliased(User)
    query = (select(TaskSign, User.name, requester.name, Task.name, Task.lane, Task.due_at, Case.case_no,
                    Case.applicant_name)
             .join(User, User.id == TaskSign.user_id).join(requester, requester.id == TaskSign.requested_by_id)
             .join(Task, Task.id == TaskSign.task_id).join(Case, Case.id == TaskSign.case_id))
    if sign_id is not None:
        query = query.where(TaskSign.id == sign_id)
    else:
        query = query.where(TaskSign.user_id == user_id, TaskSign.status == "pending", Task.state == "ready")
    query = query.order_by(TaskSign.created_at, TaskSign.id).limit(limit).offset(offset)
    return [_row(s, name, by, task_name=task_name, lane=lane, due_at=due, case_no=case_no, applicant_name=applicant)
            for s, name, by, task_name, lane, due, case_no, applicant in session.execute(query).all()]


def candidates(session: Session, exclude_id: int) -> list[tuple[int, str, str]]:
    """(id, name, department) of everybody who may be added: active approvers and clerks."""
    query = (select(User, Department.name).join(Department, Department.id == User.department_id)
             .where(User.is_active.is_(True), User.id != exclude_id).order_by(Department.name, User.name))
    return [(u.id, u.name, dept) for u, dept in session.execute(query).all() if u.has_role(*SIGN_ROLES)]
