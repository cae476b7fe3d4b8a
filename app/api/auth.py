"""Bearer-token authentication for the API, and the login endpoint."""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import Forbidden, NotAuthenticated, TooManyAttempts
from ..extensions import db, limiter
from ..services import accounts, clock
from ..services.uow import run_use_case
from .schemas import LoginSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌")


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("缺少访问令牌（Authorization: Bearer …）")
    return token.strip()


def auth_required(*roles: str):
    """Resolve the bearer token to ``g.user``; with roles, require one of them."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.user = accounts.user_for_token(db.session, _bearer(), clock.now())
            g.token = _bearer()
            if roles and not g.user.has_role(*roles):
                raise Forbidden("您的角色无权执行此操作")
            return view(*args, **kwargs)
        return wrapper
    return decorator


def user_json(user) -> dict:
    return {"id": user.id, "username": user.username, "name": user.name, "roles": user.roles,
            "department": user.department.code if user.department else None}


@blp.route("/login")
class Login(MethodView):
    decorators = [limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])]

    @blp.arguments(LoginSchema())
    @blp.response(200, TokenSchema)
    def post(self, body):
        """登录，换取访问令牌"""
        now = clock.now()
        ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])

        # the slow password check runs before the write transaction, not inside it
        user, ok = accounts.check_password(db.session, body["username"], body["password"])
        outcome, token = run_use_case(db.session, lambda: accounts.login(db.session, user, ok, now=now, ttl=ttl))
        if outcome == "locked":
            raise TooManyAttempts(f"登录失败次数过多，账号已临时锁定，请 {accounts.LOCKOUT_MINUTES} 分钟后再试")
        if outcome != "ok":
            raise NotAuthenticated("用户名或密码错误")
        return {"token": token, "expires_at": now + ttl, "user": user_json(user)}


@blp.route("/logout")
class Logout(MethodView):
    @auth_required()
    @blp.response(204)
    def post(self):
        """注销当前令牌"""
        run_use_case(db.session, lambda: accounts.revoke_token(db.session, g.token, clock.now()))
