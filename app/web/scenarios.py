"""模拟运行: an analyst runs one of a service's scenario files against its latest deployed version."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, request

from ..errors import DomainError
from ..extensions import db
from ..services import processes, scenarios
from .session import login_required

bp = Blueprint("scenario_page", __name__)


def _page(key: str, result=None, error=None, chosen=None, status=200):
    definition = processes.get_latest(db.session, key)  # 404 in Chinese when not deployed
    folder = Path(current_app.config["PROCESSES_DIR"])
    files = scenarios.listing(folder, key)
    db.session.rollback()  # read only
    return render_template("web/scenarios/test_run.html", definition=definition, files=files, result=result,
                           error=error, chosen=chosen, folder=f"processes/scenarios/{key}/"), status


@bp.get("/processes/<string:key>/test-run")
@login_required("analyst", "admin")
def show(key):
    """模拟运行：列出该流程的场景文件"""
    return _page(key)


@bp.post("/processes/<string:key>/test-run")
@login_required("analyst", "admin")
def run(key):
    """运行一个场景文件（沙箱中运行最新部署版本，不产生任何办件数据）"""
    filename = (request.form.get("file") or "").strip()
    if not filename:
        return _page(key, error="请选择一个场景文件", status=422)
    try:
        result = scenarios.run_file_deployed(db.session, Path(current_app.config["PROCESSES_DIR"]), key, filename)
    except DomainError as exc:
        detail = "；".join(map(str, exc.errors)) if isinstance(exc.errors, list) else ""
        return _page(key, error=exc.message + (f"：{detail}" if detail else ""), chosen=filename, status=exc.status)
    finally:
        db.session.rollback()
    return _page(key, result=result, chosen=filename)
