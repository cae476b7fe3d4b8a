"""Case migration (迁移): preview and move running cases of an older version to the newest one."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..extensions import db
from ..services import clock, migration
from .auth import auth_required

blp = Blueprint("migration", __name__, url_prefix="/api/v1/processes", description="办件迁移")


class PreviewArgs(Schema):
    from_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class RunArgs(PreviewArgs):
    case_numbers = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                               validate=validate.Length(max=1000), allow_none=True)


class CasePreviewSchema(Schema):
    case_no = fields.String()
    tasks = fields.List(fields.String())
    movable = fields.Boolean()
    reasons = fields.List(fields.String())
    notes = fields.List(fields.String())


class PreviewSchema(Schema):
    key = fields.String()
    name = fields.String()
    source_version = fields.Integer()
    target_version = fields.Integer()
    cases = fields.List(fields.Nested(CasePreviewSchema))


class SkippedSchema(Schema):
    case_no = fields.String()
    reasons = fields.List(fields.String())


class FailedSchema(Schema):
    case_no = fields.String()
    message = fields.String()


class RunSchema(Schema):
    run_id = fields.String()
    key = fields.String()
    source_version = fields.Integer()
    target_version = fields.Integer()
    moved = fields.List(fields.String())
    skipped = fields.List(fields.Nested(SkippedSchema))
    failed = fields.List(fields.Nested(FailedSchema))


@blp.route("/<string:key>/migrations/preview")
class MigrationPreview(MethodView):
    @auth_required("analyst", "admin")
    @blp.arguments(PreviewArgs())
    @blp.response(200, PreviewSchema)
    def post(self, body, key):
        """预览：源版本上运行中的办件哪些可迁移到最新版本，哪些不能及原因（不写入任何数据）"""
        result = migration.preview(db.session, key=key, from_version=body["from_version"], now=clock.now())
        db.session.rollback()
        return result


@blp.route("/<string:key>/migrations")
class Migrations(MethodView):
    @auth_required("analyst", "admin")
    @blp.arguments(RunArgs())
    @blp.response(200, RunSchema)
    def post(self, body, key):
        """迁移：把源版本上可迁移的办件（或所列办件）迁到最新版本；每件一个事务，并记入审计"""
        return migration.run(db.session, key=key, from_version=body["from_version"],
                             case_numbers=body.get("case_numbers"), actor_id=g.user.id, now=clock.now())
