"""加签 (前加签 / 后加签) and 撤回 on tasks (thin over services.signing and services.withdraw)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..extensions import db
from ..services import clock, signing, tasks, withdraw, work
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import LocalDateTime, StrictSchema
from .work import WORKERS, WorkTaskSchema, work_json

blp = Blueprint("signing", __name__, url_prefix="/api/v1", description="加签（前加签、后加签）与撤回")

PAGE_SIZE = 50


class SignCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["before", "after"]),
                         metadata={"description": "before 前加签（加签人先审批，再回到我）/ after 后加签（我提交后，加签人审批通过才办结）"})
    usernames = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                            validate=validate.Length(min=1, max=signing.MAX_SIGNERS),
                            metadata={"description": "加签人（按顺序依次审批），可跨部门"})
    note = fields.String(load_default="", validate=validate.Length(max=signing.NOTE_MAX))
    data = fields.Dict(load_default=None, metadata={"description": "后加签：我的办理表单（加签人全部同意后以此办结）"})


class SignDecisionSchema(StrictSchema):
    approve = fields.Boolean(required=True, metadata={"description": "true 同意 / false 不同意"})
    opinion = fields.String(required=True, validate=validate.Length(min=1, max=signing.OPINION_MAX))


class WithdrawSchema(StrictSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=withdraw.REASON_MAX))


class SignSchema(Schema):
    id = fields.Integer()
    task_id = fields.String()
    round_id = fields.Integer()
    kind = fields.String()
    kind_name = fields.String()
    position = fields.Integer()
    user_id = fields.Integer()
    user_name = fields.String()
    requested_by_id = fields.Integer()
    requested_by_name = fields.String()
    note = fields.String()
    status = fields.String(metadata={"description": "waiting 排队中 / pending 待审批 / approved 同意 / rejected 不同意 / cancelled 已撤销"})
    opinion = fields.String()
    created_at = LocalDateTime()
    decided_at = LocalDateTime(allow_none=True)


class SignInboxSchema(SignSchema):
    task_name = fields.String()
    lane = fields.String(allow_none=True)
    due_at = LocalDateTime(allow_none=True)
    case_no = fields.String()
    applicant_name = fields.String()


class SignArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))


def _ids(usernames: list[str]) -> list[int]:
    return [work.user_id_for(db.session, name, "usernames") for name in usernames]


@blp.route("/tasks/<string:task_id>/signs")
class TaskSigns(MethodView):
    @auth_required()
    @blp.response(200, SignSchema(many=True))
    def get(self, task_id):
        """任务的加签记录（按轮次和顺序）"""
        task = tasks.get_task(db.session, task_id)
        if not signing.is_signer(db.session, task_id, g.user.id):
            work.access(db.session, g.user, task)
        return signing.for_task(db.session, task_id)

    @auth_required(*WORKERS)
    @blp.arguments(SignCreateSchema())
    @blp.response(201, SignSchema(many=True))
    def post(self, body, task_id):
        """加签：前加签（加签人先审批，再回到我办理）或后加签（提交我的办理意见，加签人依次同意后才办结）"""
        ids = _ids(body["usernames"])

        def use_case():
            if body["kind"] == "before":
                rows = signing.add_before(db.session, task_id=task_id, user=g.user, user_ids=ids,
                                          note=body["note"], now=clock.now())
            else:
                rows = signing.submit_after(db.session, task_id=task_id, user=g.user, user_ids=ids,
                                            data=body["data"] if body["data"] is not None else {},
                                            note=body["note"], now=clock.now())
            made = {r.id for r in rows}
            return [s for s in signing.for_task(db.session, task_id) if s["id"] in made]
        return run_use_case(db.session, use_case)


@blp.route("/tasks/<string:task_id>/signs/cancel")
class CancelSigns(MethodView):
    @auth_required(*WORKERS)
    @blp.response(200, SignSchema(many=True))
    def post(self, task_id):
        """撤销加签：发起人撤销进行中的一轮加签"""
        def use_case():
            done = {r.id for r in signing.cancel(db.session, task_id=task_id, user=g.user, now=clock.now())}
            return [s for s in signing.for_task(db.session, task_id) if s["id"] in done]
        return run_use_case(db.session, use_case)


@blp.route("/signs")
class MySigns(MethodView):
    @auth_required()
    @blp.arguments(SignArgsSchema(), location="query")
    @blp.response(200, SignInboxSchema(many=True))
    def get(self, args):
        """加签待办：等我审批的加签（最早的在前）"""
        return signing.inbox(db.session, g.user.id, limit=PAGE_SIZE, offset=(args["page"] - 1) * PAGE_SIZE)


@blp.route("/signs/<int:sign_id>/decide")
class DecideSign(MethodView):
    @auth_required(*WORKERS)
    @blp.arguments(SignDecisionSchema())
    @blp.response(200, SignInboxSchema)
    def post(self, body, sign_id):
        """加签审批：同意或不同意（意见必填）；后加签的最后一位同意后任务办结"""
        def use_case():
            row = signing.decide(db.session, sign_id=sign_id, user=g.user, approve=body["approve"],
                                 opinion=body["opinion"], now=clock.now())
            return signing.inbox(db.session, g.user.id, sign_id=row.id)[0]
        return run_use_case(db.session, use_case)


@blp.route("/tasks/<string:task_id>/withdraw")
class Withdraw(MethodView):
    @auth_required(*WORKERS)
    @blp.arguments(WithdrawSchema())
    @blp.response(200, WorkTaskSchema)
    def post(self, body, task_id):
        """撤回：办结人收回本人的办结（后续环节尚未开始、未自动出具文书或证照时）"""
        def use_case():
            task = withdraw.withdraw(db.session, task_id=task_id, user=g.user, now=clock.now(), reason=body["reason"])
            return work_json(task)
        return run_use_case(db.session, use_case)

