"""Authoring (analyst): a process's draft (diagram, forms, catalog), deploying it, and version diffs."""
from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..extensions import db
from ..services import clock, drafts, drafts_diff
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import LocalDateTime, ProcessSchema, StrictSchema

blp = Blueprint("authoring", __name__, url_prefix="/api/v1/processes", description="流程建模（草稿、部署、版本比较）")
ANALYSTS = ("analyst", "admin")


class ProblemSchema(Schema):
    element_id = fields.String()
    message = fields.String()


class DraftSchema(Schema):
    process_key = fields.String()
    name = fields.String()
    base_version = fields.Integer(allow_none=True)
    bpmn_xml = fields.String()
    forms = fields.Dict(keys=fields.String(), values=fields.Dict())
    catalog_yaml = fields.String(allow_none=True)
    bpmn_problems = fields.List(fields.Nested(ProblemSchema))
    catalog_problems = fields.List(fields.String())
    revision = fields.Integer()
    saved = fields.Boolean()
    deployable = fields.Boolean()
    updated_by = fields.String(allow_none=True)
    updated_at = LocalDateTime(allow_none=True)


class _Revisioned(StrictSchema):
    revision = fields.Integer(load_default=None, allow_none=True, metadata={"description": "保存时的草稿版本号，用于发现并发修改"})


class BpmnBodySchema(_Revisioned):
    xml = fields.String(required=True, metadata={"description": "BPMN 2.0 XML"})


class FormBodySchema(_Revisioned):
    schema = fields.Dict(required=True, metadata={"description": "form-js 表单 JSON"})


class CatalogBodySchema(_Revisioned):
    yaml = fields.String(required=True, metadata={"description": "事项目录 YAML"})


class DeployBodySchema(_Revisioned):
    pass


class DiffArgsSchema(Schema):
    from_ = fields.Integer(required=True, data_key="from", validate=validate.Range(min=1, max=2**31 - 1))
    to = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))


class FieldChangeSchema(Schema):
    field = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class ElementChangeSchema(Schema):
    element_id = fields.String()
    kind = fields.String()
    name = fields.String()
    fields = fields.List(fields.Nested(FieldChangeSchema))


class DiffSchema(Schema):
    process_key = fields.String()
    from_ = fields.Integer(data_key="from", attribute="from")
    to = fields.Integer()
    added = fields.List(fields.Nested(ElementChangeSchema))
    removed = fields.List(fields.Nested(ElementChangeSchema))
    changed = fields.List(fields.Nested(ElementChangeSchema))


def _folder():
    return current_app.config["PROCESSES_DIR"]


def _dump(draft: drafts.Draft) -> dict:
    return draft.to_dict()


@blp.route("/<string:key>/draft")
class Draft(MethodView):
    @auth_required(*ANALYSTS)
    @blp.response(200, DraftSchema)
    def get(self, key):
        """草稿（尚未保存时为最新部署版本）：流程图、已修改的表单、事项目录及其问题"""
        return _dump(drafts.current(db.session, key, processes_dir=_folder()))

    @auth_required(*ANALYSTS)
    @blp.response(204)
    def delete(self, key):
        """放弃草稿"""
        run_use_case(db.session, lambda: drafts.discard(db.session, key, actor_id=g.user.id, now=clock.now()))


@blp.route("/<string:key>/draft/bpmn")
class DraftBpmn(MethodView):
    @auth_required(*ANALYSTS)
    @blp.response(200, DraftSchema)
    def get(self, key):
        """草稿流程图（与草稿相同）"""
        return _dump(drafts.current(db.session, key, processes_dir=_folder()))

    @auth_required(*ANALYSTS)
    @blp.arguments(BpmnBodySchema())
    @blp.response(200, DraftSchema)
    def put(self, body, key):
        """保存流程图：运行部署校验与规范检查，问题按元素列出；有问题也会保存，但不能部署"""
        return _dump(run_use_case(db.session, lambda: drafts.save_bpmn(
            db.session, key, body["xml"], actor_id=g.user.id, now=clock.now(), revision=body["revision"],
            processes_dir=_folder())))


@blp.route("/<string:key>/draft/forms/<string:form_id>")
class DraftForm(MethodView):
    @auth_required(*ANALYSTS)
    @blp.arguments(FormBodySchema())
    @blp.response(200, DraftSchema)
    def put(self, body, key, form_id):
        """保存表单（form-js JSON）到草稿；表单有问题时不保存"""
        return _dump(run_use_case(db.session, lambda: drafts.save_form(
            db.session, key, form_id, body["schema"], actor_id=g.user.id, now=clock.now(),
            revision=body["revision"], processes_dir=_folder())))


@blp.route("/<string:key>/draft/catalog")
class DraftCatalog(MethodView):
    @auth_required(*ANALYSTS)
    @blp.arguments(CatalogBodySchema())
    @blp.response(200, DraftSchema)
    def put(self, body, key):
        """保存事项目录（YAML）：校验并列出问题；有问题也会保存，但不能部署"""
        return _dump(run_use_case(db.session, lambda: drafts.save_catalog(
            db.session, key, body["yaml"], actor_id=g.user.id, now=clock.now(), revision=body["revision"],
            processes_dir=_folder())))


@blp.route("/<string:key>/draft/deploy")
class DraftDeploy(MethodView):
    @auth_required(*ANALYSTS)
    @blp.arguments(DeployBodySchema())
    @blp.response(201, ProcessSchema)
    def post(self, body, key):
        """部署草稿为新版本（草稿须无问题）"""
        return run_use_case(db.session, lambda: drafts.deploy(
            db.session, key, actor_id=g.user.id, now=clock.now(), revision=body["revision"]))


@blp.route("/<string:key>/diff")
class VersionDiff(MethodView):
    @auth_required(*ANALYSTS)
    @blp.arguments(DiffArgsSchema(), location="query")
    @blp.response(200, DiffSchema)
    def get(self, args, key):
        """两个版本之间新增、删除和修改的元素"""
        return drafts_diff.version_diff(db.session, key, args["from_"], args["to"])
