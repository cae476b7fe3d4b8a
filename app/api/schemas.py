"""marshmallow schemas for the REST API (input validation and output shape)."""
from __future__ import annotations

from types import SimpleNamespace

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import inspect as sa_inspect

from ..services.clock import local


def columns_of(row) -> SimpleNamespace:
    """A row's column values, taken inside the use case: the commit expires the row, and
    answering from it afterwards would read it again."""
    return SimpleNamespace(**{attr.key: getattr(row, attr.key) for attr in sa_inspect(row).mapper.column_attrs})


class LocalDateTime(fields.DateTime):
    """ISO 8601 in Asia/Shanghai with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else local(value).isoformat()


class StrictSchema(Schema):
    class Meta:
        ordered = True


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenSchema(Schema):
    token = fields.String()
    expires_at = LocalDateTime()
    user = fields.Dict()


class DepartmentCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))


class DepartmentSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    department = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=128))
    roles = fields.List(fields.String(validate=validate.Length(max=32)), required=True,
                        validate=validate.Length(min=1, max=5))


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    department = fields.Function(lambda u: u["department"] if isinstance(u, dict) else (
        u.department.code if u.department else None))
    department_name = fields.Function(lambda u: u["department_name"] if isinstance(u, dict) else (
        u.department.name if u.department else None))
    roles = fields.List(fields.String())


class ProcessSchema(Schema):
    id = fields.Integer()
    process_key = fields.String(attribute="key")
    name = fields.String()
    version = fields.Integer()
    sha256 = fields.String()
    deployed_at = LocalDateTime()
    deployed_by_id = fields.Integer(allow_none=True)
    user_tasks = fields.Function(lambda d: d.model.get("user_tasks", []))
    start_form_key = fields.Function(lambda d: d.model.get("start_form_key"))


class ApplicantSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.String(required=True, validate=validate.Length(min=1, max=32))


class CaseCreateSchema(StrictSchema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=128))
    applicant = fields.Nested(ApplicantSchema, required=True)
    data = fields.Dict(load_default=dict)


class CaseQueryArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(["running", "completed", "terminated"]))


class TaskSchema(Schema):
    id = fields.String()
    case_no = fields.String()
    name = fields.String()
    element_id = fields.String()
    department = fields.String(attribute="lane")
    state = fields.String()
    form_key = fields.String(allow_none=True)
    created_at = LocalDateTime()
    due_at = LocalDateTime(allow_none=True)
    light = fields.String(allow_none=True, metadata={"description": "green / yellow / red（未办结任务）"})
    completed_at = LocalDateTime(allow_none=True)
    completed_by_id = fields.Integer(allow_none=True)


class TaskDetailSchema(TaskSchema):
    service_name = fields.String()
    matter = fields.Dict(allow_none=True, metadata={"description": "事项目录中本任务对应的事项"})
    form = fields.Dict(allow_none=True, metadata={"description": "form-js 表单"})
    case_data = fields.Dict(metadata={"description": "本事项所需的申请数据（按角色脱敏）"})


class TaskQueryArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    state = fields.String(load_default="ready",
                          validate=validate.OneOf(["ready", "completed", "cancelled", "error", "all"]))


class TaskCompleteSchema(StrictSchema):
    data = fields.Dict(load_default=dict)


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = LocalDateTime()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    object_type = fields.String(allow_none=True)
    object_id = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class CaseSummarySchema(Schema):
    id = fields.Integer()
    case_no = fields.String()
    process_key = fields.String()
    service_name = fields.String()
    status = fields.String()
    applicant_name = fields.String()
    created_at = LocalDateTime()
    completed_at = LocalDateTime(allow_none=True)
    deadline = LocalDateTime(allow_none=True)


class CaseSchema(Schema):
    """Serialises the dict built by ``cases.case_view``."""

    id = fields.Integer()
    case_no = fields.String()
    process_key = fields.String()
    process_version = fields.Integer()
    service_name = fields.String()
    status = fields.String()
    applicant = fields.Dict()
    data = fields.Dict()
    end_event = fields.String(allow_none=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()
    completed_at = LocalDateTime(allow_none=True)
    deadline = LocalDateTime(allow_none=True, metadata={"description": "承诺时限（无则为法定时限）"})
    statutory_deadline = LocalDateTime(allow_none=True)
    deadline_estimated = fields.Boolean(metadata={"description": "期限所在年份的放假安排尚未公布"})
    light = fields.String(allow_none=True)
    suspended = fields.Boolean()
    accepted_at = LocalDateTime(allow_none=True, metadata={"description": "受理时间（收件时间为 created_at）"})
    acceptance = fields.String(allow_none=True, metadata={"description": "window 窗口受理 / deemed 逾期未告知补正视为受理"})
    query_code = fields.String(allow_none=True, metadata={"description": "查询码（仅综合窗口与管理员可见）"})
    waiting_messages = fields.List(fields.String(), metadata={"description": "办件正在等待的消息，如 materials_supplied"})
    tasks = fields.List(fields.Nested(TaskSchema))


class FormSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    schema = fields.Dict()
    created_at = LocalDateTime()
