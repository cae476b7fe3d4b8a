"""Configuration. Defaults, overridden by environment variables (see README)."""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """A setting the app cannot start with; the message is for the operator (zh-CN)."""


AUTO_WORKERS_MAX = 4  # SQLite has one writer, and each process holds its own app: more rarely pays


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity on Linux, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def worker_count(raw: str | int) -> int:
    """``APP_WORKERS`` as a number of server processes: ``auto`` (one per CPU this process may
    use, at most AUTO_WORKERS_MAX; 1 where processes cannot be forked), or an integer ≥ 1."""
    text = str(raw).strip()
    if text.lower() == "auto":
        return max(1, min(available_cpus(), AUTO_WORKERS_MAX)) if hasattr(os, "fork") else 1
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(f"APP_WORKERS 必须是 auto 或不小于 1 的整数（当前为“{raw}”）")
    return int(text)


class Config:
    INSTANCE_DIR = Path(os.environ.get("APP_INSTANCE_DIR", BASE_DIR / "instance"))
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'binglian.db'}")
    # pool_pre_ping is added for a database server (see app.database.engine_options)
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SECRET_KEY = os.environ.get("APP_SECRET_KEY")  # generated into instance/ when unset
    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = int(os.environ.get("PORT", "5000"))
    THREADS = int(os.environ.get("APP_THREADS", "8"))  # per server process
    # server processes: 1 is waitress in run.py's own process; more is gunicorn (gthread) with that many
    # workers, and the timer scheduler in a process of its own; auto is one per CPU (see worker_count,
    # which checks the value when run.py starts)
    WORKERS = os.environ.get("APP_WORKERS", "auto")
    ADMIN_PASSWORD = os.environ.get("APP_ADMIN_PASSWORD")
    DEMO = _bool("APP_DEMO", True)
    DEMO_PASSWORD = os.environ.get("APP_DEMO_PASSWORD", "Demo@2026")
    REGION_CODE = os.environ.get("APP_REGION_CODE", "410600")
    TOKEN_TTL_HOURS = int(os.environ.get("APP_TOKEN_TTL_HOURS", "12"))
    # a resolved token is trusted this long without reading it again; with several processes a
    # logout elsewhere takes effect at most this late (0: read the token on every request)
    TOKEN_CACHE_SECONDS = float(os.environ.get("APP_TOKEN_CACHE_SECONDS", "1"))
    IDEMPOTENCY_KEEP_DAYS = int(os.environ.get("APP_IDEMPOTENCY_KEEP_DAYS", "7"))  # how long a new-case key replays
    # per client address, on top of the per-account lockout; memory storage is per process,
    # so with several workers point RATELIMIT_STORAGE_URI at a shared store (e.g. memcached://…)
    LOGIN_RATE_LIMIT = os.environ.get("APP_LOGIN_RATE_LIMIT", "30 per minute")
    PORTAL_RATE_LIMIT = os.environ.get("APP_PORTAL_RATE_LIMIT", "10 per minute")  # wrong query codes per address
    RATELIMIT_STORAGE_URI = os.environ.get("APP_RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # reverse proxies in front of the app that set X-Forwarded-For / -Proto; 0 trusts no such header
    PROXY_HOPS = int(os.environ.get("APP_PROXY_HOPS", "0"))
    # SQLite durability: FULL survives power loss; NORMAL (WAL) survives a crash of the app.
    SQLITE_SYNCHRONOUS = os.environ.get("APP_SQLITE_SYNCHRONOUS", "NORMAL")
    SCHEDULER_ENABLED = _bool("APP_SCHEDULER", True)
    # office hours of the hall, for limits counted in working hours (e.g. 企业开办 in 3 hours)
    OFFICE_HOURS = os.environ.get("APP_OFFICE_HOURS", "09:00-12:00,13:00-17:00")
    NOTIFY_CHANNEL = os.environ.get("APP_NOTIFY_CHANNEL", "outbox")  # see app/services/notifications.py
    PROCESSES_DIR = BASE_DIR / "processes"
    FORMS_DIR = BASE_DIR / "forms"
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    BPMN_MAX_BYTES = 2 * 1024 * 1024
    MATERIAL_MAX_BYTES = int(os.environ.get("APP_MATERIAL_MAX_MB", "10")) * 1024 * 1024
    USE_CASE_RETRIES = 20
    # live workflows kept per process between a case's steps (see app/engine/cache.py); 0 turns it off
    ENGINE_CACHE_SIZE = int(os.environ.get("APP_ENGINE_CACHE_SIZE", "256"))

    # flask-smorest / OpenAPI
    API_TITLE = "并联审批 Binglian API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    JSON_AS_ASCII = False


class TestConfig(Config):
    TESTING = True
    DEMO = False
    SCHEDULER_ENABLED = False
    ADMIN_PASSWORD = "admin-test-pw"
    SQLITE_SYNCHRONOUS = "OFF"
    CALENDAR_CACHE_SECONDS = 0.0  # each test has its own database
    RATELIMIT_ENABLED = False     # one test turns it on; the others log in many times
    ARGON2_TIME_COST = 1          # cheap hashes in tests only; production keeps argon2's defaults
    ARGON2_MEMORY_KIB = 1024
