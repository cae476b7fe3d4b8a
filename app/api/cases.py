"""Cases: start (front desk), read."""
from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from flask_smorest import Blueprint

from ..errors import Forbidden
from ..extensions import db
from ..models import SUSPENSION_KINDS, Case
from ..services import audit, calendar, cases, clock, deadlines, idempotency, legal_time, privacy, processes
from ..services.clock import local
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import LocalDateTime, AuditEventSchema, CaseCreateSchema, CaseQueryArgsSchema, CaseSchema, CaseSummarySchema

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="办件")


def case_json(case, cal=None) -> dict:
    """The case as CaseSchema expects it (tasks included, in creation order)."""
    cal = cal or calendar.load(db.session)
    now = clock.now()
    definition = processes.deployed(db.session, case.process_definition_id)
    ratio = deadlines.warn_ratio(definition.catalog)
    clock_now = case.suspended_at or now  # a suspended case's light stands still
    return {
        "light": deadlines.light(cal, case.created_at, case.deadline, clock_now, ratio, warn=case.warn_at),
        "statutory_deadline": case.statutory_deadline,
        "deadline_estimated": bool(case.deadline and cal.is_estimated(local(case.deadline).year)),
        "suspended": case.suspended_at is not None,
        "accepted_at": case.accepted_at, "acceptance": case.acceptance,
        "query_code": case.query_code if g.get("user") and g.user.has_role("clerk", "admin") else None,
        "waiting_messages": case.waiting_messages or [],
        "id": case.id, "case_no": case.case_no, "process_key": case.process_key,
        "process_version": definition.version, "service_name": definition.name,
        "status": case.status, "data": privacy.mask_data(g.get("user"), case.data), "end_event": case.end_event,
        "applicant": privacy.applicant_view(g.get("user"), case.applicant_name, case.applicant_id_number,
                                            case.applicant_phone),
        "created_at": case.created_at, "updated_at": case.updated_at,
        "completed_at": case.completed_at, "deadline": case.deadline,
        "tasks": [task_json(t, case.case_no, cal, ratio) for t in cases.case_tasks(db.session, case.id)],
    }


def warn_ratio_of(definition_id: int) -> float:
    """The catalog's warning ratio of a deployed version (read once per process)."""
    return deadlines.warn_ratio(processes.deployed(db.session, definition_id).catalog)


def task_light(task, cal, now, ratio: float | None = None, definition_id: int | None = None) -> str | None:
    """An open task's light. The catalog's warning ratio (``ratio``, else that of ``definition_id``,
    else of the task's case) is looked up only while the task has no stored yellow moment."""
    if task.state != "ready" or task.due_at is None:
        return None
    if ratio is None and task.warn_at is None:
        if definition_id is None:
            definition_id = db.session.get(Case, task.case_id).process_definition_id
        ratio = warn_ratio_of(definition_id)
    return deadlines.light(cal or calendar.load(db.session), task.created_at, task.due_at, now,
                           deadlines.DEFAULT_WARN_RATIO if ratio is None else ratio, warn=task.warn_at)


def task_json(task, case_no: str, cal=None, ratio: float | None = None, definition_id: int | None = None) -> dict:
    """A task as TaskSchema expects it; the light only for open tasks (see ``task_light``)."""
    light = task_light(task, cal, clock.now(), ratio, definition_id)
    return {"id": task.id, "case_no": case_no, "name": task.name, "element_id": task.element_id,
            "lane": task.lane, "state": task.state, "form_key": task.form_key,
            "created_at": task.created_at, "due_at": task.due_at, "light": light,
            "completed_at": task.completed_at, "completed_by_id": task.completed_by_id}


def _may_read(user, case) -> bool:
    if user.has_role("admin", "manager", "clerk"):
        return True
    if cases.department_has_task(db.session, case.id, user.department_id):
        return True
    from ..services import work  # 抄送: a copy of one of the case's tasks lets its recipient read the case
    return work.has_case_copy(db.session, case.id, user.id)


@blp.route("")
class Cases(MethodView):
    @auth_required("admin", "manager", "clerk")
    @blp.arguments(CaseQueryArgsSchema(), location="query")
    @blp.response(200, CaseSummarySchema(many=True))
    def get(self, args):
        """办件列表（最新在前）"""
        rows = cases.list_cases(db.session, status=args.get("status"))
        return [{"id": c.id, "case_no": c.case_no, "process_key": c.process_key, "status": c.status,
                 "service_name": processes.deployed(db.session, c.process_definition_id).name,
                 "applicant_name": c.applicant_name, "created_at": c.created_at,
                 "completed_at": c.completed_at, "deadline": c.deadline} for c in rows]

    @auth_required("clerk", "admin")
    @blp.arguments(CaseCreateSchema())
    @blp.response(201, CaseSchema)
    @blp.doc(parameters=[{
        "in": "header", "name": "Idempotency-Key", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
        "description": "可选。同一用户以同一键重发同一申请，返回首次创建的办件（响应头 Idempotent-Replayed: true），"
                       "不会重复立案；同一键用于不同申请返回 422"}])
    def post(self, body):
        """综合窗口受理：创建办件并启动流程（可带 Idempotency-Key 防止重复立案）"""
        region, now = current_app.config["REGION_CODE"], clock.now()
        key = idempotency.parse_key(request.headers.get(idempotency.HEADER))

        def use_case():
            case, replayed = idempotency.start_application(
                db.session, key=key, request_body=body, user_id=g.user.id, process_key=body["process_key"],
                applicant=body["applicant"], data=body["data"], region_code=region, now=now)
            return case_json(case), replayed  # as committed, without reading it all again afterwards

        shown, replayed = run_use_case(db.session, use_case)
        return shown, 201, {"Idempotent-Replayed": "true"} if replayed else {}


@blp.route("/<string:case_no>")
class CaseDetail(MethodView):
    @auth_required()
    @blp.response(200, CaseSchema)
    def get(self, case_no):
        """办件详情与任务"""
        case = cases.get_case(db.session, case_no)
        if not _may_read(g.user, case):
            raise Forbidden("无权查看该办件")
        return case_json(case)


@blp.route("/<string:case_no>/history")
class CaseHistory(MethodView):
    @auth_required()
    @blp.response(200, AuditEventSchema(many=True))
    def get(self, case_no):
        """办件的全程留痕记录"""
        case = cases.get_case(db.session, case_no)
        if not _may_read(g.user, case):
            raise Forbidden("无权查看该办件")
        return [{"id": e.id, "at": e.at, "actor_id": e.actor_id, "action": e.action,
                 "object_type": e.object_type, "object_id": e.object_id,
                 "before": privacy.mask_data(g.user, e.before), "after": privacy.mask_data(g.user, e.after)}
                for e in audit.case_events(db.session, case.id)]


class SuspendSchema(Schema):
    class Meta:
        ordered = True

    kind = fields.String(required=True, validate=validate.OneOf(list(SUSPENSION_KINDS)))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    notice = fields.String(load_default="", validate=validate.Length(max=2000))


class ExtendSchema(Schema):
    class Meta:
        ordered = True

    workdays = fields.Integer(required=True, validate=validate.Range(min=1, max=60))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class SuspensionSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    reason = fields.String()
    notice = fields.String()
    started_at = LocalDateTime()
    ended_at = LocalDateTime(allow_none=True)
    paused_minutes = fields.Integer(allow_none=True)


class ExtensionSchema(Schema):
    id = fields.Integer()
    workdays = fields.Integer()
    reason = fields.String()
    approved_by_id = fields.Integer()
    approved_at = LocalDateTime()


def _case_for_actor(case_no):
    case = cases.get_case(db.session, case_no)
    if not _may_read(g.user, case):
        raise Forbidden("无权操作该办件")
    return case


@blp.route("/<string:case_no>/suspensions")
class Suspensions(MethodView):
    @auth_required()
    @blp.response(200, SuspensionSchema(many=True))
    def get(self, case_no):
        """中止计时记录"""
        return legal_time.suspensions(db.session, _case_for_actor(case_no).id)

    @auth_required("approver", "clerk", "manager")
    @blp.arguments(SuspendSchema())
    @blp.response(201, SuspensionSchema)
    def post(self, body, case_no):
        """中止计时（听证、检验检测鉴定、专家评审、补正等特别程序），并书面告知申请人"""
        _case_for_actor(case_no)
        return run_use_case(db.session, lambda: legal_time.suspend(
            db.session, case_no=case_no, actor_id=g.user.id, now=clock.now(), **body))


@blp.route("/<string:case_no>/resume")
class Resume(MethodView):
    @auth_required("approver", "clerk", "manager")
    @blp.response(200, SuspensionSchema)
    def post(self, case_no):
        """恢复计时：所有期限顺延中止期间的工作时间"""
        _case_for_actor(case_no)
        return run_use_case(db.session, lambda: legal_time.resume(
            db.session, case_no=case_no, actor_id=g.user.id, now=clock.now()))


@blp.route("/<string:case_no>/extensions")
class Extensions(MethodView):
    @auth_required("manager", "admin")
    @blp.arguments(ExtendSchema())
    @blp.response(201, ExtensionSchema)
    def post(self, body, case_no):
        """延期（须负责人批准；受法定延长上限约束）"""
        return run_use_case(db.session, lambda: legal_time.extend(
            db.session, case_no=case_no, approver_id=g.user.id, now=clock.now(), **body))
