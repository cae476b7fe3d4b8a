"""Application factory."""
from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import Flask

from config import BASE_DIR, Config


def _secret_key(instance_dir: Path) -> str:
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from . import models  # noqa: F401 (register tables)
    from .api import init_api
    from .cli import register_cli
    from .database import configure_engine
    from .errors import register_error_handlers
    from .extensions import db, limiter, migrate
    from .web import init_web

    from . import engine
    from .services import accounts, calendar, notifications
    engine.configure_cache(app.config.get("ENGINE_CACHE_SIZE", 256))
    notifications.configure(app.config.get("NOTIFY_CHANNEL"))
    accounts.configure_hasher(app.config.get("ARGON2_TIME_COST"), app.config.get("ARGON2_MEMORY_KIB"))
    calendar.configure(app.config.get("OFFICE_HOURS"), app.config.get("CALENDAR_CACHE_SECONDS", 5.0))
    db.init_app(app)
    limiter.init_app(app)
    migrate.init_app(app, db, directory=str(app.config["MIGRATIONS_DIR"]))
    with app.app_context():
        configure_engine(app)
    init_api(app)
    init_web(app)
    register_error_handlers(app)
    register_cli(app)
    return app
