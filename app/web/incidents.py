"""故障处理: cases stuck on an engine error with nobody to tell; analysts retry or skip, managers look."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from ..errors import DomainError
from ..extensions import db
from ..services import clock, incidents
from ..services.uow import run_use_case
from .pages import PAGE_SIZE, page_number
from .session import current_user, login_required

bp = Blueprint("incidents_page", __name__)


def _render(status_code: int = 200, error: str | None = None):
    user = current_user()
    page = page_number()
    rows = incidents.open_incidents(db.session, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    done = incidents.resolved_incidents(db.session)
    db.session.rollback()
    return render_template("web/incidents/index.html", items=rows[:PAGE_SIZE], done=done, page=page,
                           has_next=len(rows) > PAGE_SIZE, error=error,
                           may_act=user.has_role("analyst", "admin"),
                           may_read=user.has_role("admin", "manager", "clerk")), status_code


@bp.get("/incidents")
@login_required("analyst", "admin", "manager")
def index():
    """故障处理：因引擎错误停住、无人可告知的办件（如定时路径上的脚本出错）"""
    return _render()


def _act(incident_id: int, operation, done_message: str):
    user = current_user()
    try:
        run_use_case(db.session, lambda: operation(db.session, incident_id=incident_id, actor_id=user.id,
                                                   now=clock.now()))
    except DomainError as exc:
        return _render(exc.status, exc.message)
    flash(done_message, "success")
    return redirect(url_for("incidents_page.index"))


@bp.post("/incidents/<int:incident_id>/retry")
@login_required("analyst", "admin")
def retry(incident_id):
    """重试：再次执行失败的步骤"""
    return _act(incident_id, incidents.retry, "已重试，办件继续办理")


@bp.post("/incidents/<int:incident_id>/skip")
@login_required("analyst", "admin")
def skip(incident_id):
    """跳过：不执行出错的元素，视为已完成，流程继续"""
    return _act(incident_id, incidents.skip, "已跳过出错的步骤，办件继续办理")
