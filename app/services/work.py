"""Work on a task that the diagram does not model: 认领, 转办, 委派 / 交回, 抄送, 评论, 申请中止计时.

Each operation is one use case: it checks who is asking, takes the case's
workflow-state lock, reads the case and the task fresh, checks its rules
(refusing with a Chinese message before anything changes), and records an audit
event on the case. Who may complete a claimed or delegated task is decided in
:func:`tasks.check_may_complete`.

委派 (delegation) keeps the task's owner: ``owner_id`` is the delegator and
``assignee_id`` the delegate, who cannot complete it, only hand it back (交回)
with a comment; the owner then completes it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ..errors import Conflict, Forbidden, InvalidInput
from ..models import Case, Department, Task, TaskComment, TaskCopy, User
from .accounts import Actor
from . import audit, inputs, legal_time, tasks

COMMENT_MAX = 2000
NOTE_MAX = 500
REASON_MAX = 1000
NOTICE_MAX = 2000
COPY_MAX_RECIPIENTS = 20
WORKING_ROLES = ("approver", "clerk")


# -- who may do what ------------------------------------------------------------------

def is_worker(user: Actor, task: Task) -> bool:
    """The task's department (approvers and clerks), or the user it is assigned or delegated to/by."""
    return tasks.may_work(user, task) or user.id in (task.assignee_id, task.owner_id)


def has_task_copy(session: Session, task_id: str, user_id: int) -> bool:
    return session.execute(select(TaskCopy.id).where(TaskCopy.task_id == task_id, TaskCopy.user_id == user_id)
                           .limit(1)).first() is not None


def has_case_copy(session: Session, case_id: int, user_id: int) -> bool:
    """Whether the user was sent a copy (抄送) of any task of the case: what lets them read the case."""
    return session.execute(select(TaskCopy.id).where(TaskCopy.case_id == case_id, TaskCopy.user_id == user_id)
                           .limit(1)).first() is not None


def access(session: Session, user: Actor, task: Task) -> str:
    """``work`` for the task's workers; ``read`` for managers, admins and copy recipients; else 403."""
    if is_worker(user, task):
        return "work"
    if user.has_role("admin", "manager") or has_task_copy(session, task.id, user.id):
        return "read"
    raise Forbidden("无权查看该任务")


def may_complete(user: Actor, task: Task) -> bool:
    if task.state != "ready" or not tasks.may_work(user, task):
        return False
    try:
        tasks.check_may_complete(user, task)
    except Forbidden:
        return False
    return True


# -- helpers ----------------------------------------------------------------------------


def _require_ready(task: Task) -> None:
    if task.state != "ready":
        raise Conflict("任务已办理或已取消")


def _assignment(task: Task) -> dict[str, Any]:
    return {"assignee_id": task.assignee_id, "owner_id": task.owner_id}


def _record(session: Session, case: Case, task: Task, action: str, user: Actor, now: datetime,
            before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    audit.record(session, action=action, at=now, actor_id=user.id, case=case, object_type="task",
                 object_id=task.id, before=before, after={"element_id": task.element_id, **after})


def _colleague(session: Session, task: Task, user: Actor, target_id: Any, verb: str) -> User:
    """An active approver or clerk of the task's department, other than the one asking."""
    target = session.get(User, target_id) if isinstance(target_id, int) and not isinstance(target_id, bool) else None
    if target is None or not target.is_active:
        raise InvalidInput(f"请选择{verb}对象", {"user_id": [f"{verb}对象不存在或已停用"]})
    if target.id == user.id:
        raise InvalidInput(f"不能{verb}给自己", {"user_id": [f"不能{verb}给自己"]})
    if target.department_id != task.department_id:
        where = target.department.name if target.department else "未分配部门"
        raise InvalidInput(f"只能{verb}给本部门（{task.lane}）的人员，“{target.name}”属于{where}",
                           {"user_id": [f"“{target.name}”不是{task.lane}的人员"]})
    if not target.has_role(*WORKING_ROLES):
        raise InvalidInput(f"“{target.name}”不是审批人员或窗口人员，不能办理任务",
                           {"user_id": [f"“{target.name}”无办理任务的角色"]})
    return target


# -- 认领 / 取消认领 ---------------------------------------------------------------------

def claim(session: Session, *, task_id: str, user: Actor, now: datetime) -> Task:
    if not tasks.may_work(user, tasks.get_task(session, task_id)):
        raise Forbidden("该任务不属于您的部门")
    task, case = tasks.lock_task(session, task_id)
    _require_ready(task)
    if task.assignee_id == user.id:
        raise Conflict("您已认领该任务")
    if task.assignee_id is not None:
        raise Conflict("任务已由他人认领")
    before = _assignment(task)
    task.assignee_id, task.claimed_at = user.id, now
    _record(session, case, task, "task.claimed", user, now, before, _assignment(task))
    session.flush()
    return task


def unclaim(session: Session, *, task_id: str, user: Actor, now: datetime) -> Task:
    """The assignee gives a claimed task back to the department's queue (or a manager does)."""
    found = tasks.get_task(session, task_id)
    if not (is_worker(user, found) or user.has_role("manager", "admin")):
        raise Forbidden("该任务不属于您的部门")
    task, case = tasks.lock_task(session, task_id, unless_signing="取消认领")
    _require_ready(task)
    if task.assignee_id is None:
        raise Conflict("任务尚未被认领")
    if task.owner_id is not None:
        raise Conflict("任务正在委派中，须由受委派人交回后才能取消认领")
    if task.assignee_id != user.id and not user.has_role("manager", "admin"):
        raise Forbidden("只有认领人可以取消认领")
    before = _assignment(task)
    task.assignee_id, task.claimed_at = None, None
    _record(session, case, task, "task.unclaimed", user, now, before, _assignment(task))
    session.flush()
    return task


# -- 转办 / 委派 / 交回 -------------------------------------------------------------------

def reassign(session: Session, *, task_id: str, user: Actor, to_user_id: Any, now: datetime,
             note: str = "") -> Task:
    """转办: the task now belongs to a colleague of the same department."""
    found = tasks.get_task(session, task_id)
    if not (tasks.may_work(user, found) or user.id == found.assignee_id):
        raise Forbidden("该任务不属于您的部门")
    note = inputs.text_field(note, field="note", label="转办说明", limit=NOTE_MAX, required=False)
    task, case = tasks.lock_task(session, task_id, unless_signing="转办")
    _require_ready(task)
    if task.owner_id is not None:
        raise Conflict("任务正在委派中，交回后才能转办")
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise Forbidden("任务已由他人认领，只有认领人可以转办")
    target = _colleague(session, task, user, to_user_id, "转办")
    before = _assignment(task)
    task.assignee_id, task.claimed_at = target.id, now
    _record(session, case, task, "task.reassigned", user, now, before,
            {**_assignment(task), "assignee_name": target.name, "note": note})
    session.flush()
    return task


def delegate(session: Session, *, task_id: str, user: Actor, to_user_id: Any, now: datetime,
             note: str = "") -> Task:
    """委派: a colleague handles the task and hands it back; the delegator stays its owner."""
    if not tasks.may_work(user, tasks.get_task(session, task_id)):
        raise Forbidden("该任务不属于您的部门")
    note = inputs.text_field(note, field="note", label="委派说明", limit=NOTE_MAX, required=False)
    task, case = tasks.lock_task(session, task_id, unless_signing="委派")
    _require_ready(task)
    if task.owner_id is not None:
        raise Conflict("任务已委派他人办理")
    if task.assignee_id != user.id:
        raise Forbidden("只有任务的认领人可以委派，请先认领" if task.assignee_id is None else "任务已由他人认领")
    target = _colleague(session, task, user, to_user_id, "委派")
    before = _assignment(task)
    task.owner_id, task.assignee_id = user.id, target.id
    _record(session, case, task, "task.delegated", user, now, before,
            {**_assignment(task), "assignee_name": target.name, "note": note})
    session.flush()
    return task


def resolve(session: Session, *, task_id: str, user: Actor, comment: str, now: datetime) -> Task:
    """交回: the delegate returns the task, with a comment, to its owner, who completes it."""
    if not is_worker(user, tasks.get_task(session, task_id)):
        raise Forbidden("该任务不属于您的部门")
    body = inputs.text_field(comment, field="comment", label="办理意见", limit=COMMENT_MAX, required=True)
    task, case = tasks.lock_task(session, task_id)
    _require_ready(task)
    if task.owner_id is None:
        raise Conflict("该任务没有处于委派中")
    if task.assignee_id != user.id:
        raise Forbidden("只有受委派人可以交回")
    row = TaskComment(case_id=case.id, task_id=task.id, author_id=user.id, body=body, created_at=now)
    session.add(row)
    before = _assignment(task)
    task.assignee_id, task.owner_id, task.claimed_at = task.owner_id, None, now
    session.flush()
    _record(session, case, task, "task.resolved", user, now, before,
            {**_assignment(task), "comment_id": row.id, "comment": body})
    return task


# -- 抄送 / 评论 ----------------------------------------------------------------------------


def send_copies(session: Session, *, task_id: str, user: Actor, user_ids: Any, now: datetime,
                note: str = "") -> list[TaskCopy]:
    """抄送: a read-only copy of the task for users of any department."""
    if not is_worker(user, tasks.get_task(session, task_id)):
        raise Forbidden("只有办理该任务的人员可以抄送")
    note = inputs.text_field(note, field="note", label="抄送附言", limit=NOTE_MAX, required=False)
    people = inputs.chosen_users(session, user, user_ids, noun="抄送对象", verb="抄送",
                                 most=COPY_MAX_RECIPIENTS, not_yourself="不能抄送给自己")
    task, case = tasks.lock_task(session, task_id)
    already = set(session.execute(select(TaskCopy.user_id).where(TaskCopy.task_id == task.id)).scalars())
    fresh = [p for p in people if p.id not in already]
    if not fresh:
        raise Conflict("已抄送给所选人员")
    rows = [TaskCopy(case_id=case.id, task_id=task.id, user_id=p.id, sent_by_id=user.id, note=note, created_at=now)
            for p in fresh]
    session.add_all(rows)
    session.flush()
    _record(session, case, task, "task.copied", user, now, None,
            {"user_ids": [p.id for p in fresh], "names": [p.name for p in fresh], "note": note})
    return rows


def mark_copies_read(session: Session, *, task_id: str, user: Actor, now: datetime) -> int:
    """Reading a copied task marks the reader's copies of it read; returns how many were unread."""
    if not unread_copy_ids(session, task_id, user.id):
        return 0
    task, case = tasks.lock_task(session, task_id)
    ids = unread_copy_ids(session, task_id, user.id)
    for row in session.execute(select(TaskCopy).where(TaskCopy.id.in_(ids))).scalars():
        row.read_at = now
    if ids:
        _record(session, case, task, "task.copy_read", user, now, None, {"copy_ids": ids})
    session.flush()
    return len(ids)


def mark_copy_read(session: Session, *, copy_id: int, user: Actor, now: datetime) -> TaskCopy:
    row = session.get(TaskCopy, copy_id)
    if row is None or row.user_id != user.id:
        raise Forbidden("这不是抄送给您的任务")
    mark_copies_read(session, task_id=row.task_id, user=user, now=now)
    return row


def unread_copy_ids(session: Session, task_id: str, user_id: int) -> list[int]:
    return list(session.execute(select(TaskCopy.id).where(
        TaskCopy.task_id == task_id, TaskCopy.user_id == user_id, TaskCopy.read_at.is_(None))
        .order_by(TaskCopy.id)).scalars())


def comment(session: Session, *, task_id: str, user: Actor, body: str, now: datetime) -> TaskComment:
    if not is_worker(user, tasks.get_task(session, task_id)):
        raise Forbidden("只有办理该任务的人员可以评论")
    text = inputs.text_field(body, field="body", label="评论内容", limit=COMMENT_MAX, required=True)
    task, case = tasks.lock_task(session, task_id)
    row = TaskComment(case_id=case.id, task_id=task.id, author_id=user.id, body=text, created_at=now)
    session.add(row)
    session.flush()
    _record(session, case, task, "task.commented", user, now, None, {"comment_id": row.id, "body": text})
    return row


# -- 申请中止计时 -----------------------------------------------------------------------------

def request_suspension(session: Session, *, task_id: str, user: Actor, kind: str, reason: str,
                       notice: str, now: datetime):
    """特别程序 (听证、检验检测鉴定、专家评审、补正、现场勘验): stop the case's clock from a task."""
    if not is_worker(user, tasks.get_task(session, task_id)):
        raise Forbidden("该任务不属于您的部门")
    reason = inputs.text_field(reason, field="reason", label="中止计时理由", limit=REASON_MAX, required=True)
    notice = inputs.text_field(notice, field="notice", label="书面告知内容", limit=NOTICE_MAX, required=False)
    task, case = tasks.lock_task(session, task_id)
    if task.state != "ready":
        raise Conflict("任务已办理或已取消，不能申请中止计时")
    return legal_time.suspend_case(session, case, kind=kind, reason=reason, notice=notice,
                                   actor_id=user.id, now=now)


# -- reading ------------------------------------------------------------------------------

def comments(session: Session, task_id: str) -> list[dict[str, Any]]:
    query = (select(TaskComment, User.name).join(User, User.id == TaskComment.author_id)
             .where(TaskComment.task_id == task_id).order_by(TaskComment.created_at, TaskComment.id))
    return [{"id": c.id, "task_id": c.task_id, "author_id": c.author_id, "author_name": name, "body": c.body,
             "created_at": c.created_at} for c, name in session.execute(query).all()]


def task_copies(session: Session, task_id: str) -> list[dict[str, Any]]:
    """Who a task was copied to, by whom, and whether they have read it."""
    sender = aliased(User)
    query = (select(TaskCopy, User.name, sender.name).join(User, User.id == TaskCopy.user_id)
             .join(sender, sender.id == TaskCopy.sent_by_id).where(TaskCopy.task_id == task_id)
             .order_by(TaskCopy.id))
    return [{"id": c.id, "task_id": c.task_id, "user_id": c.user_id, "user_name": to, "sent_by_name": by,
             "note": c.note, "created_at": c.created_at, "read_at": c.read_at}
            for c, to, by in session.execute(query).all()]


def copies_for(session: Session, user_id: int, *, unread_only: bool = False, copy_id: int | None = None,
               limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """抄送我的: one page in one query, unread first, newest first."""
    sender = aliased(User)
    query = (select(TaskCopy, Task.name, Task.lane, Task.state, Case.case_no, Case.applicant_name, sender.name)
             .join(Task, Task.id == TaskCopy.task_id).join(Case, Case.id == TaskCopy.case_id)
             .join(sender, sender.id == TaskCopy.sent_by_id).where(TaskCopy.user_id == user_id))
    if unread_only:
        query = query.where(TaskCopy.read_at.is_(None))
    if copy_id is not None:
        query = query.where(TaskCopy.id == copy_id)
    query = query.order_by(TaskCopy.read_at.is_not(None), TaskCopy.created_at.desc(), TaskCopy.id.desc())
    return [{"id": c.id, "task_id": c.task_id, "task_name": name, "lane": lane, "task_state": state,
             "case_no": case_no, "applicant_name": applicant, "sent_by_name": by, "note": c.note,
             "created_at": c.created_at, "read_at": c.read_at}
            for c, name, lane, state, case_no, applicant, by in session.execute(
                query.limit(limit).offset(offset)).all()]


def colleagues(session: Session, department_id: int | None, exclude_id: int) -> list[User]:
    """Active approvers and clerks of a department: whom a task may be handed or delegated to."""
    if department_id is None:
        return []
    rows = session.execute(select(User).where(User.department_id == department_id, User.is_active.is_(True),
                                              User.id != exclude_id).order_by(User.name)).scalars()
    return [u for u in rows if u.has_role(*WORKING_ROLES)]


def copy_candidates(session: Session, exclude_id: int) -> list[tuple[int, str, str]]:
    """(id, name, department name) of every active user but the one asking, by department."""
    query = (select(User.id, User.name, Department.name).outerjoin(Department, Department.id == User.department_id)
             .where(User.is_active.is_(True), User.id != exclude_id)
             .order_by(Department.name.asc().nulls_last(), User.name))
    return [(i, name, dept or "未分配部门") for i, name, dept in session.execute(query).all()]


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


def user_id_for(session: Session, username: str, field: str = "username") -> int:
    found = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if found is None:
        raise InvalidInput(f"用户“{username}”不存在", {field: [f"用户“{username}”不存在"]})
    return found


def countersign_size(session: Session, task: Task) -> int:
    """How many instances of the same multi-instance task (会签) were offered in the same round."""
    return session.execute(select(func.count()).select_from(Task).where(
        Task.case_id == task.case_id, Task.element_id == task.element_id,
        Task.created_at == task.created_at)).scalar_one()
