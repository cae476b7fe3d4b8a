"""申请人办件查询与好差评 API: the applicant's lookup (no account), ratings, and bad-rating follow-ups."""
from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..errors import NotAuthenticated
from ..extensions import db, limiter
from ..models import RATING_LEVELS
from ..services import clock, portal, ratings
from ..services.uow import run_use_case
from .auth import auth_required
from .cases import _case_for_actor
from .schemas import LocalDateTime

blp = Blueprint("portal_api", __name__, url_prefix="/api/v1", description="申请人办件查询、好差评与差评整改")

# wrong query codes per client address, shared by the portal page and the API; right codes are free
portal_limit = limiter.shared_limit(lambda: current_app.config["PORTAL_RATE_LIMIT"], scope="portal-lookup",
                                    methods=["POST"], deduct_when=lambda response: response.status_code == 401)


class PortalLookupSchema(Schema):
    case_no = fields.String(required=True, validate=validate.Length(min=1, max=32),
                            metadata={"description": "统一受理号码"})
    query_code = fields.String(required=True, validate=validate.Length(min=1, max=16),
                               metadata={"description": "查询码（受理通知书上的 6 位数字）"})


class RatingInputSchema(Schema):
    level = fields.Integer(required=True, strict=True, validate=validate.OneOf(sorted(RATING_LEVELS)),
                           metadata={"description": "5 非常满意、4 满意、3 基本满意、2 不满意、1 非常不满意"})
    comment = fields.String(load_default="", validate=validate.Length(max=ratings.MAX_COMMENT_CHARS))


class PortalRatingSchema(PortalLookupSchema, RatingInputSchema):
    pass


class PortalStepSchema(Schema):
    name = fields.String()
    state = fields.String(metadata={"description": "done / current / todo / stopped"})
    at = LocalDateTime(allow_none=True)
    note = fields.String()


class PortalTimeLeftSchema(Schema):
    overdue = fields.Boolean()
    text = fields.String()
    deadline = LocalDateTime()


class PortalNoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    number = fields.String()
    issued_at = LocalDateTime()


class PortalViewSchema(Schema):
    case_no = fields.String()
    service_name = fields.String()
    status = fields.String()
    status_word = fields.String()
    applicant = fields.Dict(metadata={"description": "姓名；证件号码与电话已脱敏"})
    created_at = LocalDateTime()
    accepted_at = LocalDateTime(allow_none=True)
    completed_at = LocalDateTime(allow_none=True)
    deadline = LocalDateTime(allow_none=True)
    steps = fields.List(fields.Nested(PortalStepSchema), metadata={"description": "收件 → 受理 → 各部门办理 → 出件/办结"})
    holders = fields.List(fields.String(), metadata={"description": "当前办理部门"})
    time_left = fields.Nested(PortalTimeLeftSchema, allow_none=True)
    waiting = fields.String(allow_none=True, metadata={"description": "等待申请人的消息（补正 / 容缺补齐）"})
    requested = fields.List(fields.String(), metadata={"description": "一次性告知或容缺承诺所列的事项"})
    notices = fields.List(fields.Nested(PortalNoticeSchema))
    certificates = fields.List(fields.Dict())
    delivery = fields.Dict(allow_none=True)
    rating = fields.Dict(allow_none=True)


class CaseRatingSchema(Schema):
    id = fields.Integer()
    case_no = fields.String()
    level = fields.Integer()
    level_name = fields.String()
    comment = fields.String()
    channel = fields.String()
    created_at = LocalDateTime()
    follow_up_id = fields.Integer(allow_none=True)


class FollowUpQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default="open", validate=validate.OneOf(["open", "done", "all"]))


class FollowUpSchema(Schema):
    id = fields.Integer()
    case_no = fields.String()
    service_name = fields.String()
    department = fields.String()
    level = fields.Integer()
    level_name = fields.String()
    comment = fields.String()
    channel = fields.String()
    status = fields.String()
    created_at = LocalDateTime()
    due_at = LocalDateTime()
    resolution = fields.String()
    resolved_by = fields.String(allow_none=True)
    resolved_at = LocalDateTime(allow_none=True)


class FollowUpResolveSchema(Schema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=ratings.MAX_RESOLUTION_CHARS),
                               metadata={"description": "整改情况"})


def rating_json(rating, case_no: str, follow_up: int | None = None) -> dict:
    return {"id": rating.id, "case_no": case_no, "level": rating.level,
            "level_name": RATING_LEVELS.get(rating.level, ""), "comment": rating.comment,
            "channel": rating.channel, "created_at": rating.created_at, "follow_up_id": follow_up}


def portal_view(case) -> dict:
    """The applicant's view of the case, with its rating if any."""
    view = portal.view(db.session, case, clock.now())
    rating = ratings.rating_of(db.session, case.id)
    view["rating"] = None if rating is None else {"level": rating.level, "level_name": RATING_LEVELS[rating.level],
                                                  "comment": rating.comment}
    return view


def _checked_case(body):
    """The case, if the code is right; a wrong code is counted (committed) before refusing."""
    outcome, case = run_use_case(db.session, lambda: portal.check_code(
        db.session, case_no=body["case_no"], query_code=body["query_code"], now=clock.now(),
        client=request.remote_addr))
    if outcome != "ok":
        raise NotAuthenticated(portal.WRONG_CODE)
    return case


@blp.route("/portal/lookup")
class Lookup(MethodView):
    decorators = [portal_limit]

    @blp.arguments(PortalLookupSchema())
    @blp.response(200, PortalViewSchema)
    def post(self, body):
        """申请人查询办件（无需登录）：统一受理号码 + 查询码；输错多次将暂停查询"""
        return portal_view(_checked_case(body))


@blp.route("/portal/rating")
class PortalRating(MethodView):
    decorators = [portal_limit]

    @blp.arguments(PortalRatingSchema())
    @blp.response(201, CaseRatingSchema)
    def post(self, body):
        """申请人评价办件（好差评，无需登录；办结后每件一次）"""
        case = _checked_case(body)
        return _rate(case, body, "portal", None)


def _rate(case, body, channel, actor_id):
    rating = run_use_case(db.session, lambda: ratings.rate(
        db.session, case=case, level=body["level"], comment=body.get("comment", ""), channel=channel,
        actor_id=actor_id, now=clock.now()))
    follow_up = ratings.follow_up_of(db.session, rating.id)
    return rating_json(rating, case.case_no, follow_up.id if follow_up else None)


@blp.route("/cases/<string:case_no>/rating")
class WindowRating(MethodView):
    @auth_required("clerk", "admin")
    @blp.arguments(RatingInputSchema())
    @blp.response(201, CaseRatingSchema)
    def post(self, body, case_no):
        """综合窗口录入申请人在窗口作出的评价（评价器 / 纸质评价表）"""
        return _rate(_case_for_actor(case_no), body, "window", g.user.id)


@blp.route("/follow-ups")
class FollowUps(MethodView):
    @auth_required("approver", "clerk", "manager", "admin")
    @blp.arguments(FollowUpQuerySchema(), location="query")
    @blp.response(200, FollowUpSchema(many=True))
    def get(self, args):
        """差评整改（部门人员看本部门的；管理人员看全部），待整改的按期限排序"""
        department = None if g.user.has_role("manager", "admin") else (g.user.department_id or -1)
        status = None if args["status"] == "all" else args["status"]
        return ratings.follow_ups(db.session, department_id=department, status=status, limit=200)


@blp.route("/follow-ups/<int:follow_up_id>/resolve")
class Resolve(MethodView):
    @auth_required("approver")
    @blp.arguments(FollowUpResolveSchema())
    @blp.response(200, FollowUpSchema)
    def post(self, body, follow_up_id):
        """整改完成：负责部门的审批人员填写整改情况（同时告知申请人）"""
        row = run_use_case(db.session, lambda: ratings.resolve(
            db.session, follow_up_id=follow_up_id, resolution=body["resolution"], actor=g.user, now=clock.now()))
        return ratings.follow_ups(db.session, status=None, limit=1, follow_up_id=row.id)[0]

