"""Approvers' inboxes: 部门待办, 我的待办 and 抄送我的, soonest deadline first."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..extensions import db
from ..services import calendar, clock, deadlines, processes, tasks, work
from ..api.cases import task_json
from .pages import PAGE_SIZE, page_number
from .session import current_user, login_required

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

TABS = (("department", "部门待办"), ("mine", "我的待办"), ("copies", "抄送我的"))


def _filters() -> dict:
    tab = request.args.get("tab") or "department"
    return {"tab": tab if tab in dict(TABS) else "department",
            "service": (request.args.get("service") or "").strip()[:128],
            "overdue": request.args.get("overdue") == "1",
            "q": (request.args.get("q") or "").strip()[:64]}


def _task_rows(user, filters: dict, page: int, services) -> list[dict]:
    """One query for the rows; names and warning ratios come from the (cached) deployed versions."""
    rows = tasks.inbox_rows(db.session, user, view=filters["tab"], process_key=filters["service"] or None,
                            overdue_at=clock.now() if filters["overdue"] else None, search=filters["q"] or None,
                            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    cal = calendar.load(db.session)
    names = {d.key: d.name for d in services}
    items = []
    for task, case_no, applicant, key, definition_id in rows:
        ratio = deadlines.warn_ratio(processes.deployed(db.session, definition_id).catalog)
        items.append({**task_json(task, case_no, cal, ratio), "applicant_name": applicant,
                      "service_name": names.get(key, key), "assignee_id": task.assignee_id,
                      "owner_id": task.owner_id, "may_claim": tasks.may_work(user, task) and task.assignee_id is None,
                      "may_unclaim": task.assignee_id == user.id and task.owner_id is None})
    return items


@bp.get("/")
@login_required("approver", "clerk", "admin", "manager")
def index():
    """待办：部门待办、我的待办、抄送我的"""
    user = current_user()
    page, filters = page_number(), _filters()
    services = processes.latest_versions(db.session)
    if filters["tab"] == "copies":
        items = work.copies_for(db.session, user.id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    else:
        items = _task_rows(user, filters, page, services)
    args = {k: v for k, v in (("tab", filters["tab"]), ("service", filters["service"]),
                              ("overdue", "1" if filters["overdue"] else ""), ("q", filters["q"])) if v}
    return render_template("web/inbox/index.html", items=items[:PAGE_SIZE], has_next=len(items) > PAGE_SIZE,
                           page=page, tabs=TABS, filters=filters, args=args, here=request.full_path, me=user.id,
                           services=[d for d in services if d.model.get("start_form_key")])
