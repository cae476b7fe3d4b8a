"""Pages shared by the roles: home, the case list, the list of services and versions."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..extensions import db
from ..services import cases, processes, work
from .session import current_user, home_endpoint, login_required

bp = Blueprint("pages", __name__)
PAGE_SIZE = 50


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/")
def home():
    """首页：按角色进入各自的工作台"""
    user = current_user()
    return redirect(url_for(home_endpoint(user)) if user else url_for("signin.login"))


@bp.get("/cases", endpoint="cases")
@login_required("manager", "admin", "clerk")
def cases_list():
    """办件列表（可按状态、事项、受理号或申请人查找）"""
    page = page_number()
    filters = {"status": request.args.get("status") or None, "process_key": request.args.get("service") or None,
               "search": (request.args.get("q") or "").strip() or None}
    rows = cases.list_cases(db.session, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, **filters)
    names = {d.key: d.name for d in processes.latest_versions(db.session)}
    return render_template("web/cases.html", rows=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE, page=page,
                           names=names, services=processes.services(db.session), filters=filters)


@bp.get("/processes", endpoint="processes")
@login_required("analyst", "admin")
def processes_list():
    """流程与版本：谁在何时部署了哪个版本"""
    rows = []
    for latest in processes.latest_versions(db.session):
        rows.append((latest, processes.versions(db.session, latest.key)))
    deployers = work.user_names(db.session, {v.deployed_by_id for _, versions in rows for v in versions})
    return render_template("web/processes.html", rows=rows, deployers=deployers)

