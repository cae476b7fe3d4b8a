"""Work on tasks: 认领, 转办, 委派 / 交回, 抄送, 评论, and the inbox tabs (thin over services.work)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..extensions import db
from ..models import Case
from ..services import calendar, clock, processes, tasks, work
from ..services.uow import run_use_case
from .auth import auth_required
from .cases import task_json
from .schemas import LocalDateTime, StrictSchema, TaskSchema

blp = Blueprint("work", __name__, url_prefix="/api/v1", description="任务协同：认领、转办、委派、抄送、评论")

WORKERS = ("approver", "clerk")


class WorkTaskSchema(TaskSchema):
    assignee_id = fields.Integer(allow_none=True, metadata={"description": "认领人 / 受委派人"})
    owner_id = fields.Integer(allow_none=True, metadata={"description": "委派人（委派中才有）"})
    claimed_at = LocalDateTime(allow_none=True)


class InboxRowSchema(WorkTaskSchema):
    applicant_name = fields.String()
    process_key = fields.String()
    service_name = fields.String()


class InboxArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    view = fields.String(load_default="department", validate=validate.OneOf(list(tasks.INBOX_VIEWS)),
                         metadata={"description": "department 部门待办 / mine 我的待办"})
    service = fields.String(load_default=None, validate=validate.Length(max=128))
    overdue = fields.Boolean(load_default=False)
    q = fields.String(load_default=None, validate=validate.Length(max=64),
                      metadata={"description": "统一受理号码前缀或申请人姓名"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))


class HandOverSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "本部门审批人员或窗口人员的用户名"})
    note = fields.String(load_default="", validate=validate.Length(max=work.NOTE_MAX))


class ResolveSchema(StrictSchema):
    comment = fields.String(required=True, validate=validate.Length(min=1, max=work.COMMENT_MAX))


class CopyCreateSchema(StrictSchema):
    usernames = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                            validate=validate.Length(min=1, max=work.COPY_MAX_RECIPIENTS))
    note = fields.String(load_default="", validate=validate.Length(max=work.NOTE_MAX))


class CommentCreateSchema(StrictSchema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=work.COMMENT_MAX))


class CommentSchema(Schema):
    id = fields.Integer()
    task_id = fields.String()
    author_id = fields.Integer()
    author_name = fields.String()
    body = fields.String()
    created_at = LocalDateTime()


class CopySchema(Schema):
    id = fields.Integer()
    task_id = fields.String()
    task_name = fields.String()
    lane = fields.String(allow_none=True)
    task_state = fields.String()
    case_no = fields.String()
    applicant_name = fields.String()
    sent_by_name = fields.String()
    note = fields.String()
    created_at = LocalDateTime()
    read_at = LocalDateTime(allow_none=True)


class SentCopySchema(Schema):
    id = fields.Integer()
    task_id = fields.String()
    user_id = fields.Integer()
    user_name = fields.String()
    sent_by_name = fields.String()
    note = fields.String()
    created_at = LocalDateTime()
    read_at = LocalDateTime(allow_none=True)


class CopyArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    unread = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))


PAGE_SIZE = 50


def work_json(task) -> dict:
    case_no = db.session.get(Case, task.case_id).case_no
    return {**task_json(task, case_no), "assignee_id": task.assignee_id, "owner_id": task.owner_id,
            "claimed_at": task.claimed_at}


def _run(operation, **kwargs) -> dict:
    """Run one work operation as a use case and answer the task as it is afterwards."""
    def use_case():
        return work_json(operation(db.session, user=g.user, now=clock.now(), **kwargs))
    return run_use_case(db.session, use_case)


@blp.route("/inbox")
class Inbox(MethodView):
    @auth_required("approver", "clerk", "manager", "admin")
    @blp.arguments(InboxArgsSchema(), location="query")
    @blp.response(200, InboxRowSchema(many=True))
    def get(self, args):
        """待办：部门待办（本部门未认领或我认领的）或我的待办，按期限排序（无期限的在后）"""
        cal = calendar.load(db.session)
        names = {d.key: d.name for d in processes.latest_versions(db.session)}
        rows = tasks.inbox_rows(db.session, g.user, view=args["view"], process_key=args["service"],
                                overdue_at=clock.now() if args["overdue"] else None,
                                search=(args["q"] or "").strip() or None,
                                limit=PAGE_SIZE, offset=(args["page"] - 1) * PAGE_SIZE)
        return [{**task_json(t, no, cal, definition_id=definition_id), "assignee_id": t.assignee_id, "owner_id": t.owner_id,
                 "claimed_at": t.claimed_at, "applicant_name": applicant, "process_key": key,
                 "service_name": names.get(key, key)} for t, no, applicant, key, definition_id in rows]


@blp.route("/tasks/<string:task_id>/claim")
class Claim(MethodView):
    @auth_required(*WORKERS)
    @blp.response(200, WorkTaskSchema)
    def post(self, task_id):
        """认领：认领后只有认领人可以办理"""
        return _run(work.claim, task_id=task_id)


@blp.route("/tasks/<string:task_id>/unclaim")
class Unclaim(MethodView):
    @auth_required("approver", "clerk", "manager", "admin")
    @blp.response(200, WorkTaskSchema)
    def post(self, task_id):
        """取消认领：认领人（或负责人）把任务放回部门待办"""
        return _run(work.unclaim, task_id=task_id)


@blp.route("/tasks/<string:task_id>/reassign")
class Reassign(MethodView):
    @auth_required(*WORKERS)
    @blp.arguments(HandOverSchema())
    @blp.response(200, WorkTaskSchema)
    def post(self, body, task_id):
        """转办：交给本部门的另一位审批人员或窗口人员"""
        target = work.user_id_for(db.session, body["username"])
        return _run(work.reassign, task_id=task_id, to_user_id=target, note=body["note"])


@blp.route("/tasks/<string:task_id>/delegate")
class Delegate(MethodView):
    @auth_required(*WORKERS)
    @blp.arguments(HandOverSchema())
    @blp.response(200, WorkTaskSchema)
    def post(self, body, task_id):
        """委派：请本部门同事协助办理，办完交回委派人，由委派人办结"""
        target = work.user_id_for(db.session, body["username"])
        return _run(work.delegate, task_id=task_id, to_user_id=target, note=body["note"])


@blp.route("/tasks/<string:task_id>/resolve")
class Resolve(MethodView):
    @auth_required(*WORKERS)
    @blp.arguments(ResolveSchema())
    @blp.response(200, WorkTaskSchema)
    def post(self, body, task_id):
        """交回：受委派人填写意见后把任务交回委派人"""
        return _run(work.resolve, task_id=task_id, comment=body["comment"])


@blp.route("/tasks/<string:task_id>/copies")
class Copies(MethodView):
    @auth_required(*WORKERS)
    @blp.arguments(CopyCreateSchema())
    @blp.response(201, SentCopySchema(many=True))
    def post(self, body, task_id):
        """抄送：把任务只读地抄送给一位或多位人员（可跨部门），对方可以查看该办件"""
        ids = [work.user_id_for(db.session, name, "usernames") for name in body["usernames"]]

        def use_case():
            rows = work.send_copies(db.session, task_id=task_id, user=g.user, user_ids=ids, note=body["note"],
                                    now=clock.now())
            sent = {r.id for r in rows}
            return [c for c in work.task_copies(db.session, task_id) if c["id"] in sent]
        return run_use_case(db.session, use_case)


@blp.route("/tasks/<string:task_id>/comments")
class Comments(MethodView):
    @auth_required()
    @blp.response(200, CommentSchema(many=True))
    def get(self, task_id):
        """任务的评论（按时间顺序）"""
        work.access(db.session, g.user, tasks.get_task(db.session, task_id))
        return work.comments(db.session, task_id)

    @auth_required(*WORKERS)
    @blp.arguments(CommentCreateSchema())
    @blp.response(201, CommentSchema)
    def post(self, body, task_id):
        """评论任务（最多 2000 字）"""
        def use_case():
            row = work.comment(db.session, task_id=task_id, user=g.user, body=body["body"], now=clock.now())
            return next(c for c in work.comments(db.session, task_id) if c["id"] == row.id)
        return run_use_case(db.session, use_case)


@blp.route("/copies")
class MyCopies(MethodView):
    @auth_required()
    @blp.arguments(CopyArgsSchema(), location="query")
    @blp.response(200, CopySchema(many=True))
    def get(self, args):
        """抄送我的（未读在前）"""
        return work.copies_for(db.session, g.user.id, unread_only=args["unread"], limit=PAGE_SIZE,
                               offset=(args["page"] - 1) * PAGE_SIZE)


@blp.route("/copies/<int:copy_id>/read")
class ReadCopy(MethodView):
    @auth_required()
    @blp.response(200, CopySchema)
    def post(self, copy_id):
        """标记抄送为已读"""
        def use_case():
            row = work.mark_copy_read(db.session, copy_id=copy_id, user=g.user, now=clock.now())
            return work.copies_for(db.session, g.user.id, copy_id=row.id)[0]
        return run_use_case(db.session, use_case)
