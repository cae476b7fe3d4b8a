"""好差评 (国办发〔2019〕51号): one rating per completed case, and the follow-up of a bad one.

Five levels, 非常满意 (5) … 非常不满意 (1); 不满意 and 非常不满意 are bad. A bad rating opens
a follow-up (整改) for the responsible department — the catalog's ``lead_department``, else
the department of the case's last completed task — due N working days later (the catalog's
``supervision.rating_followup_workdays``, default 5), and the applicant is told it will be
followed up. The department's approver resolves it with what was rectified.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import RATING_LEVELS, AuditEvent, Case, Department, FollowUp, Rating, Task, User
from . import accounts, audit, calendar, cases, notifications, processes
from .clock import local

BAD_LEVELS = (1, 2)
DEFAULT_FOLLOWUP_WORKDAYS = 5
MAX_COMMENT_CHARS = 500
MAX_RESOLUTION_CHARS = 2000
CHANNELS = {"portal": "网上评价", "window": "窗口评价"}
FOLLOW_UP_STATUSES = {"open": "待整改", "done": "已整改"}


def followup_workdays(catalog: dict[str, Any] | None) -> int:
    """The rectification limit in working days (``supervision.rating_followup_workdays``)."""
    value = ((catalog or {}).get("supervision") or {}).get("rating_followup_workdays")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
        return DEFAULT_FOLLOWUP_WORKDAYS
    return value


def responsible_department(session: Session, case: Case, catalog: dict[str, Any] | None) -> Department | None:
    """The catalog's lead department (by name or code), else that of the last completed task."""
    lead = (catalog or {}).get("lead_department")
    if lead:
        found = accounts.department_lookup(session).get(str(lead))
        if found is not None:
            return found
    # the newest completion; tasks completed at the same moment in the order the audit log has them
    done = and_(AuditEvent.case_id == case.id, AuditEvent.action == "task.completed", AuditEvent.object_id == Task.id)
    return session.execute(
        select(Department).join(Task, Task.department_id == Department.id).outerjoin(AuditEvent, done)
        .where(Task.case_id == case.id, Task.state == "completed")
        .order_by(Task.completed_at.desc().nulls_last(), AuditEvent.id.desc().nulls_last()).limit(1)
    ).scalar_one_or_none()


def _clean(level: Any, comment: Any) -> tuple[int, str]:
    if isinstance(level, bool) or not isinstance(level, int) or level not in RATING_LEVELS:
        raise InvalidInput("请选择评价等级（非常满意、满意、基本满意、不满意、非常不满意）", {"level": ["必选"]})
    text = comment.strip() if isinstance(comment, str) else ""
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"评价内容不能超过 {MAX_COMMENT_CHARS} 字（现为 {len(text)} 字）",
                           {"comment": [f"最多 {MAX_COMMENT_CHARS} 字"]})
    return level, text


def rating_of(session: Session, case_id: int) -> Rating | None:
    return session.execute(select(Rating).where(Rating.case_id == case_id)).scalar_one_or_none()


def rate(session: Session, *, case: Case, level: Any, comment: Any, channel: str,
         actor_id: int | None, now: datetime) -> Rating:
    """Record the case's one rating; a bad one opens a follow-up and tells the applicant."""
    if channel not in CHANNELS:
        raise InvalidInput("未知的评价渠道")
    cases.lock(session, case.id)  # one rating per case, and the audit chain
    case = session.get(Case, case.id, populate_existing=True)
    if case.status != "completed":
        raise Conflict("办件办结后才能评价")
    if rating_of(session, case.id) is not None:
        raise Conflict("该办件已评价")
    level, text = _clean(level, comment)
    rating = Rating(case_id=case.id, level=level, comment=text, channel=channel, created_at=now)
    session.add(rating)
    session.flush()
    audit.record(session, action="rating.created", at=now, actor_id=actor_id, case=case, object_type="rating",
                 object_id=rating.id, after={"level": level, "level_name": RATING_LEVELS[level],
                                             "comment": text, "channel": channel})
    if level in BAD_LEVELS:
        _open_follow_up(session, case, rating, actor_id, now)
    return rating


def _open_follow_up(session: Session, case: Case, rating: Rating, actor_id: int | None,
                    now: datetime) -> FollowUp:
    definition = processes.deployed(session, case.process_definition_id)
    department = responsible_department(session, case, definition.catalog)
    if department is None:
        raise Conflict("无法确定负责整改的部门，请联系大厅工作人员")
    workdays = followup_workdays(definition.catalog)
    due = calendar.load(session).deadline(now, workdays, "workday")
    row = FollowUp(case_id=case.id, rating_id=rating.id, department_id=department.id, due_at=due,
                   status="open", resolution="", created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, action="followup.opened", at=now, actor_id=actor_id, case=case,
                 object_type="follow_up", object_id=row.id,
                 after={"department": department.name, "due_at": due.isoformat(), "workdays": workdays,
                        "level": rating.level})
    day = local(due)
    notifications.notify_applicant(
        session, case, subject=f"评价回访告知（{case.case_no}）", now=now,
        body=(f"您对“{definition.name}”办件（{case.case_no}）的评价为“{RATING_LEVELS[rating.level]}”。"
              f"我们已交{department.name}核实整改，将于{day.year}年{day.month}月{day.day}日前回访并告知处理结果。"))
    return row


def follow_up_of(session: Session, rating_id: int) -> FollowUp | None:
    return session.execute(select(FollowUp).where(FollowUp.rating_id == rating_id)).scalar_one_or_none()


def follow_ups(session: Session, *, department_id: int | None = None, status: str | None = "open",
               follow_up_id: int | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Follow-ups with what a list needs, in one query: open ones soonest deadline first."""
    query = (select(FollowUp, Case.case_no, Case.process_definition_id, Department.name, Rating.level,
                    Rating.comment, Rating.channel, User.name)
             .join(Case, Case.id == FollowUp.case_id).join(Department, Department.id == FollowUp.department_id)
             .join(Rating, Rating.id == FollowUp.rating_id).outerjoin(User, User.id == FollowUp.resolved_by_id)
             .limit(limit).offset(offset))
    if department_id is not None:
        query = query.where(FollowUp.department_id == department_id)
    if status:
        query = query.where(FollowUp.status == status)
    if follow_up_id is not None:
        query = query.where(FollowUp.id == follow_up_id)
    query = query.order_by(FollowUp.due_at, FollowUp.id) if status == "open" else \
        query.order_by(FollowUp.created_at.desc(), FollowUp.id.desc())
    rows = []
    for fu, case_no, definition_id, dept, level, comment, channel, resolver in session.execute(query).all():
        rows.append({"id": fu.id, "case_no": case_no, "service_name": processes.deployed(session, definition_id).name,
                     "department_id": fu.department_id, "department": dept, "level": level,
                     "level_name": RATING_LEVELS.get(level, ""), "comment": comment, "channel": channel,
                     "status": fu.status, "status_word": FOLLOW_UP_STATUSES.get(fu.status, fu.status),
                     "created_at": fu.created_at, "due_at": fu.due_at, "resolution": fu.resolution,
                     "resolved_by": resolver, "resolved_at": fu.resolved_at})
    return rows


def resolve(session: Session, *, follow_up_id: int, resolution: Any, actor: accounts.Actor,
            now: datetime) -> FollowUp:
    """整改完成: the responsible department's approver records what was rectified."""
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        raise NotFound("整改事项不存在")
    if not actor.has_role("approver") or actor.department_id != row.department_id:
        raise Forbidden("只有负责整改部门的审批人员可以办理该整改事项")
    text = resolution.strip() if isinstance(resolution, str) else ""
    if not text:
        raise InvalidInput("请填写整改情况", {"resolution": ["必填"]})
    if len(text) > MAX_RESOLUTION_CHARS:
        raise InvalidInput(f"整改情况不能超过 {MAX_RESOLUTION_CHARS} 字", {"resolution": [f"最多 {MAX_RESOLUTION_CHARS} 字"]})
    cases.lock(session, row.case_id)
    case = session.get(Case, row.case_id, populate_existing=True)
    row = session.get(FollowUp, follow_up_id, populate_existing=True)
    if row.status != "open":
        raise Conflict("该整改事项已办结")
    row.status, row.resolution, row.resolved_by_id, row.resolved_at = "done", text, actor.id, now
    audit.record(session, action="followup.resolved", at=now, actor_id=actor.id, case=case,
                 object_type="follow_up", object_id=row.id, after={"resolution": text})
    notifications.notify_applicant(
        session, case, subject=f"评价整改结果（{case.case_no}）", now=now,
        body=f"您对办件（{case.case_no}）反映的问题已整改：{text}")
    session.flush()
    return row
