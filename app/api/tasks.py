"""Department task inboxes and completing tasks."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from ..extensions import db
from ..models import Case
from ..services import calendar, clock, tasks
from ..services.uow import run_use_case
from .auth import auth_required
from .cases import task_json
from .schemas import TaskCompleteSchema, TaskQueryArgsSchema, TaskSchema

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="待办任务")


@blp.route("")
class Tasks(MethodView):
    @auth_required()
    @blp.arguments(TaskQueryArgsSchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    def get(self, args):
        """本部门可办理的任务（按期限排序）"""
        state = None if args["state"] == "all" else args["state"]
        cal = calendar.load(db.session)
        return [task_json(t, no, cal) for t, no in tasks.inbox(db.session, g.user, state=state)]


@blp.route("/<string:task_id>/complete")
class CompleteTask(MethodView):
    @auth_required()
    @blp.arguments(TaskCompleteSchema)
    @blp.response(200, TaskSchema)
    def post(self, body, task_id):
        """办理完成任务，提交表单数据"""
        def use_case():
            task = tasks.complete_task(db.session, task_id=task_id, user=g.user,
                                       data=body["data"], now=clock.now())
            # built before the commit, while the case is still loaded
            return task_json(task, db.session.get(Case, task.case_id).case_no, cal=None)
        return run_use_case(db.session, use_case)
