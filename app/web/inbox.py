"""Approvers' inboxes: the department's queue, soonest deadline first."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from ..extensions import db
from ..services import calendar, tasks
from ..api.cases import task_json
from .pages import PAGE_SIZE, page_number
from .session import current_user, login_required

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.get("/")
@login_required("approver", "clerk", "admin", "manager")
def index():
    """待办：本部门的任务，按期限排序"""
    user = current_user()
    page = page_number()
    cal = calendar.load(db.session)
    rows = tasks.inbox(db.session, user, state="ready", limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    items = [task_json(t, no, cal) for t, no in rows[:PAGE_SIZE]]
    return render_template("web/inbox/index.html", items=items, page=page, has_next=len(rows) > PAGE_SIZE)
