"""申请人办件查询: the applicant's view of one case, reached with its number and query code.

No account: the unified case number (统一受理号码) plus the 6-digit query code printed
on the acceptance notice. The code is compared in constant time; every wrong code is
kept as a ``portal.failed`` audit event on the case, and 10 of them within 15 minutes
lock the case's lookup (in the database, so the lock holds across workers). A wrong
code, an unknown number and a locked case all get the same answer, so the answer
never tells whether a case number exists.
"""
from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..models import AuditEvent, Case, Certificate, Delivery, Department, Material, Notice, Task
from . import audit, calendar, cases, materials, messages, notices, privacy, processes
from .blobs import StagedBlob

MAX_FAILED_CODES = 10
LOCK_MINUTES = 15
FAILED_ACTION = "portal.failed"
WRONG_CODE = "受理号码或查询码不正确"
MATERIAL_MESSAGES = ("materials_supplied", "deficiency_supplied")
REQUEST_KINDS = ("correction", "deficiency")  # notices that ask the applicant for materials
_DUMMY_CODE = b"000000"
STATUS_WORDS = {"running": "办理中", "completed": "已办结", "terminated": "已终止"}
MATERIAL_STATUS_WORDS = {"uploaded": "已提交", "certificate": "电子证照免提交", "missing": "未提交"}


# -- the code check ------------------------------------------------------------------

def failed_attempts(session: Session, case_id: int, now: datetime) -> int:
    """Wrong codes for the case within the lock window."""
    # a security lockout in elapsed minutes, not a legal deadline
    since = now - timedelta(minutes=LOCK_MINUTES)
    return session.execute(select(func.count(AuditEvent.id)).where(
        AuditEvent.case_id == case_id, AuditEvent.action == FAILED_ACTION, AuditEvent.at > since)).scalar_one()


def check_code(session: Session, *, case_no: str, query_code: str, now: datetime,
               client: str | None = None) -> tuple[str, Case | None]:
    """("ok", case), ("failed", None) or ("locked", None); the caller commits in every case,
    so that a wrong code is counted. Callers show one message for all but "ok"."""
    case_no, code = (case_no or "").strip()[:32], (query_code or "").strip()[:16].encode()
    case = session.execute(select(Case).where(Case.case_no == case_no)).scalar_one_or_none() if case_no else None
    if case is None:
        hmac.compare_digest(_DUMMY_CODE, code)  # the same work as for a real case
        return "failed", None
    cases.lock(session, case.id)  # the audit chain needs the case lock
    case = session.get(Case, case.id, populate_existing=True)
    if failed_attempts(session, case.id, now) >= MAX_FAILED_CODES:
        return "locked", None  # even the right code, until the window has passed
    if case.query_code and hmac.compare_digest(case.query_code.encode(), code):
        return "ok", case
    audit.record(session, action=FAILED_ACTION, at=now, actor_id=None, case=case, object_type="case",
                 object_id=case.case_no, after={"client": client})
    return "failed", None


# -- what the applicant sees ------------------------------------------------------------

def waiting_for_materials(case: Case) -> str | None:
    """The message the case waits for from the applicant (补正 / 容缺补齐), if any."""
    for name in case.waiting_messages or []:
        if name in MATERIAL_MESSAGES:
            return name
    return None


def holders(session: Session, case_id: int) -> list[str]:
    """The departments that have the case now: those of its ready tasks, in task order."""
    rows = session.execute(select(Task.lane, Department.name)
                           .outerjoin(Department, Department.id == Task.department_id)
                           .where(Task.case_id == case_id, Task.state == "ready")
                           .order_by(Task.created_at, Task.id)).all()
    return list(dict.fromkeys(name or lane for lane, name in rows if name or lane))


def remaining_words(cal: calendar.WorkCalendar, start: datetime, deadline: datetime) -> str:
    """Office time from ``start`` to ``deadline`` in working days, hours and minutes."""
    minutes = cal.work_minutes_between(start, deadline)
    daily = int(cal.office.daily.total_seconds() // 60)
    days, rest = divmod(minutes, daily)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} 个工作日"] if days else []) + ([f"{hours} 小时"] if hours else []) + \
            ([f"{mins} 分钟"] if mins and not days else [])
    return " ".join(parts) or "不足 1 分钟"


def time_left(cal: calendar.WorkCalendar, case: Case, now: datetime) -> dict[str, Any] | None:
    """How much office time is left until the promised deadline (a suspended clock stands still)."""
    if case.status != "running" or case.deadline is None:
        return None
    moment = case.suspended_at or now
    if moment >= case.deadline:
        return {"overdue": True, "text": "已超过承诺办结期限", "deadline": case.deadline}
    return {"overdue": False, "text": f"剩余 {remaining_words(cal, moment, case.deadline)}（按工作时间计算）",
            "deadline": case.deadline, "suspended": case.suspended_at is not None}


def _intake_step(case: Case, waiting: str | None, at_desk: list[str]) -> dict[str, Any]:
    if case.accepted_at is not None:
        note = "逾期未告知补正，视为受理" if case.acceptance == "deemed" else "已受理"
        return {"name": "受理", "state": "done", "at": case.accepted_at, "note": note}
    if case.status != "running":
        return {"name": "受理", "state": "stopped", "at": None,
                "note": "不予受理" if case.status == "completed" else "已终止"}
    note = "等待您补正材料" if waiting else (f"{'、'.join(at_desk)}正在审核材料" if at_desk else "审核材料中")
    return {"name": "受理", "state": "current", "at": None, "note": note}


def steps(case: Case, waiting: str | None, now_at: list[str]) -> list[dict[str, Any]]:
    """收件 → 受理 → 各部门办理 → 出件/办结, each done, current, todo or stopped."""
    accepted, status = case.accepted_at is not None, case.status
    work = {"name": "各部门办理", "state": "todo", "at": None, "note": ""}
    finish = {"name": "出件/办结", "state": "todo", "at": None, "note": ""}
    if accepted and status == "running":
        work.update(state="current", note=("正在办理：" + "、".join(now_at)) if now_at else (
            "等待您补交材料" if waiting else "办理中"))
    elif accepted and status == "completed":
        work.update(state="done", note="已办理")
        finish.update(state="done", at=case.completed_at, note="已办结")
    elif status != "running":
        work.update(state="stopped")
        finish.update(state="stopped", at=case.completed_at, note=STATUS_WORDS[status])
    return [{"name": "收件", "state": "done", "at": case.created_at, "note": "已收到申请材料"},
            _intake_step(case, waiting, now_at), work, finish]


def _results(session: Session, case_id: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    certs = session.execute(select(Certificate).where(Certificate.case_id == case_id)
                            .order_by(Certificate.id)).scalars().all()
    delivery = session.execute(select(Delivery).where(Delivery.case_id == case_id)).scalar_one_or_none()
    return ([{"type_name": c.type_name, "number": c.number, "status": c.status,
              "status_word": "有效" if c.status == "valid" else "已撤销"} for c in certs],
            None if delivery is None else {
                "method": delivery.method, "method_word": "窗口领取" if delivery.method == "window" else "邮寄送达",
                "tracking_no": delivery.tracking_no, "delivered_at": delivery.delivered_at,
                "results": delivery.results or []})


def request_notice(session: Session, case_id: int) -> Notice | None:
    """The newest notice that asked the applicant for materials (一次性告知书 / 容缺受理承诺书)."""
    return session.execute(select(Notice).where(Notice.case_id == case_id, Notice.kind.in_(REQUEST_KINDS))
                           .order_by(Notice.id.desc()).limit(1)).scalar_one_or_none()


def view(session: Session, case: Case, now: datetime) -> dict[str, Any]:
    """Everything the portal shows for one case; ID number and phone masked."""
    definition = processes.deployed(session, case.process_definition_id)
    waiting = waiting_for_materials(case) if case.status == "running" else None
    now_at = holders(session, case.id) if case.status == "running" else []
    certificates, delivery = _results(session, case.id)
    asked = request_notice(session, case.id) if waiting else None
    checklist = materials.checklist(session, case, definition.catalog) if waiting else []
    return {
        "case_no": case.case_no, "service_name": definition.name, "status": case.status,
        "status_word": STATUS_WORDS.get(case.status, case.status),
        "applicant": privacy.applicant_view(None, case.applicant_name, case.applicant_id_number,
                                            case.applicant_phone),
        "created_at": case.created_at, "accepted_at": case.accepted_at, "completed_at": case.completed_at,
        "deadline": case.deadline, "suspended": case.suspended_at is not None,
        "steps": steps(case, waiting, now_at), "holders": now_at,
        "time_left": time_left(calendar.load(session), case, now),
        "waiting": waiting, "requested": asked.items if asked else [],
        "checklist": [{"code": m["code"], "name": m["name"], "required": m["required"],
                       "file_types": m["file_types"], "status": m["status"],
                       "status_word": MATERIAL_STATUS_WORDS.get(m["status"], m["status"])} for m in checklist],
        "notices": [{"id": n.id, "kind": n.kind, "title": n.title, "number": n.number, "issued_at": n.issued_at}
                    for n in notices.for_case(session, case.id)],
        "certificates": certificates, "delivery": delivery,
    }


def notice_of_case(session: Session, case: Case, notice_id: int) -> Notice:
    """A notice of this case; another case's notice is "not found", like an unknown one."""
    notice = notices.get(session, notice_id)
    if notice.case_id != case.id:
        raise NotFound("文书不存在")
    return notice


# -- what the applicant does -----------------------------------------------------------

def _require_waiting(session: Session, case: Case) -> tuple[Case, str]:
    cases.lock(session, case.id)
    case = session.get(Case, case.id, populate_existing=True)
    waiting = waiting_for_materials(case) if case.status == "running" else None
    if waiting is None:
        raise Conflict("办件当前不需要补交材料")
    return case, waiting


def upload_material(session: Session, *, case: Case, code: str, filename: str | None, data: bytes,
                    now: datetime, blob: StagedBlob, max_bytes: int) -> Material:
    """The applicant uploads a material while the case waits for one (same rules as the window)."""
    case, _ = _require_waiting(session, case)
    if not code:
        raise InvalidInput("请选择要上传的材料", {"code": ["必选"]})
    return materials.upload(session, case=case, code=code, filename=filename, data=data, actor_id=None,
                            now=now, blob=blob, max_bytes=max_bytes)


def supplied_codes(session: Session, case: Case) -> list[str]:
    """Materials uploaded since the notice that asked for them (in catalog code order)."""
    asked = request_notice(session, case.id)
    since = asked.issued_at if asked else case.created_at
    return list(session.execute(select(Material.code).where(
        Material.case_id == case.id, Material.source == "upload", Material.uploaded_at >= since)
        .distinct().order_by(Material.code)).scalars())


def supplement(session: Session, *, case: Case, now: datetime) -> Case:
    """提交补正材料: tell the case the materials are in (the message the diagram waits for)."""
    case, waiting = _require_waiting(session, case)
    asked = request_notice(session, case.id)
    if asked is not None and len(case.waiting_messages or []) > 1:
        wanted = "deficiency_supplied" if asked.kind == "deficiency" else "materials_supplied"
        waiting = wanted if wanted in case.waiting_messages else waiting
    codes = supplied_codes(session, case)
    if not codes:
        raise InvalidInput("请先上传需要补正的材料，再提交", {"materials": ["尚未上传补正材料"]})
    return messages.deliver(session, case_no=case.case_no, name=waiting, data={"materials": codes},
                            actor_id=None, now=now)
