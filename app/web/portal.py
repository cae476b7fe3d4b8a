"""申请人办件查询: no account, the case number plus the query code.

A right code puts the case in the session (``portal_case``, apart from any staff
login) for a short while; the pages below show only that case: its progress,
notices, results, the upload of missing materials (补正), and the rating (好差评).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from ..api.intake import notice_html_response, notice_pdf_response
from ..api.portal import portal_limit, portal_view
from ..errors import DomainError, NotFound
from ..extensions import db
from ..models import RATING_LEVELS
from ..services import cases, clock, portal, ratings
from ..services.blobs import BlobStore
from ..services.uow import run_use_case

bp = Blueprint("portal", __name__, url_prefix="/portal")
SESSION_MINUTES = 30  # how long a looked-up case stays open in the browser (elapsed time, not a legal limit)


@bp.route("/", methods=["GET", "POST"])
@portal_limit
def index():
    """办件查询：输入统一受理号码和查询码"""
    if request.method == "GET":
        return render_template("web/portal/index.html", case_no="")
    case_no = request.form.get("case_no", "").strip()
    code = request.form.get("query_code", "").strip()
    outcome, case = run_use_case(db.session, lambda: portal.check_code(
        db.session, case_no=case_no, query_code=code, now=clock.now(), client=request.remote_addr))
    if outcome != "ok":
        return render_template("web/portal/index.html", case_no=case_no[:32], error=portal.WRONG_CODE), 401
    session["portal_case"] = case.case_no
    session["portal_since"] = clock.now().isoformat()
    return redirect(url_for("portal.show"))


@bp.post("/leave")
def leave():
    """退出查询（不影响工作人员的登录）"""
    session.pop("portal_case", None)
    session.pop("portal_since", None)
    flash("已退出办件查询", "info")
    return redirect(url_for("portal.index"))


def _session_case():
    """The case this browser looked up, or None (never there, or the time is up)."""
    case_no, since = session.get("portal_case"), session.get("portal_since")
    if not case_no or not since:
        return None
    try:
        started = datetime.fromisoformat(since)
    except ValueError:
        return None
    if clock.now() - started > timedelta(minutes=SESSION_MINUTES):  # a session lifetime, not a deadline
        session.pop("portal_case", None)
        return None
    return cases.get_case(db.session, case_no)


def _render(case, status: int = 200, error: str | None = None, typed: dict | None = None):
    db.session.rollback()  # a failed use case may leave stale objects behind
    case = cases.get_case(db.session, case.case_no)
    return render_template("web/portal/case.html", view=portal_view(case), levels=RATING_LEVELS,
                           error=error, typed=typed or {}, max_comment=ratings.MAX_COMMENT_CHARS,
                           max_mb=current_app.config["MATERIAL_MAX_BYTES"] // (1024 * 1024)), status


def _signed_in_case():
    case = _session_case()
    if case is None:
        flash("请先输入统一受理号码和查询码", "info")
    return case


@bp.get("/case")
def show():
    """办件进度、文书、结果与评价"""
    case = _signed_in_case()
    if case is None:
        return redirect(url_for("portal.index"))
    return _render(case)


def _notice(notice_id: int):
    case = _session_case()
    if case is None:
        raise NotFound("文书不存在")
    return portal.notice_of_case(db.session, case, notice_id)


@bp.get("/notices/<int:notice_id>.html")
def notice_html(notice_id):
    """打印文书（仅限本次查询的办件）"""
    return notice_html_response(_notice(notice_id))


@bp.get("/notices/<int:notice_id>.pdf")
def notice_pdf(notice_id):
    """下载文书 PDF（仅限本次查询的办件）"""
    return notice_pdf_response(_notice(notice_id))


def _attempt(case, use_case, done: str, typed: dict | None = None):
    """Run a use case for the applicant; on refusal show the page again with the message."""
    try:
        run_use_case(db.session, use_case)
    except DomainError as exc:
        return _render(case, exc.status, exc.message, typed)
    flash(done, "success")
    return redirect(url_for("portal.show"))


@bp.post("/materials")
def upload():
    """上传补正材料（与窗口相同的类型、大小和文件名规则）"""
    case = _signed_in_case()
    if case is None:
        return redirect(url_for("portal.index"))
    code = request.form.get("code", "").strip()
    file = request.files.get("file")
    limit = current_app.config["MATERIAL_MAX_BYTES"]
    data = file.stream.read(limit + 1) if file else b""
    with BlobStore(current_app.config["INSTANCE_DIR"]).staged(data) as blob:  # kept by the use case
        return _attempt(case, lambda: portal.upload_material(
            db.session, case=case, code=code, filename=file.filename if file else None, data=data,
            now=clock.now(), blob=blob, max_bytes=limit), "材料已上传，全部上传后请点击“提交补正材料”", {"code": code})


@bp.post("/supplement")
def supplement():
    """提交补正材料：通知窗口重新审核"""
    case = _signed_in_case()
    if case is None:
        return redirect(url_for("portal.index"))
    return _attempt(case, lambda: portal.supplement(db.session, case=case, now=clock.now()),
                    "补正材料已提交，综合窗口将重新审核")


@bp.post("/rating")
def rate():
    """好差评：办结后评价一次"""
    case = _signed_in_case()
    if case is None:
        return redirect(url_for("portal.index"))
    comment = request.form.get("comment", "")
    raw = request.form.get("level", "")
    level = int(raw) if raw.isdigit() else None
    return _attempt(case, lambda: ratings.rate(
        db.session, case=case, level=level, comment=comment, channel="portal", actor_id=None, now=clock.now()),
        "感谢您的评价" + ("，我们将尽快核实整改并回访" if level in ratings.BAD_LEVELS else ""),
        {"level": raw, "comment": comment})
