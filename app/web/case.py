"""The case page: facts, deadlines, tasks, materials, notices, results, the diagram and the timeline.

Everyone who may read the case (``_may_read``: staff of the hall, or a department with a task in
it) sees the page; the window (综合窗口, role clerk) also uploads materials and confirms the
applicant's supplements here. Files and notices are served with the API's own rules and headers.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from ..api.cases import _may_read, case_json
from ..api.intake import _notice_for_actor, _notification_json, case_results, notice_html_response, \
    notice_pdf_response
from ..api.materials import material_download
from ..errors import DomainError, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import RATING_LEVELS, SUSPENSION_KINDS
from ..services import calendar, cases, clock, diagram, forms, legal_time, materials, messages, notices, \
    notifications, privacy, processes, ratings, tasks
from ..services.blobs import BlobStore
from ..services.uow import run_use_case
from .words import ACTIONS
from .session import current_user, login_required

bp = Blueprint("case", __name__, url_prefix="/cases")

# what the diagram waits for, in the window's words
MESSAGE_WORDS = {"materials_supplied": "申请人补正材料", "deficiency_supplied": "申请人补齐容缺材料",
                 "rectification_done": "申请人整改完成"}
RECEIVED_WORDS = {"materials_supplied": "收到补正材料", "deficiency_supplied": "收到容缺补齐材料",
                  "rectification_done": "收到整改完成材料"}
NEEDS_MATERIALS = ("materials_supplied", "deficiency_supplied")


def _readable(case_no: str):
    row = cases.get_case(db.session, case_no)
    if not _may_read(current_user(), row):
        raise Forbidden("无权查看该办件")
    return row


# -- the timeline in plain Chinese ------------------------------------------------------

def _detail(action: str, object_id: str | None, after: dict[str, Any], names: dict[str, str]) -> str:
    """What an event adds to its action word (empty when nothing)."""
    if action.startswith("task."):  # completed, claimed, reassigned …: the task's name
        return names.get(object_id or "", after.get("element_id") or "")
    if action == "effect.accept":
        return ("逾期未告知补正，视为受理；" if after.get("mode") == "deemed" else "") + (after.get("notice") or "")
    if action == "effect.notice":
        title = notices.KINDS.get(after.get("kind"), (after.get("kind") or "",))[0]
        return f"{title} {after.get('number') or ''}".strip()
    if action == "effect.certificate":
        return after.get("number") or ""
    if action == "effect.deliver":
        how = "窗口领取" if after.get("method") == "window" else f"邮寄送达 {after.get('tracking_no') or ''}".strip()
        return f"{how}；{after.get('notice') or ''}".strip("；")
    if action == "material.uploaded":
        return f"{after.get('name', '')} 第 {after.get('version', '')} 版"
    if action == "material.certificate_attached":
        return f"{after.get('name', '')}：{after.get('certificate_number', '')}"
    if action == "message.received":
        return "、".join(names.get(c, c) for c in (after.get("data") or {}).get("materials") or [])
    if action == "case.suspended":
        return f"{after.get('kind_name', '')}：{after.get('reason', '')}"
    if action == "case.migrated":
        return f"v{after.get('version', '')}"
    if action == "case.extended":
        return f"{after.get('workdays', '')} 个工作日：{after.get('reason', '')}"
    if action.startswith("supervision."):
        return after.get("reason") or after.get("note") or ""
    if action in ("effect.credit_record", "effect.notify"):
        return after.get("reason") or after.get("subject") or ""
    return ""


def _timeline(row, user, names: dict[str, str]) -> list[dict[str, Any]]:
    items = []
    for event, actor in cases.history(db.session, row.id):
        after = privacy.mask_data(user, event.after) if isinstance(event.after, dict) else {}
        word = RECEIVED_WORDS.get(event.object_id or "") if event.action == "message.received" else None
        word = word or ACTIONS.get(event.action, event.action)
        detail = _detail(event.action, event.object_id, after, names)
        items.append({"at": event.at, "who": actor or "系统", "text": f"{word}（{detail}）" if detail else word})
    return items


# -- the page ------------------------------------------------------------------------------

def _application(definition, data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of the 一表申请 fields the case has, in form order (data already masked)."""
    schema = forms.for_definition(db.session, definition, definition.model.get("start_form_key"))
    rows = []
    for component in forms.input_fields(schema or {}):
        if component["key"] in data:
            value = data[component["key"]]
            options = {v.get("value"): v.get("label") for v in component.get("values") or []}
            shown = ("是" if value else "否") if isinstance(value, bool) else options.get(value, value)
            rows.append((component.get("label") or component["key"], shown))
    return rows


def _context(row, user) -> dict[str, Any]:
    cal = calendar.load(db.session)
    definition = processes.deployed(db.session, row.process_definition_id)
    task_rows = cases.case_tasks(db.session, row.id)
    checklist = materials.checklist(db.session, row, definition.catalog)
    names = {t.id: t.name for t in task_rows} | {m["code"]: m["name"] for m in checklist}
    case, results = case_json(row, cal), case_results(row)
    if results["delivery"]:
        results["delivery"]["delivered_at"] = datetime.fromisoformat(results["delivery"]["delivered_at"])
    return {
        "case": case, "checklist": checklist, "application": _application(definition, case["data"] or {}),
        "workable": [t for t in task_rows if t.state == "ready" and tasks.may_work(user, t)],
        "results": results, "timeline": _timeline(row, user, names),
        "notifications": [_notification_json(n, row.case_no) for n in notifications.for_case(db.session, row.id)],
        "suspensions": legal_time.suspensions(db.session, row.id), "suspension_kinds": SUSPENSION_KINDS,
        "window": user.has_role("clerk"), "running": row.status == "running",
        "message_words": MESSAGE_WORDS, "file_types": {m["code"]: _accept(m["file_types"]) for m in checklist},
        "rating": ratings.rating_of(db.session, row.id), "rating_levels": RATING_LEVELS,
        "rating_channels": ratings.CHANNELS, "max_comment": ratings.MAX_COMMENT_CHARS,
    }


def _accept(types: list[str]) -> str:
    return ",".join("." + t for t in types) + (",.jpeg" if "jpg" in types else "")


def _render(case_no: str, status: int = 200, **state: Any):
    user = current_user()
    row = _readable(case_no)
    context = {"upload_error": None, "supplement_error": None, "ticked": [], "rating_error": None,
               "rating_typed": {}, **state}
    return render_template("web/case/show.html", **_context(row, user), **context), status


@bp.get("/<string:case_no>")
@login_required()
def show(case_no):
    """办件详情"""
    return _render(case_no)


@bp.get("/<string:case_no>/receipt")
@login_required("clerk", "admin")
def receipt(case_no):
    """打印受理回执（统一受理号码与查询码）"""
    row = _readable(case_no)
    definition = processes.deployed(db.session, row.process_definition_id)
    return render_template("web/case/receipt.html", case=case_json(row),
                           checklist=materials.checklist(db.session, row, definition.catalog),
                           clerk=current_user(), printed_at=clock.now())


@bp.get("/<string:case_no>/diagram.json")
@login_required()
def diagram_json(case_no):
    """流程图与办理进度：已办、在办、超期的环节"""
    return jsonify(diagram.case_diagram(db.session, _readable(case_no), clock.now()))


# -- the window's actions ---------------------------------------------------------------

@bp.post("/<string:case_no>/materials")
@login_required("clerk")
def upload(case_no):
    """上传申请材料（同一材料再次上传即为新版本）"""
    row = _readable(case_no)
    user, code, file = current_user(), (request.form.get("code") or "").strip(), request.files.get("file")
    limit = current_app.config["MATERIAL_MAX_BYTES"]
    store = BlobStore(current_app.config["INSTANCE_DIR"])
    try:
        if file is None or not file.filename:
            raise InvalidInput("请选择要上传的文件", {"file": ["必填"]})
        data = file.stream.read(limit + 1)  # one byte more tells "too large" apart
        with store.staged(data) as blob:  # synced before the transaction, kept by it
            material = run_use_case(db.session, lambda: materials.upload(
                db.session, case=row, code=code, filename=file.filename, data=data, actor_id=user.id,
                now=clock.now(), blob=blob, max_bytes=limit))
    except DomainError as exc:
        return _render(case_no, exc.status, upload_error={"code": code, "message": exc.message})
    flash(f"已上传“{material.name}”第 {material.version} 版", "success")
    return redirect(url_for("case.show", case_no=case_no) + "#materials")


@bp.post("/<string:case_no>/messages")
@login_required("clerk")
def supplement(case_no):
    """确认申请人已补交材料（补正、容缺补齐、整改完成），办件继续办理"""
    row = _readable(case_no)
    user, name, codes = current_user(), request.form.get("name", ""), request.form.getlist("materials")
    try:
        if name in NEEDS_MATERIALS and not codes:
            raise InvalidInput("请勾选申请人已补交的材料", {"materials": ["至少勾选一项"]})
        run_use_case(db.session, lambda: messages.deliver(
            db.session, case_no=row.case_no, name=name, data={"materials": codes}, actor_id=user.id,
            now=clock.now()))
    except DomainError as exc:
        return _render(case_no, exc.status, supplement_error=exc.message, ticked=codes)
    flash(f"已确认{MESSAGE_WORDS.get(name, name)}，办件继续办理", "success")
    return redirect(url_for("case.show", case_no=case_no))


@bp.post("/<string:case_no>/rating")
@login_required("clerk")
def rate(case_no):
    """窗口评价：综合窗口录入申请人在窗口作出的好差评（评价器 / 纸质评价表）"""
    row = _readable(case_no)
    user, typed = current_user(), {"level": request.form.get("level", ""), "comment": request.form.get("comment", "")}
    level = int(typed["level"]) if typed["level"].isdigit() else None
    try:
        run_use_case(db.session, lambda: ratings.rate(db.session, case=row, level=level, comment=typed["comment"],
                                                      channel="window", actor_id=user.id, now=clock.now()))
    except DomainError as exc:
        return _render(case_no, exc.status, rating_error=exc.message, rating_typed=typed)
    bad = level in ratings.BAD_LEVELS
    flash("已记录申请人的评价" + ("，已转责任部门整改并回访" if bad else ""), "success")
    return redirect(url_for("case.show", case_no=case_no) + "#rating")


# -- files and notices, with the API's access rules -------------------------------------

@bp.get("/<string:case_no>/materials/<int:material_id>")
@login_required()
def material_file(case_no, material_id):
    """查看已上传的材料文件"""
    return material_download(material_id, case_id=_readable(case_no).id)


def _case_notice(case_no: str, notice_id: int):
    notice = _notice_for_actor(notice_id)  # 404 unknown, 403 when its case is not the user's to read
    if notice.case_id != cases.get_case(db.session, case_no).id:
        raise NotFound("文书不存在")
    return notice


@bp.get("/<string:case_no>/notices/<int:notice_id>.html")
@login_required()
def notice_html(case_no, notice_id):
    """打印文书（HTML）"""
    return notice_html_response(_case_notice(case_no, notice_id))


@bp.get("/<string:case_no>/notices/<int:notice_id>.pdf")
@login_required()
def notice_pdf(case_no, notice_id):
    """下载文书（PDF）"""
    return notice_pdf_response(_case_notice(case_no, notice_id))
