"""Incidents (故障): cases stuck on an engine error with nobody to tell; retry or skip the failed step."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..extensions import db
from ..services import clock, incidents
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import LocalDateTime

blp = Blueprint("incidents", __name__, url_prefix="/api/v1/incidents", description="故障处理")


class IncidentQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class IncidentSchema(Schema):
    id = fields.Integer()
    case_no = fields.String()
    process_key = fields.String()
    service_name = fields.String()
    version = fields.Integer()
    element_id = fields.String()
    source = fields.String()
    message = fields.String()
    created_at = LocalDateTime()


class ResolvedSchema(Schema):
    id = fields.Integer()
    element_id = fields.String()
    resolution = fields.String()
    resolved_at = LocalDateTime()
    resolved_by_id = fields.Integer()


@blp.route("")
class Incidents(MethodView):
    @auth_required("analyst", "admin", "manager")
    @blp.arguments(IncidentQuery(), location="query")
    @blp.response(200, IncidentSchema(many=True))
    def get(self, args):
        """未处理的故障，最新的在前"""
        rows = incidents.open_incidents(db.session, limit=args["limit"], offset=args["offset"])
        db.session.rollback()
        return rows


@blp.route("/<int:incident_id>/retry")
class Retry(MethodView):
    @auth_required("analyst", "admin")
    @blp.response(200, ResolvedSchema)
    def post(self, incident_id):
        """重试：再次执行失败的步骤；仍失败时返回 409，办件不变"""
        return run_use_case(db.session, lambda: incidents.retry(
            db.session, incident_id=incident_id, actor_id=g.user.id, now=clock.now()))


@blp.route("/<int:incident_id>/skip")
class Skip(MethodView):
    @auth_required("analyst", "admin")
    @blp.response(200, ResolvedSchema)
    def post(self, incident_id):
        """跳过：出错的元素不执行、视为已完成，流程继续；其他元素出错时返回 409，办件不变"""
        return run_use_case(db.session, lambda: incidents.skip(
            db.session, incident_id=incident_id, actor_id=g.user.id, now=clock.now()))
