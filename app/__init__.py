"""Application factory."""
from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from config import BASE_DIR, Config


def _secret_key(instance_dir: Path) -> str:
    """The generated signing key; several gunicorn workers starting at once all end up with the same one."""
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    draft = instance_dir / f".secret_key.{os.getpid()}.{threading.get_ident()}"
    draft.write_text(key)
    draft.chmod(0o600)
    try:
        os.link(draft, path)  # atomic: exactly one writer creates the file, complete
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        draft.unlink(missing_ok=True)
    return key


class _DatabaseInt(IntegerConverter):
    """``<int:id>`` within a database integer: a larger id is a 404, not an overflow error (500) on PostgreSQL."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(config: type[Config] | Config | None = None, **overrides) -> Flask:
    app = Flask(__name__, instance_path=str(Config.INSTANCE_DIR))
    app.config.from_object(config or Config)
    app.config.update(overrides)
    app.config.setdefault("MIGRATIONS_DIR", BASE_DIR / "migrations")
    instance = Path(app.config["INSTANCE_DIR"])
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    app.json.ensure_ascii = False
    app.url_map.converters["int"] = _DatabaseInt  # before any route is added
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _quiet_logs()

    from . import models  # noqa: F401 (register tables)
    from .api import init_api
    from .cli import register_cli
    from .database import configure_engine, engine_options
    from .errors import register_error_handlers
    from .extensions import db, limiter, migrate
    from .web import init_web

    from . import engine
    from .services import accounts, calendar, notifications
    engine.configure_cache(app.config.get("ENGINE_CACHE_SIZE", 256))
    notifications.configure(app.config.get("NOTIFY_CHANNEL"))
    accounts.configure_hasher(app.config.get("ARGON2_TIME_COST"), app.config.get("ARGON2_MEMORY_KIB"))
    accounts.configure_token_cache(app.config["TOKEN_CACHE_SECONDS"])
    calendar.configure(app.config.get("OFFICE_HOURS"), app.config.get("CALENDAR_CACHE_SECONDS", 5.0))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    db.init_app(app)
    limiter.init_app(app)
    _check_limits_in_limited_routes_only(app, limiter)
    migrate.init_app(app, db, directory=str(app.config["MIGRATIONS_DIR"]))
    with app.app_context():
        configure_engine(app)
    init_api(app)
    init_web(app)
    register_error_handlers(app)
    register_cli(app)
    _trust_proxies(app, int(app.config.get("PROXY_HOPS") or 0))
    return app


def _quiet_logs() -> None:
    """No ID or phone number in any log line; and SpiffWorkflow's per-step chatter off.

    SpiffWorkflow attaches each task's data (personal data included) to its records while its
    loggers' own level is below INFO, so those levels are set, not merely inherited.
    """
    from .services.privacy import install_log_masking
    install_log_masking()
    for name in ("spiff", "spiff.task", "spiff.workflow"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _check_limits_in_limited_routes_only(app: Flask, limiter) -> None:
    """Drop Flask-Limiter's check before every request when it has nothing to check.

    Our limits sit on the routes that need them (the logins, the portal's lookup), and a
    decorated route checks its own limit. The hook before every request exists for default
    and application-wide limits; with neither configured it only looks for them, about
    0.1 ms on each of the many requests a case makes.
    """
    if any(app.config.get(key) for key in ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")):
        return
    hooks = app.before_request_funcs.get(None, [])
    hooks[:] = [hook for hook in hooks if hook != limiter._check_request_limit]


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies, take the client address and scheme from X-Forwarded-For / -Proto
    (the login and portal limits count per client, the session cookie is Secure under TLS). Off by
    default: without a proxy those headers come from the client and must not be believed."""
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
