"""迁移: an analyst moves running cases of an older version of a service to its newest version."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..errors import DomainError, NotFound
from ..extensions import db
from ..services import clock, migration, processes
from .session import current_user, login_required

bp = Blueprint("migration_page", __name__)


def _versions(key: str):
    versions = processes.versions(db.session, key)
    if not versions:
        raise NotFound(f"流程“{key}”不存在或尚未部署")
    return versions


def _source_version(versions) -> int | None:
    raw = request.values.get("from_version", "")
    if raw.isdigit():
        return int(raw)
    older = [v.version for v in versions[1:]]
    return older[0] if older else None


@bp.get("/processes/<string:key>/migrate")
@login_required("analyst", "admin")
def show(key):
    """迁移：选择源版本，预览哪些办件可迁移到最新版本"""
    versions = _versions(key)
    source = _source_version(versions)
    preview, error, status = None, None, 200
    if source is not None:
        try:
            preview = migration.preview(db.session, key=key, from_version=source, now=clock.now())
        except DomainError as exc:
            error, status = exc.message, exc.status
        db.session.rollback()
    return render_template("web/migration/show.html", key=key, versions=versions, latest=versions[0],
                           source=source, preview=preview, error=error), status


@bp.post("/processes/<string:key>/migrate")
@login_required("analyst", "admin")
def apply(key):
    """执行迁移：把所选办件迁到最新版本（每件一个事务，逐件记入审计）"""
    versions = _versions(key)
    source = _source_version(versions)
    chosen = [no for no in request.form.getlist("case_no") if no]
    user = current_user()
    if not chosen:
        error = "请至少选择一个办件"
        preview = migration.preview(db.session, key=key, from_version=source, now=clock.now()) if source else None
        db.session.rollback()
        return render_template("web/migration/show.html", key=key, versions=versions, latest=versions[0],
                               source=source, preview=preview, error=error), 422
    try:
        result = migration.run(db.session, key=key, from_version=source, case_numbers=chosen,
                               actor_id=user.id, now=clock.now())
    except DomainError as exc:
        db.session.rollback()
        return render_template("web/migration/show.html", key=key, versions=versions, latest=versions[0],
                               source=source, preview=None, error=exc.message), exc.status
    return render_template("web/migration/result.html", key=key, result=result, latest=versions[0])
