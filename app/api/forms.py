"""form-js form definitions: read, and upload a new version (analyst)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..services import clock, forms
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import FormSchema

blp = Blueprint("forms", __name__, url_prefix="/api/v1/forms", description="表单（form-js）")


@blp.route("")
class Forms(MethodView):
    @auth_required("analyst", "admin")
    @blp.response(201, FormSchema)
    def post(self):
        """上传 form-js 表单定义（JSON 正文），生成新版本"""
        schema = request.get_json(silent=True)
        if not isinstance(schema, dict):
            raise InvalidInput("请求正文必须是 form-js JSON 对象")
        return run_use_case(db.session, lambda: forms.save_form(db.session, schema, clock.now()))


@blp.route("/<string:key>")
class FormDetail(MethodView):
    @auth_required()
    @blp.response(200, FormSchema)
    def get(self, key):
        """读取表单的最新版本"""
        form = forms.latest(db.session, key)
        if form is None:
            raise NotFound(f"表单“{key}”不存在")
        return form
