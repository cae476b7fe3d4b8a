"""Domain errors and their one mapping to HTTP. Messages are zh-CN for people."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, errors: Any = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class InvalidInput(DomainError):
    status = 422


class NotAuthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class PayloadTooLarge(DomainError):
    status = 413


class TooManyAttempts(DomainError):
    status = 429


class ConcurrentUpdate(DomainError):
    """Raised when a use case kept losing races; mapped to 503 (retry later)."""

    status = 503


class ServiceUnavailable(DomainError):
    """A component this request needs is missing on the server (e.g. the PDF renderer); 503."""

    status = 503


_HTTP_MESSAGES = {
    400: "请求格式错误",
    401: "未登录或登录已失效",
    403: "无权执行此操作",
    404: "请求的资源不存在",
    405: "不支持的请求方法",
    409: "状态冲突，请刷新后重试",
    413: "上传内容过大",
    415: "不支持的内容类型",
    422: "提交的数据无效",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误，请稍后再试",
}


def error_body(status: int, message: str | None = None, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": status, "message": message or _HTTP_MESSAGES.get(status, "请求失败")}
    if errors:
        body["errors"] = errors
    return body


def _http_errors(exc: HTTPException) -> Any:
    """webargs/flask-smorest put field errors in exc.data['messages']."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if isinstance(messages, dict) and len(messages) == 1:
        return next(iter(messages.values()))
    return messages


def _wants_page() -> bool:
    """Pages get an HTML error page; the API (and scripts asking for JSON) get JSON."""
    from flask import request
    if request.path.startswith("/api/") or request.path == "/healthz":
        return False
    wants_json = request.is_json or request.accept_mimetypes.best == "application/json"
    return not wants_json


def _reply(body: dict, status: int):
    if _wants_page():
        from flask import render_template
        return render_template("web/error.html", status=status, message=body["message"],
                               errors=body.get("errors")), status
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return _reply(error_body(exc.status, exc.message, exc.errors), exc.status)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status == 400 and exc.__class__.__name__ == "CSRFError":
            return _reply(error_body(400, "页面已过期或来源无法验证，请刷新后重试"), 400)
        return _reply(error_body(status, None, _http_errors(exc)), status)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _out_of_range(exc: Exception):
        """A value the database cannot hold (an id or page number beyond its integers): the request's
        fault, refused like any invalid input; the transaction was rolled back."""
        log.warning("value refused by the database: %s", str(exc).splitlines()[0][:200])
        return _reply(error_body(422, "提交的数值超出允许范围或格式无效"), 422)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return _reply(error_body(500), 500)
