"""Department task inboxes and completing tasks."""
from __future__ import annotations

from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from ..extensions import db
from ..models import Case
from ..errors import Forbidden
from ..services import calendar, clock, privacy, tasks
from ..services.clock import local
from ..services.uow import run_use_case
from .auth import auth_required
from .cases import task_json, task_light
from .schemas import TaskCompleteSchema, TaskDetailSchema, TaskQueryArgsSchema, TaskSchema

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="待办任务")


@blp.route("")
class Tasks(MethodView):
    @auth_required()
    @blp.arguments(TaskQueryArgsSchema(), location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, args):
        """本部门可办理的任务（按期限排序）"""
        state = None if args["state"] == "all" else args["state"]
        rows = tasks.inbox(db.session, g.user, state=state)
        return jsonify(listed(rows, calendar.load(db.session), clock.now()))


def _iso(moment):
    return None if moment is None else local(moment).isoformat()


def listed(rows, cal, now) -> list[dict]:
    """Inbox rows exactly as ``TaskSchema(many=True).dump`` renders them, built directly:
    at 100 rows marshmallow's per-field work was a quarter of the request.
    tests/api/test_inbox_rendering.py holds the two outputs equal."""
    out = []
    for row in rows:
        light = task_light(row, cal, now, definition_id=row.process_definition_id)
        out.append({"id": row.id, "case_no": row.case_no, "name": row.name, "element_id": row.element_id,
                    "department": row.lane, "state": row.state, "form_key": row.form_key,
                    "created_at": _iso(row.created_at), "due_at": _iso(row.due_at), "light": light,
                    "completed_at": _iso(row.completed_at), "completed_by_id": row.completed_by_id})
    return out


@blp.route("/<string:task_id>")
class TaskDetail(MethodView):
    @auth_required()
    @blp.response(200, TaskDetailSchema)
    def get(self, task_id):
        """任务详情：表单，以及本部门办理所需的申请数据（一表申请中本事项用到的字段）"""
        task = tasks.get_task(db.session, task_id)
        if not (tasks.may_work(g.user, task) or g.user.has_role("admin", "manager")):
            raise Forbidden("该任务不属于您的部门")
        case = db.session.get(Case, task.case_id)
        detail = tasks.task_detail(db.session, task, case)
        return {**task_json(task, case.case_no), **detail,
                "case_data": privacy.mask_data(g.user, detail["case_data"])}


@blp.route("/<string:task_id>/complete")
class CompleteTask(MethodView):
    @auth_required()
    @blp.arguments(TaskCompleteSchema())
    @blp.response(200, TaskSchema)
    def post(self, body, task_id):
        """办理完成任务，提交表单数据"""
        def use_case():
            task = tasks.complete_task(db.session, task_id=task_id, user=g.user,
                                       data=body["data"], now=clock.now())
            # built before the commit, while the case is still loaded
            return task_json(task, db.session.get(Case, task.case_id).case_no, cal=None)
        return run_use_case(db.session, use_case)
