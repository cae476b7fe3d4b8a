"""Signing in and out of the web workspace."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from ..errors import DomainError
from ..extensions import db, limiter
from ..services import accounts, clock
from ..services.uow import run_use_case
from .session import current_user, home_endpoint

bp = Blueprint("signin", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host) may be a redirect target."""
    if not target:
        return None
    parts = urlparse(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """登录页"""
    if request.method == "GET":
        user = current_user()
        if user is not None:
            return redirect(url_for(home_endpoint(user)))
        return render_template("web/login.html", username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    now = clock.now()
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    user, ok = accounts.check_password(db.session, username, password)
    outcome, token = run_use_case(db.session, lambda: accounts.login(db.session, user, ok, now=now, ttl=ttl))
    if outcome != "ok":
        message = (f"登录失败次数过多，账号已临时锁定，请 {accounts.LOCKOUT_MINUTES} 分钟后再试"
                   if outcome == "locked" else "用户名或密码错误")
        return render_template("web/login.html", username=username, error=message), 401
    session.clear()
    session["token"] = token
    session.permanent = False
    actor = accounts.user_for_token(db.session, token, now)
    return redirect(_safe_next(request.args.get("next")) or url_for(home_endpoint(actor)))


@bp.post("/logout")
def logout():
    """注销（令牌同时失效）"""
    token = session.pop("token", None)
    if token:
        try:
            run_use_case(db.session, lambda: accounts.revoke_token(db.session, token, clock.now()))
        except DomainError:  # an already revoked token: the session ends all the same
            db.session.rollback()
    session.clear()
    flash("已安全退出", "info")
    return redirect(url_for("signin.login"))
