"""Who is signed in on a page: the session holds a login token, resolved on every request."""
from __future__ import annotations

from functools import wraps

from flask import flash, g, redirect, request, session, url_for

from ..errors import DomainError, Forbidden
from ..extensions import db
from ..services import accounts, clock

# each role's home page after login (endpoint names of the workspace blueprints)
HOME_BY_ROLE = (("clerk", "desk.index"), ("approver", "inbox.index"), ("manager", "pages.cases"),
                ("analyst", "pages.processes"), ("admin", "pages.cases"))


_UNKNOWN = object()


def current_user():
    """The signed-in Actor, or None (an expired or revoked token ends the session).

    Resolved once per request (kept on the request, not on ``g``, which an app
    context may share across requests); also set as ``g.user`` for the services'
    masking rules, as the API does.
    """
    user = getattr(request, "_web_user", _UNKNOWN)
    if user is not _UNKNOWN:
        return user
    user, token = None, session.get("token")
    if token:
        try:
            user = accounts.user_for_token(db.session, token, clock.now())
        except DomainError:
            session.clear()
    request._web_user = user
    g.user = user
    return user


def login_required(*roles: str):
    """The page needs a signed-in user (with one of ``roles``, when given)."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                flash("请先登录", "info")
                return redirect(url_for("signin.login", next=request.full_path))
            if roles and not user.has_role(*roles):
                raise Forbidden("您的角色无权访问此页面")
            return view(*args, **kwargs)
        return wrapper
    return decorator


def home_endpoint(user) -> str:
    for role, endpoint in HOME_BY_ROLE:
        if user.has_role(role):
            return endpoint
    return "pages.cases"
