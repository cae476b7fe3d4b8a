"""电子监察: supervision events, and a manager's 督办 on a case."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..extensions import db
from ..services import cases, clock, supervision
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import LocalDateTime

blp = Blueprint("supervision", __name__, url_prefix="/api/v1/supervision", description="电子监察")


class EventSchema(Schema):
    id = fields.Integer()
    case_no = fields.String()
    task_id = fields.String(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    kind = fields.String()
    kind_name = fields.String()
    reason = fields.String()
    note = fields.String()
    created_at = LocalDateTime()
    created_by_id = fields.Integer(allow_none=True)


class EventQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(validate=validate.OneOf(list(supervision.KIND_NAMES)))


class SuperviseSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000))


def _event_json(event, case_no):
    return {"id": event.id, "case_no": case_no, "task_id": event.task_id, "department_id": event.department_id,
            "kind": event.kind, "kind_name": supervision.KIND_NAMES[event.kind], "reason": event.reason,
            "note": event.note, "created_at": event.created_at, "created_by_id": event.created_by_id}


@blp.route("/events")
class Events(MethodView):
    @auth_required()
    @blp.arguments(EventQuery(), location="query")
    @blp.response(200, EventSchema(many=True))
    def get(self, args):
        """监察事件（管理人员看全部；审批人员只看本部门的）"""
        department = None if g.user.has_role("manager", "admin") else (g.user.department_id or -1)
        return [_event_json(e, no) for e, no in supervision.events(db.session, kind=args.get("kind"),
                                                                   department_id=department)]


@blp.route("/cases/<string:case_no>/supervise")
class Supervise(MethodView):
    @auth_required("manager")
    @blp.arguments(SuperviseSchema())
    @blp.response(201, EventSchema)
    def post(self, body, case_no):
        """对办件发起督办"""
        def use_case():
            case = cases.get_case(db.session, case_no)
            return _event_json(supervision.supervise_manually(db.session, case=case, note=body["note"],
                                                              actor_id=g.user.id, now=clock.now()), case_no)
        return run_use_case(db.session, use_case)
