"""Materials of a case (一窗受理 / 一套材料 / 免证办): upload, checklist, download."""
from __future__ import annotations

from urllib.parse import quote

from flask import current_app, g, send_file
from flask.views import MethodView
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models import Case
from ..services import cases, clock, materials, processes
from ..services.blobs import BlobStore
from ..services.uow import run_use_case
from .auth import auth_required
from .cases import _may_read
from .schemas import LocalDateTime, columns_of


class _MultipartParser(FlaskParser):
    """Adds the ``multipart`` location: form fields and files of one multipart body."""

    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = _MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}


blp = Blueprint("materials", __name__, url_prefix="/api/v1", description="申请材料")


class MaterialUploadSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "材料目录编码，如 M001"})
    file = Upload(required=True, metadata={"description": "材料文件（按材料目录允许的类型）"})


class MaterialSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    version = fields.Integer()
    source = fields.String(metadata={"description": "upload（上传）或 certificate（电子证照）"})
    sha256 = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    content_type = fields.String(allow_none=True)
    extension = fields.String(allow_none=True)
    display_name = fields.String(allow_none=True)
    certificate_id = fields.Integer(allow_none=True)
    uploaded_by_id = fields.Integer(allow_none=True)
    uploaded_at = LocalDateTime()
    content_url = fields.Function(lambda m: f"/api/v1/materials/{m.id}/content" if m.source == "upload" else None)


class CertificateRefSchema(Schema):
    id = fields.Integer()
    type = fields.String()
    type_name = fields.String()
    number = fields.String()
    holder_name = fields.String()
    valid_until = fields.Date(allow_none=True)


class MatterRefSchema(Schema):
    code = fields.String()
    name = fields.String()
    department = fields.String()


class ChecklistItemSchema(Schema):
    code = fields.String()
    name = fields.String()
    required = fields.Boolean()
    deficiency_allowed = fields.Boolean()
    commitment_allowed = fields.Boolean()
    licence_type = fields.String(allow_none=True)
    file_types = fields.List(fields.String())
    departments = fields.List(fields.String())
    matters = fields.List(fields.Nested(MatterRefSchema))
    status = fields.String(metadata={"description": "uploaded / certificate（免证办）/ missing"})
    version = fields.Integer(allow_none=True, metadata={"description": "最新版本号"})
    material_id = fields.Integer(allow_none=True, metadata={"description": "最新版本的材料 id"})
    certificate = fields.Nested(CertificateRefSchema, allow_none=True)
    versions = fields.List(fields.Nested(MaterialSchema))


def _readable_case(case_no: str) -> Case:
    case = cases.get_case(db.session, case_no)
    if not _may_read(g.user, case):
        raise Forbidden("无权查看该办件的材料")
    return case


def _store() -> BlobStore:
    return BlobStore(current_app.config["INSTANCE_DIR"])


@blp.route("/cases/<string:case_no>/materials")
class CaseMaterials(MethodView):
    @auth_required()
    @blp.response(200, ChecklistItemSchema(many=True))
    def get(self, case_no):
        """材料清单：一套材料（同一材料只收一次）、已上传版本、电子证照免提交"""
        case = _readable_case(case_no)
        catalog = processes.deployed(db.session, case.process_definition_id).catalog
        return materials.checklist(db.session, case, catalog)

    @auth_required("clerk", "admin")
    @blp.arguments(MaterialUploadSchema(), location="multipart")
    @blp.response(201, MaterialSchema)
    def post(self, body, case_no):
        """上传材料（multipart 字段 code 与 file）；同一材料再次上传即为新版本（补正）"""
        case = _readable_case(case_no)
        limit = current_app.config["MATERIAL_MAX_BYTES"]
        data = body["file"].stream.read(limit + 1)  # one byte more tells "too large" apart
        with _store().staged(data) as blob:  # synced before the transaction, kept by it
            return run_use_case(db.session, lambda: columns_of(materials.upload(
                db.session, case=case, code=body["code"], filename=body["file"].filename, data=data,
                actor_id=g.user.id, now=clock.now(), blob=blob, max_bytes=limit)))


def _content_disposition(material) -> str:
    fallback = f"material-{material.id}.{material.extension or 'bin'}"  # plain ASCII for old clients
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(material.display_name or fallback, safe='')}"


def material_download(material_id: int, case_id: int | None = None):
    """The file of an uploaded material, as an attachment, for a user (``g.user``) who may read
    its case; with ``case_id``, only a material of that case (the case page's link)."""
    material = materials.get_material(db.session, material_id)
    if case_id is not None and material.case_id != case_id:
        raise NotFound("材料不存在")
    case = db.session.get(Case, material.case_id)
    if not _may_read(g.user, case):
        raise Forbidden("无权查看该办件的材料")
    if material.source != "upload" or not material.sha256:
        raise NotFound("该材料由电子证照提供（免证办），没有可下载的文件")
    handle = _store().open(material.sha256)
    resp = send_file(handle, mimetype=material.content_type or "application/octet-stream",
                     as_attachment=True, download_name=f"material-{material.id}",
                     conditional=False, etag=False, max_age=None)
    resp.headers["Content-Disposition"] = _content_disposition(material)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    resp.content_length = material.size
    return resp


@blp.route("/materials/<int:material_id>/content")
class MaterialContent(MethodView):
    @auth_required()
    @blp.doc(responses={"200": {"description": "材料文件（以附件形式下载）"}})
    def get(self, material_id):
        """下载材料文件（仅限可查看该办件的用户）"""
        return material_download(material_id)
