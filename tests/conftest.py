"""Shared fixtures: a migrated template database copied per test, apps, clients, a live server."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app import create_app
from app.database import upgrade_schema
from app.extensions import db
from app.services import clock, seed
from app.services.uow import run_use_case
from config import BASE_DIR, TestConfig

DATA = Path(__file__).parent / "data"
ADMIN_PASSWORD = TestConfig.ADMIN_PASSWORD
DEMO_PASSWORD = "Demo@2026-test"
# a server with the demo data takes seconds to start, and much longer on a machine shared with other jobs
STARTUP_SECONDS = 90


def _make_app(url: str, instance: Path):
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, INSTANCE_DIR=instance)


def _prepare(url: str, instance: Path) -> None:
    """Migrations, plus admin, demo organisation and bundled services."""
    app = _make_app(url, instance)
    upgrade_schema(app)
    with app.app_context():
        now = clock.now()
        run_use_case(db.session, lambda: seed.ensure_admin(db.session, ADMIN_PASSWORD, now))
        run_use_case(db.session, lambda: seed.load_demo(
            db.session, password=DEMO_PASSWORD, processes_dir=BASE_DIR / "processes",
            forms_dir=BASE_DIR / "forms", now=now))
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def clock_at():
    """Move the app's clock: ``clock_at(moment)`` returns the ManualClock; the real clock is back afterwards."""
    def use(moment):
        manual = clock.ManualClock(moment)
        clock.use(manual)
        return manual
    yield use
    clock.use(clock.SystemClock())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    _prepare(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def pg_databases(tmp_path_factory):
    """A PostgreSQL server (throwaway unless TEST_DATABASE_URL is set) and a migrated template."""
    from .pg import Cluster, Databases
    cluster = None
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        cluster = Cluster().start()
        admin_url = cluster.url("postgres")
    dbs = Databases(admin_url)
    template = dbs.create()
    _prepare(admin_url.rsplit("/", 1)[0] + "/" + template, tmp_path_factory.mktemp("pgtemplate"))
    dbs.template = template
    yield dbs
    if cluster:
        cluster.stop()
    else:
        dbs.drop(template)


BACKENDS = [p.strip() for p in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if p.strip()]


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A fresh, migrated, seeded database for one test, on each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "case.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    dbs = request.getfixturevalue("pg_databases")
    name = dbs.create(template=dbs.template)
    yield dbs.admin_url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + name
    dbs.drop(name)


@pytest.fixture
def app(database_url, tmp_path):
    app = _make_app(database_url, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


class ApiClient:
    """Thin helper over a Flask test client or a live base URL, speaking JSON."""

    def __init__(self, client=None, base_url: str | None = None):
        self.client = client
        self.base_url = base_url
        self.token: str | None = None

    def _headers(self, token):
        token = token or self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method, path, json=None, token=None, **kwargs):
        headers = {**self._headers(token), **kwargs.pop("headers", {})}
        if self.client is not None:
            resp = self.client.open(path, method=method, json=json, headers=headers, **kwargs)
            resp.body = resp.get_json(silent=True)
            return resp
        resp = requests.request(method, self.base_url + path, json=json, headers=headers, timeout=30, **kwargs)
        resp.status_code, resp.body = resp.status_code, (resp.json() if resp.content else None)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def login(self, username, password=DEMO_PASSWORD) -> str:
        resp = self.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.body
        return resp.body["token"]

    def as_user(self, username, password=DEMO_PASSWORD) -> "ApiClient":
        other = ApiClient(self.client, self.base_url)
        other.token = other.login(username, password)
        return other


@pytest.fixture
def api(app) -> ApiClient:
    return ApiClient(client=app.test_client())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`python run.py` in a subprocess, exactly as users start it; in one process (waitress)
    unless ``extra_env`` sets APP_WORKERS (the default, ``auto``, is one process per CPU). A
    variable given as None in ``extra_env`` is left unset."""

    def __init__(self, database_url: str, instance: Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": database_url, "PORT": str(self.port),
               "APP_INSTANCE_DIR": str(instance), "APP_DEMO": "0",
               "APP_ADMIN_PASSWORD": ADMIN_PASSWORD, "APP_WORKERS": "1", **(extra_env or {})}
        self.env = {name: value for name, value in env.items() if value is not None}  # None: unset
        self.proc: subprocess.Popen | None = None
        self.log = instance / f"server-{self.port}.log"

    def start(self) -> "LiveServer":
        self.proc = subprocess.Popen([sys.executable, str(BASE_DIR / "run.py")], cwd=BASE_DIR, env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # gunicorn listens before its workers answer
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in {STARTUP_SECONDS} s")

    def children(self) -> list[int]:
        """The server process's own children (with APP_WORKERS > 1: gunicorn workers and the scheduler)."""
        if self.proc is None:
            return []
        pid = self.proc.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def live_server(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path).start()
    yield server
    server.stop()
