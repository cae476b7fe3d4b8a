"""Departments and users (admin)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ..extensions import db
from ..models import Department, User
from ..services import accounts, clock
from ..services.uow import run_use_case
from .auth import auth_required
from .schemas import DepartmentCreateSchema, DepartmentSchema, UserCreateSchema, UserSchema

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="部门与用户")


@blp.route("/departments")
class Departments(MethodView):
    @auth_required()
    @blp.response(200, DepartmentSchema(many=True))
    def get(self):
        """部门列表"""
        return db.session.execute(select(Department).order_by(Department.id)).scalars().all()

    @auth_required("admin")
    @blp.arguments(DepartmentCreateSchema())
    @blp.response(201, DepartmentSchema)
    def post(self, body):
        """新增部门"""
        return run_use_case(db.session, lambda: accounts.create_department(
            db.session, code=body["code"], name=body["name"], actor_id=g.user.id, now=clock.now()))


@blp.route("/users")
class Users(MethodView):
    @auth_required("admin")
    @blp.response(200, UserSchema(many=True))
    def get(self):
        """用户列表"""
        return db.session.execute(select(User).order_by(User.id)).scalars().all()

    @auth_required("admin")
    @blp.arguments(UserCreateSchema())
    @blp.response(201, UserSchema)
    def post(self, body):
        """新增用户"""
        return run_use_case(db.session, lambda: accounts.create_user(
            db.session, actor_id=g.user.id, now=clock.now(), **body))


@blp.route("/me")
class Me(MethodView):
    @auth_required()
    @blp.response(200, UserSchema)
    def get(self):
        """当前用户"""
        me = g.user
        return {"id": me.id, "username": me.username, "name": me.name, "roles": list(me.roles),
                "department": me.department_code, "department_name": me.department_name}
