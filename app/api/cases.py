"""Cases: start (front desk), read."""
from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import Forbidden
from ..extensions import db
from ..services import audit, cases, clock, tasks as task_service
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import AuditEventSchema, CaseCreateSchema, CaseQueryArgsSchema, CaseSchema, CaseSummarySchema

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="办件")


def case_json(case) -> dict:
    """The case as CaseSchema expects it (tasks included, in creation order)."""
    return {
        "id": case.id, "case_no": case.case_no, "process_key": case.process_key,
        "process_version": case.definition.version, "service_name": case.definition.name,
        "status": case.status, "data": case.data, "end_event": case.end_event,
        "applicant": {"name": case.applicant_name, "id_number": case.applicant_id_number,
                      "phone": case.applicant_phone},
        "created_at": case.created_at, "updated_at": case.updated_at,
        "completed_at": case.completed_at, "deadline": case.deadline,
        "tasks": [task_json(t, case.case_no) for t in cases.case_tasks(db.session, case.id)],
    }


def task_json(task, case_no: str) -> dict:
    """A task as TaskSchema expects it."""
    return {"id": task.id, "case_no": case_no, "name": task.name, "element_id": task.element_id,
            "lane": task.lane, "state": task.state, "form_key": task.form_key,
            "created_at": task.created_at, "due_at": task.due_at,
            "completed_at": task.completed_at, "completed_by_id": task.completed_by_id}


def _may_read(user, case) -> bool:
    if user.has_role("admin", "manager", "clerk"):
        return True
    return any(t.department_id == user.department_id for t in cases.case_tasks(db.session, case.id))


@blp.route("")
class Cases(MethodView):
    @auth_required("admin", "manager", "clerk")
    @blp.arguments(CaseQueryArgsSchema, location="query")
    @blp.response(200, CaseSummarySchema(many=True))
    def get(self, args):
        """办件列表（最新在前）"""
        return cases.list_cases(db.session, status=args.get("status"))

    @auth_required("clerk", "admin")
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, body):
        """综合窗口受理：创建办件并启动流程"""
        region = current_app.config["REGION_CODE"]
        case = run_use_case(db.session, lambda: cases.start_case(
            db.session, process_key=body["process_key"], applicant=body["applicant"],
            data=body["data"], actor_id=g.user.id, region_code=region, now=clock.now()))
        return case_json(case)


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
        return audit.case_events(db.session, case.id)
