"""Test runs (模拟运行): a scenario against the latest deployed version, in a sandbox (analyst)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..errors import InvalidInput
from ..extensions import db
from ..services import scenarios
from .auth import auth_required

blp = Blueprint("scenarios", __name__, url_prefix="/api/v1/processes", description="流程模拟运行")


class CheckSchema(Schema):
    check = fields.String()
    expected = fields.Raw(allow_none=True)
    actual = fields.Raw(allow_none=True)
    ok = fields.Boolean()


class TestRunSchema(Schema):
    scenario = fields.String()
    description = fields.String()
    process_key = fields.String()
    process_name = fields.String()
    version = fields.Integer(allow_none=True)
    source = fields.String(metadata={"description": "deployed（已部署的最新版本）"})
    started_at = fields.String()
    finished_at = fields.String()
    status = fields.String(metadata={"description": "running / completed / terminated"})
    end_event = fields.String(allow_none=True)
    waiting_messages = fields.List(fields.String())
    path = fields.List(fields.Dict(), metadata={"description": "依次经过的元素（element_id、name、kind、at）"})
    tasks = fields.List(fields.Dict(), metadata={"description": "生成的任务，含办理部门和时限"})
    timers = fields.List(fields.Dict())
    effects = fields.List(fields.Dict(), metadata={"description": "服务任务请求（仅记录，不执行）"})
    deadlines = fields.Dict()
    error = fields.Dict(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema))
    passed = fields.Boolean()


@blp.route("/<string:key>/test-runs")
class TestRuns(MethodView):
    @auth_required("analyst", "admin")
    @blp.response(200, TestRunSchema)
    def post(self, key):
        """以场景（JSON 正文，格式见 docs/scenarios.md）模拟运行该流程的最新部署版本；不产生任何办件数据"""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput("请求正文必须是场景 JSON 对象")
        result = scenarios.run_deployed(db.session, key, body)
        db.session.rollback()  # read only: a test run stores nothing
        return result
