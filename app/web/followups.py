"""差评整改: bad ratings' follow-ups, for the responsible department (and all of them for managers)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..errors import DomainError
from ..extensions import db
from ..services import calendar, clock, deadlines, ratings
from ..services.uow import run_use_case
from .pages import PAGE_SIZE, page_number
from .session import current_user, login_required

bp = Blueprint("followups", __name__)
STATUSES = ("open", "done")


def _render(status_code: int = 200, error: str | None = None, failed_id: int | None = None, typed: str = ""):
    user = current_user()
    status = request.args.get("status", "open")
    status = status if status in STATUSES else "open"
    page = page_number()
    department = None if user.has_role("manager", "admin") else (user.department_id or -1)
    rows = ratings.follow_ups(db.session, department_id=department, status=status,
                              limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    cal, now = calendar.load(db.session), clock.now()
    items = [{**row, "light": deadlines.light(cal, row["created_at"], row["due_at"], now)
              if row["status"] == "open" else None,
              "may_resolve": row["status"] == "open" and user.has_role("approver")
              and user.department_id == row["department_id"]} for row in rows[:PAGE_SIZE]]
    return render_template("web/followups/index.html", items=items, status=status, page=page,
                           has_next=len(rows) > PAGE_SIZE, error=error, failed_id=failed_id, typed=typed,
                           all_departments=department is None), status_code


@bp.get("/follow-ups")
@login_required("approver", "clerk", "manager", "admin")
def index():
    """差评整改：本部门待整改的差评，按整改期限排序"""
    return _render()


@bp.post("/follow-ups/<int:follow_up_id>/resolve")
@login_required("approver")
def resolve(follow_up_id):
    """提交整改情况"""
    text = request.form.get("resolution", "")
    user = current_user()
    try:
        run_use_case(db.session, lambda: ratings.resolve(db.session, follow_up_id=follow_up_id, resolution=text,
                                                         actor=user, now=clock.now()))
    except DomainError as exc:
        db.session.rollback()
        return _render(exc.status, exc.message, follow_up_id, text)
    flash("整改情况已提交，已告知申请人", "success")
    return redirect(url_for("followups.index"))
