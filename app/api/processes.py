"""Process definitions: deploy an uploaded .bpmn file, list versions."""
from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import InvalidInput, PayloadTooLarge
from ..extensions import db
from ..services import clock, processes
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import ProcessSchema

blp = Blueprint("processes", __name__, url_prefix="/api/v1/processes", description="流程定义")


@blp.route("")
class Processes(MethodView):
    @auth_required()
    @blp.response(200, ProcessSchema(many=True))
    def get(self):
        """已部署流程（每个流程的最新版本）"""
        return processes.latest_versions(db.session)

    @auth_required("analyst", "admin")
    @blp.response(201, ProcessSchema)
    def post(self):
        """上传 .bpmn 文件部署新版本（multipart 字段 file，可选字段 catalog 为事项目录 YAML）"""
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("请以 multipart/form-data 上传字段 file（.bpmn 文件）")
        limit = current_app.config["BPMN_MAX_BYTES"]
        xml = upload.stream.read(limit + 1)
        if len(xml) > limit:
            raise PayloadTooLarge(f"文件过大，上限为 {limit // (1024 * 1024)} MB")
        filename = (upload.filename or "process.bpmn").rsplit("/", 1)[-1][:255]
        catalog_text = None
        if "catalog" in request.files:
            raw = request.files["catalog"].stream.read(limit + 1)
            if len(raw) > limit:
                raise PayloadTooLarge("事项目录文件过大")
            try:
                catalog_text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("事项目录必须是 UTF-8 编码的 YAML") from None
        return run_use_case(db.session, lambda: processes.deploy(
            db.session, xml, filename=filename, actor_id=g.user.id, now=clock.now(),
            catalog_text=catalog_text))


@blp.route("/<string:key>/versions")
class ProcessVersions(MethodView):
    @auth_required()
    @blp.response(200, ProcessSchema(many=True))
    def get(self, key):
        """某流程的全部版本"""
        return processes.versions(db.session, key)
