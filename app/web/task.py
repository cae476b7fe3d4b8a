"""The task page: what a department needs to decide, the form, and the work around it
(认领, 转办, 委派 / 交回, 加签, 撤回, 抄送, 评论, 申请中止计时), and the 加签待办 list."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ..errors import Conflict, Forbidden, InvalidInput
from ..extensions import db
from ..models import OPEN_SIGN_STATUSES, SUSPENSION_KINDS, Case
from ..services import (calendar, cases, clock, deadlines, forms, materials, privacy, processes, signing, tasks,
                        withdraw, work)
from ..services.uow import run_use_case
from ..api.cases import task_json
from .words import ACTIONS
from .session import current_user, login_required

bp = Blueprint("task", __name__, url_prefix="/tasks")



def _labels(definition) -> dict[str, tuple[str, dict]]:
    """Field key → (label, {option value: option label}) over every form of the version."""
    found: dict[str, tuple[str, dict]] = {}
    for schema in definition.forms.values():
        for comp in forms.input_fields(schema):
            options = {str(v.get("value")): v.get("label", v.get("value")) for v in comp.get("values", [])}
            found.setdefault(comp["key"], (comp.get("label") or comp["key"], options))
    return found


def _shown(value: Any, options: dict) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_shown(v, options) for v in value)
    if value is None:
        return ""
    return str(options.get(str(value), value))


def _case_fields(user, definition, data: dict) -> list[tuple[str, str]]:
    labels = _labels(definition)
    rows = []
    for key, value in privacy.mask_data(user, data).items():
        label, options = labels.get(key, (key, {}))
        rows.append((label, _shown(value, options)))
    return rows


def _detail(after: Any) -> str:
    """A few words about a work event (who it went to); never the case data itself."""
    if not isinstance(after, dict):
        return ""
    if after.get("assignee_name"):
        return f"给 {after['assignee_name']}"
    if after.get("names"):
        return "给 " + "、".join(after["names"])
    return after.get("kind_name") or ""


def _history(case_id: int) -> list[dict]:
    return [{"at": e.at, "action": ACTIONS.get(e.action, e.action), "actor": actor or "系统",
             "detail": _detail(e.after)} for e, actor in cases.history(db.session, case_id)]


def _materials(case_id: int) -> list[dict]:
    rows = []
    for code, versions in materials.case_materials(db.session, case_id).items():
        latest = versions[-1]
        rows.append({"code": code, "name": latest.name, "id": latest.id, "version": latest.version,
                     "source": latest.source, "display_name": latest.display_name, "uploaded_at": latest.uploaded_at})
    return rows


def _context(user, task, mode: str) -> dict:
    case = db.session.get(Case, task.case_id)
    definition = processes.deployed(db.session, case.process_definition_id)
    detail = tasks.task_detail(db.session, task, case)
    cal = calendar.load(db.session)
    worker = mode == "work"
    open_ = task.state == "ready"
    return {
        "task": task_json(task, case.case_no, cal, deadlines.warn_ratio(definition.catalog)), "row": task,
        "mode": mode, "case": case, "service_name": detail["service_name"], "matter": detail["matter"],
        "applicant": privacy.applicant_view(user, case.applicant_name, case.applicant_id_number, case.applicant_phone),
        "fields": _case_fields(user, definition, detail["case_data"]),
        "form": detail["form"] or {"type": "default", "components": []},
        "may_complete": worker and work.may_complete(user, task),
        "may_claim": open_ and task.assignee_id is None and tasks.may_work(user, task),
        "may_unclaim": open_ and task.assignee_id is not None and task.owner_id is None
        and (task.assignee_id == user.id or user.has_role("manager", "admin")),
        "names": work.user_names(db.session, {task.assignee_id, task.owner_id, task.completed_by_id}),
        "countersign": work.countersign_size(db.session, task), "materials": _materials(case.id),
        "history": _history(case.id), "comments": work.comments(db.session, task.id),
        "copies": work.task_copies(db.session, task.id), "me": user.id,
        "colleagues": work.colleagues(db.session, task.department_id, user.id) if worker else [],
        "candidates": work.copy_candidates(db.session, user.id) if worker else [],
        "kinds": SUSPENSION_KINDS, **_sign_context(user, task, mode),
    }


def _sign_context(user, task, mode: str) -> dict:
    """加签 and 撤回: what the page shows and offers to this user."""
    rows = signing.for_task(db.session, task.id)
    open_rows = [r for r in rows if r["status"] in OPEN_SIGN_STATUSES]
    holder = mode == "work" and task.state == "ready" and task.assignee_id == user.id and task.owner_id is None
    return {"signs": rows, "open_sign": open_rows[0] if open_rows else None,
            "my_sign": next((r for r in open_rows if r["status"] == "pending" and r["user_id"] == user.id), None),
            "may_sign": holder and not open_rows,
            "may_cancel_sign": bool(open_rows) and open_rows[0]["requested_by_id"] == user.id,
            "sign_candidates": signing.candidates(db.session, user.id) if holder and not open_rows else [],
            "may_withdraw": withdraw.may_withdraw(user, task)}


def _mode(user, task) -> str:
    """``work`` / ``read`` as for any task; ``sign`` for an added approver (加签人) who is neither."""
    try:
        return work.access(db.session, user, task)
    except Forbidden:
        if signing.is_signer(db.session, task.id, user.id):
            return "sign"
        raise


def _render(user, task_id: str, problem: dict | None = None, status: int = 200, mode: str | None = None):
    task = tasks.get_task(db.session, task_id)
    mode = mode or _mode(user, task)
    typed = request.form if problem else {}
    return render_template("web/task/show.html", problem=problem, typed=typed, **_context(user, task, mode)), status


@bp.get("/<string:task_id>")
@login_required()
def show(task_id):
    """任务办理页"""
    user = current_user()
    mode = _mode(user, tasks.get_task(db.session, task_id))  # refuses before anything is marked read
    if work.unread_copy_ids(db.session, task_id, user.id):  # reading a copy marks it read
        run_use_case(db.session, lambda: work.mark_copies_read(db.session, task_id=task_id, user=user,
                                                               now=clock.now()))
    return _render(user, task_id, mode=mode)


@bp.post("/<string:task_id>/complete")
@login_required()
def complete(task_id):
    """提交表单，办结任务（JSON：{"data": {…}}）"""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise InvalidInput("提交的数据无效", {"data": ["必须是 JSON 对象"]})
    user = current_user()
    signer = _int(body.get("sign_after") if isinstance(body.get("sign_after"), str) else None)
    if signer is not None:  # 后加签: the decision waits for the added approver
        run_use_case(db.session, lambda: signing.submit_after(
            db.session, task_id=task_id, user=user, user_ids=[signer], data=body["data"], now=clock.now(),
            note=body.get("sign_note") if isinstance(body.get("sign_note"), str) else ""))
        flash("已提交，加签人审批同意后任务办结", "success")
        return jsonify({"redirect": url_for("task.show", task_id=task_id)})
    run_use_case(db.session, lambda: tasks.complete_task(db.session, task_id=task_id, user=user,
                                                         data=body["data"], now=clock.now()))
    flash("任务已办结", "success")
    return jsonify({"redirect": url_for("inbox.index")})


def _next_url(task_id: str) -> str | None:
    """Back to the inbox page the action came from (only a path of the inbox), else the task page."""
    target = request.form.get("next") or ""
    if target.startswith("/inbox/") and "//" not in target and "\\" not in target:
        return target
    return None


def _act(task_id: str, form: str, done: str, operation, **kwargs):
    """Run one action; on success back with a flash, on bad input the page again with the message."""
    user = current_user()
    back = _next_url(task_id)
    try:
        run_use_case(db.session, lambda: operation(db.session, task_id=task_id, user=user, now=clock.now(),
                                                   **kwargs))
    except (InvalidInput, Conflict) as exc:
        if back:
            flash(exc.message, "error")
            return redirect(back)
        return _render(user, task_id, {"form": form, "message": exc.message, "errors": exc.errors}, exc.status)
    flash(done, "success")
    return redirect(back or url_for("task.show", task_id=task_id))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@bp.post("/<string:task_id>/claim")
@login_required()
def claim(task_id):
    """认领"""
    return _act(task_id, "claim", "已认领，其他人员不能再办理该任务", work.claim)


@bp.post("/<string:task_id>/unclaim")
@login_required()
def unclaim(task_id):
    """取消认领"""
    return _act(task_id, "claim", "已取消认领，任务回到部门待办", work.unclaim)


@bp.post("/<string:task_id>/reassign")
@login_required()
def reassign(task_id):
    """转办"""
    return _act(task_id, "reassign", "已转办", work.reassign, to_user_id=_int(request.form.get("user_id")),
                note=request.form.get("note", ""))


@bp.post("/<string:task_id>/delegate")
@login_required()
def delegate(task_id):
    """委派"""
    return _act(task_id, "delegate", "已委派，受委派人办理后会交回给您", work.delegate,
                to_user_id=_int(request.form.get("user_id")), note=request.form.get("note", ""))


@bp.post("/<string:task_id>/resolve")
@login_required()
def resolve(task_id):
    """交回委派人"""
    return _act(task_id, "resolve", "已交回委派人", work.resolve, comment=request.form.get("comment", ""))


@bp.post("/<string:task_id>/copy")
@login_required()
def copy(task_id):
    """抄送"""
    ids = [_int(v) for v in request.form.getlist("user_ids")]
    return _act(task_id, "copy", "已抄送", work.send_copies, user_ids=[i for i in ids if i is not None],
                note=request.form.get("note", ""))


@bp.post("/<string:task_id>/comment")
@login_required()
def comment(task_id):
    """评论"""
    return _act(task_id, "comment", "评论已发表", work.comment, body=request.form.get("body", ""))


@bp.post("/<string:task_id>/suspend")
@login_required()
def suspend(task_id):
    """申请中止计时（特别程序）"""
    return _act(task_id, "suspend", "已中止计时，并记录书面告知", work.request_suspension,
                kind=request.form.get("kind", ""), reason=request.form.get("reason", ""),
                notice=request.form.get("notice", ""))


@bp.post("/<string:task_id>/sign-before")
@login_required()
def sign_before(task_id):
    """前加签"""
    ids = [_int(v) for v in request.form.getlist("user_ids")]
    return _act(task_id, "sign", "已加签，加签人审批后任务回到您这里", signing.add_before,
                user_ids=[i for i in ids if i is not None], note=request.form.get("note", ""))


@bp.post("/<string:task_id>/signs/cancel")
@login_required()
def cancel_signs(task_id):
    """撤销加签"""
    return _act(task_id, "sign", "已撤销加签", signing.cancel)


@bp.post("/<string:task_id>/withdraw")
@login_required()
def withdraw_task(task_id):
    """撤回本人的办结"""
    return _act(task_id, "withdraw", "已撤回，任务回到您的待办", withdraw.withdraw,
                reason=request.form.get("reason", ""))


@bp.post("/signs/<int:sign_id>/decide")
@login_required()
def decide_sign(sign_id):
    """加签审批：同意 / 不同意"""
    user = current_user()
    found = signing.inbox(db.session, user.id, sign_id=sign_id)
    if not found or found[0]["user_id"] != user.id:
        raise Forbidden("这不是请您审批的加签")
    approve = {"1": True, "0": False}.get(request.form.get("approve", ""))
    try:
        run_use_case(db.session, lambda: signing.decide(db.session, sign_id=sign_id, user=user, approve=approve,
                                                        opinion=request.form.get("opinion", ""), now=clock.now()))
    except (InvalidInput, Conflict) as exc:
        return _render(user, found[0]["task_id"], {"form": "decide", "message": exc.message, "errors": exc.errors},
                       exc.status)
    flash("已同意" if approve else "已提交不同意意见，任务退回加签发起人", "success")
    return redirect(url_for("task.signs"))


@bp.get("/signs")
@login_required("approver", "clerk", "manager", "admin")
def signs():
    """加签待办：等我审批的加签"""
    user = current_user()
    return render_template("web/task/signs.html", items=signing.inbox(db.session, user.id, limit=100))
