"""综合窗口: the front desk's pages — pick a service, register the applicant, fill in the 一表申请.

Step 1 is a plain form for the applicant, checked here. Step 2 (a POST of step 1) shows the
service's application form (form-js) prefilled from shared data (共享数据自动调用), and its
JSON submit starts the case.
"""
from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, render_template, request, url_for

from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..services import clock, forms, idempotency, prefill, processes
from ..services.uow import run_use_case
from .session import current_user, login_required

bp = Blueprint("desk", __name__, url_prefix="/desk")

APPLICANT_FIELDS = ("name", "id_number", "phone")
_ID_CARD = re.compile(r"^\d{17}[\dX]$")  # 居民身份证号码 (GB 11643)
_CREDIT_CODE = re.compile(r"^[1-9A-GY][1-9]\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")  # 统一社会信用代码 (GB 32100)
_PHONE = re.compile(r"^\d[\d-]*\d$")
UNITS = {"workday": "工作日", "workhour": "工作小时", "day": "自然日"}


def _service(process_key: str) -> processes.Deployed:
    """The newest deployed version of a service the window can start (one with an application form)."""
    definition = processes.deployed(db.session, processes.get_latest(db.session, process_key).id)
    if not definition.model.get("start_form_key"):
        raise NotFound(f"“{definition.name}”不能在综合窗口直接申请")
    return definition


def _birth_date_ok(id_number: str) -> bool:
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= clock.local(clock.now()).date()


def applicant_values(source: Any) -> dict[str, str]:
    """The applicant as typed, trimmed (the ID number in upper case: 身份证号码末位 X)."""
    values = {key: str(source.get(key) or "").strip() for key in APPLICANT_FIELDS}
    values["id_number"] = values["id_number"].upper()
    values["phone"] = values["phone"].replace(" ", "")
    return values


def applicant_problems(values: dict[str, str]) -> dict[str, str]:
    """Field -> the Chinese message of what is wrong with it (empty when all is well)."""
    problems: dict[str, str] = {}
    name, id_number, phone = values["name"], values["id_number"], values["phone"]
    if not name:
        problems["name"] = "请填写申请人姓名（或单位名称）"
    elif len(name) > 128:
        problems["name"] = "姓名（或单位名称）不能超过 128 个字符"
    if not id_number:
        problems["id_number"] = "请填写证件号码"
    elif _ID_CARD.match(id_number):
        if not _birth_date_ok(id_number):
            problems["id_number"] = "身份证号码中的出生日期无效，请核对"
    elif not _CREDIT_CODE.match(id_number):
        problems["id_number"] = "证件号码应为 18 位居民身份证号码或 18 位统一社会信用代码"
    digits = phone.replace("-", "")
    if not phone:
        problems["phone"] = "请填写联系电话"
    elif not _PHONE.match(phone) or not 7 <= len(digits) <= 15:
        problems["phone"] = "联系电话只能由数字组成（座机可含“-”），共 7 至 15 位"
    return problems


def _shown(component: dict[str, Any], value: Any) -> str:
    """A prefilled value as the applicant reads it (option labels, 是/否)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    options = {v.get("value"): v.get("label") for v in component.get("values") or []}
    if isinstance(value, list):
        return "、".join(str(options.get(v, v)) for v in value)
    return str(options.get(value, value))


def _prefill_rows(schema: dict[str, Any] | None, found: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for component in forms.input_fields(schema or {}):
        item = found.get(component["key"])
        if item is None:
            continue
        source = (f"以往办件 {item['case_no']}" if item["source"] == "case"
                  else f"电子证照 {item.get('certificate', '')}".strip())
        rows.append({"label": component.get("label") or component["key"],
                     "value": _shown(component, item["value"]), "source": source})
    return rows


def _step1(definition, values, problems=None, status=200):
    return render_template("web/desk/new_applicant.html", service=definition, values=values,
                           problems=problems or {}), status


def _step2(definition, values):
    schema = forms.for_definition(db.session, definition, definition.model["start_form_key"])
    found = prefill.for_applicant(db.session, process_key=definition.key, id_number=values["id_number"],
                                  now=clock.now())
    return render_template("web/desk/new_form.html", service=definition, applicant=values, schema=schema,
                           prefilled={k: v["value"] for k, v in found.items()},
                           prefill_rows=_prefill_rows(schema, found),
                           may_submit=current_user().has_role("clerk"),
                           request_key=uuid.uuid4().hex)  # a double submit or a retry starts one case


@bp.get("/")
@login_required("clerk", "admin")
def index():
    """综合窗口：选择要办理的一件事"""
    return render_template("web/desk/index.html", services=processes.services(db.session), units=UNITS)


@bp.route("/new/<string:process_key>", methods=["GET", "POST"])
@login_required("clerk", "admin")
def new(process_key):
    """新建办件：第一步登记申请人，第二步填写一表申请"""
    definition = _service(process_key)
    if request.method == "GET":
        return _step1(definition, applicant_values({}))
    values = applicant_values(request.form)
    if request.form.get("back"):
        return _step1(definition, values)
    problems = applicant_problems(values)
    if problems:
        return _step1(definition, values, problems, 422)
    return _step2(definition, values)


@bp.post("/new/<string:process_key>/submit")
@login_required("clerk")
def submit(process_key):
    """提交一表申请：收件登记并启动流程（JSON）"""
    definition = _service(process_key)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("提交的内容不是有效的 JSON 对象")
    values = applicant_values(body)
    problems = applicant_problems(values)
    if problems:
        raise InvalidInput("申请人信息有误，请返回第一步修改", problems)
    user, region, now = current_user(), current_app.config["REGION_CODE"], clock.now()
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    case, _ = run_use_case(db.session, lambda: idempotency.start_application(
        db.session, key=key, request_body=body, user_id=user.id, process_key=definition.key,
        applicant=values, data=body.get("data", {}), region_code=region, now=now))
    flash(f"已收件登记，统一受理号码 {case.case_no}，请核对并上传申请材料", "success")
    return jsonify({"redirect": url_for("case.show", case_no=case.case_no), "case_no": case.case_no})
