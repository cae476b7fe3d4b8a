"""The web workspace: server-rendered pages (Jinja, zh-CN) over the same services as the API.

Sessions are signed cookies holding a revocable, expiring login token (the same
tokens as the API). Every form posts with a CSRF token (Flask-WTF); the API
blueprints, which take bearer tokens and no cookies, are exempt. Every reply
carries security headers, and the CSP allows only our own vendored assets.
"""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
       "object-src 'none'")


class _SessionInterface(SecureCookieSessionInterface):
    """HttpOnly and SameSite=Lax always; Secure whenever the request came over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, req):
        # no cookie, nothing to verify: an API request (bearer token) builds no signing serializer
        if app.secret_key and not req.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, req)


def web_modules():
    from . import auth, authoring, calendar_page, case, dashboard, desk, followups, inbox, incidents, migration, pages, portal, scenarios, task
    return [auth, pages, case, desk, inbox, portal, calendar_page, followups, task, dashboard, authoring, migration, incidents, scenarios]


def init_web(app: Flask) -> None:
    """Register the pages; call after the API, whose blueprints are exempt from CSRF."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # bound to the session, which ends with its token
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    for blueprint in list(app.blueprints.values()):
        csrf.exempt(blueprint)  # the API: bearer tokens, no cookies
    for module in web_modules():
        app.register_blueprint(module.bp)
    from .session import current_user
    app.jinja_env.globals["current_user"] = current_user
    from .filters import register_filters
    register_filters(app)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/api/docs"):  # vendored swagger-ui runs inline scripts
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response
