"""The analyst's workspace: the modeler, the versions and their diff, the form and catalog editors.

Pages are server-rendered; the editors (plain JS, no inline scripts) load and save the
draft through the JSON endpoints below, with the page's CSRF token.
"""
from __future__ import annotations

import yaml
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for

from ..errors import DomainError, InvalidInput, NotFound
from ..extensions import db
from ..services import clock, drafts, drafts_diff, processes, work
from ..services.uow import run_use_case
from .session import current_user, login_required

bp = Blueprint("modeler", __name__, url_prefix="/processes")
ANALYSTS = ("analyst", "admin")

KIND_NAMES = {"userTask": "用户任务", "serviceTask": "服务任务", "scriptTask": "脚本任务", "receiveTask": "接收任务",
              "sendTask": "发送任务", "manualTask": "人工任务", "task": "任务", "callActivity": "调用活动",
              "businessRuleTask": "业务规则任务", "subProcess": "子流程", "startEvent": "开始事件", "endEvent": "结束事件",
              "boundaryEvent": "边界事件", "intermediateCatchEvent": "中间捕获事件",
              "intermediateThrowEvent": "中间抛出事件", "exclusiveGateway": "排他网关", "inclusiveGateway": "包容网关",
              "parallelGateway": "并行网关", "eventBasedGateway": "事件网关", "sequenceFlow": "顺序流", "lane": "泳道"}
FIELD_NAMES = {"kind": "类型", "name": "名称", "lane": "泳道（部门）", "form_key": "表单", "candidate": "办理部门",
               "timer": "定时", "condition": "条件", "default": "默认流", "multi_instance": "多实例",
               "source": "起点", "target": "终点", "attached_to": "附着于", "called_element": "调用流程",
               "script": "脚本", "operator": "服务操作"}
CHANGE_NAMES = {"added": "新增", "removed": "删除", "changed": "修改"}


def _folder():
    return current_app.config["PROCESSES_DIR"]


def _revision(body: dict) -> int | None:
    value = body.get("revision")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("revision 必须是整数")
    return value


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("提交的数据无效：须为 JSON 对象")
    return body


def _draft_json(draft: drafts.Draft) -> dict:
    data = draft.to_dict()
    data["updated_at"] = data["updated_at"].isoformat() if data["updated_at"] else None
    return data


def _current(key: str) -> drafts.Draft:
    return drafts.current(db.session, key, processes_dir=_folder())


@bp.get("/<string:key>/model")
@login_required(*ANALYSTS)
def model(key):
    """流程建模：bpmn-js 建模器与属性面板"""
    draft = _current(key)
    return render_template("web/authoring/model.html", draft=draft, key=key,
                           departments=drafts.department_choices(db.session),
                           form_keys=drafts.known_form_keys(db.session, draft))


@bp.get("/<string:key>/draft.json")
@login_required(*ANALYSTS)
def draft_json(key):
    """草稿（JSON）"""
    return jsonify(_draft_json(_current(key)))


@bp.put("/<string:key>/draft/bpmn")
@login_required(*ANALYSTS)
def save_bpmn(key):
    """保存流程图（JSON：{"xml", "revision"}），返回草稿及其问题"""
    body = _body()
    user = current_user()
    draft = run_use_case(db.session, lambda: drafts.save_bpmn(
        db.session, key, body.get("xml"), actor_id=user.id, now=clock.now(), revision=_revision(body),
        processes_dir=_folder()))
    return jsonify(_draft_json(draft))


@bp.post("/<string:key>/draft/deploy")
@login_required(*ANALYSTS)
def deploy(key):
    """部署草稿为新版本"""
    body = _body()
    user = current_user()
    definition = run_use_case(db.session, lambda: drafts.deploy(
        db.session, key, actor_id=user.id, now=clock.now(), revision=_revision(body)))
    flash(f"“{definition.name}”已部署为第 {definition.version} 版", "success")
    return jsonify({"version": definition.version, "message": f"已部署为第 {definition.version} 版",
                    "redirect": url_for("pages.processes")})


@bp.post("/<string:key>/draft/discard")
@login_required(*ANALYSTS)
def discard(key):
    """放弃草稿"""
    user = current_user()
    run_use_case(db.session, lambda: drafts.discard(db.session, key, actor_id=user.id, now=clock.now()))
    return jsonify({"message": "草稿已放弃", "redirect": url_for("modeler.model", key=key)})


def _int_arg(name: str) -> int | None:
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return None
    return value if 1 <= value < 2**31 else None  # a version number, within the database's integer


@bp.get("/<string:key>/versions")
@login_required(*ANALYSTS)
def versions(key):
    """版本与差异：任意两个版本之间新增、删除和修改的元素"""
    rows = processes.versions(db.session, key)
    if not rows:
        raise NotFound(f"流程“{key}”不存在或尚未部署")
    names = work.user_names(db.session, {r.deployed_by_id for r in rows})
    newest = rows[0].version
    to_v = _int_arg("to") or newest
    from_v = _int_arg("from") or (to_v - 1 if to_v > 1 else None)
    diff, error = None, None
    if from_v and to_v and from_v != to_v:
        try:
            diff = drafts_diff.version_diff(db.session, key, from_v, to_v)
        except DomainError as exc:
            error = exc.message
    return render_template("web/authoring/versions.html", key=key, rows=rows, names=names, diff=diff, error=error,
                           from_v=from_v, to_v=to_v, kinds=KIND_NAMES, fields=FIELD_NAMES, changes=CHANGE_NAMES)


@bp.get("/<string:key>/forms/<string:form_id>")
@login_required(*ANALYSTS)
def form_editor(key, form_id):
    """表单编辑（form-js 编辑器），保存到草稿"""
    draft = _current(key)
    schema = drafts.form_schema(db.session, key, form_id, processes_dir=_folder())
    return render_template("web/authoring/form.html", key=key, form_id=form_id, draft=draft, schema=schema)


@bp.get("/<string:key>/forms")
@login_required(*ANALYSTS)
def new_form(key):
    """新建表单：打开该表单 id 的编辑器"""
    form_id = (request.args.get("form_id") or "").strip()
    if not drafts.valid_form_id(form_id):
        raise InvalidInput("表单 id 必须是英文标识符（字母开头，字母、数字、下划线）")
    return redirect(url_for("modeler.form_editor", key=key, form_id=form_id))


@bp.put("/<string:key>/draft/forms/<string:form_id>")
@login_required(*ANALYSTS)
def save_form(key, form_id):
    """保存表单（JSON：{"schema", "revision"}）"""
    body = _body()
    user = current_user()
    draft = run_use_case(db.session, lambda: drafts.save_form(
        db.session, key, form_id, body.get("schema"), actor_id=user.id, now=clock.now(),
        revision=_revision(body), processes_dir=_folder()))
    return jsonify(_draft_json(draft))


@bp.get("/<string:key>/catalog")
@login_required(*ANALYSTS)
def catalog_editor(key):
    """事项目录编辑：材料、容缺与告知承诺、时限"""
    draft = _current(key)
    try:
        data = yaml.safe_load(draft.catalog_yaml) if draft.catalog_yaml else None
    except yaml.YAMLError:
        data = None  # the raw text is still shown for fixing
    return render_template("web/authoring/catalog.html", key=key, draft=draft,
                           catalog=data if isinstance(data, dict) else None,
                           departments=drafts.department_choices(db.session))


@bp.put("/<string:key>/draft/catalog")
@login_required(*ANALYSTS)
def save_catalog(key):
    """保存事项目录：{"catalog": {…}}（表格编辑）或 {"yaml": "…"}（文本编辑）"""
    body = _body()
    user = current_user()
    if isinstance(body.get("catalog"), dict):
        def save():
            return drafts.save_catalog_table(db.session, key, body["catalog"], actor_id=user.id, now=clock.now(),
                                             revision=_revision(body), processes_dir=_folder())
    elif isinstance(body.get("yaml"), str):
        def save():
            return drafts.save_catalog(db.session, key, body["yaml"], actor_id=user.id, now=clock.now(),
                                       revision=_revision(body), processes_dir=_folder())
    else:
        raise InvalidInput("请提交 catalog（对象）或 yaml（文本）")
    return jsonify(_draft_json(run_use_case(db.session, save)))
