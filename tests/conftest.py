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


def _make_app(db_path: Path, instance: Path):
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}", INSTANCE_DIR=instance)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """Migrations applied once, plus admin, demo organisation and bundled services."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    app = _make_app(path, folder)
    upgrade_schema(app)
    with app.app_context():
        now = clock.now()
        run_use_case(db.session, lambda: seed.ensure_admin(db.session, ADMIN_PASSWORD, now))
        run_use_case(db.session, lambda: seed.load_demo(
            db.session, password=DEMO_PASSWORD, processes_dir=BASE_DIR / "processes",
            forms_dir=BASE_DIR / "forms", now=now))
        db.session.remove()
        db.engine.dispose()
    return path


@pytest.fixture
def db_path(template_db, tmp_path) -> Path:
    path = tmp_path / "case.db"
    shutil.copy(template_db, path)
    return path


@pytest.fixture
def app(db_path, tmp_path):
    app = _make_app(db_path, tmp_path)
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
    """`python run.py` in a subprocess, exactly as users start it."""

    def __init__(self, db_path: Path, instance: Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "PORT": str(self.port),
                    "APP_INSTANCE_DIR": str(instance), "APP_DEMO": "0",
                    "APP_ADMIN_PASSWORD": ADMIN_PASSWORD, **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = instance / f"server-{self.port}.log"

    def start(self) -> "LiveServer":
        self.proc = subprocess.Popen([sys.executable, str(BASE_DIR / "run.py")], cwd=BASE_DIR, env=self.env,
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

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
def live_server(db_path, tmp_path):
    server = LiveServer(db_path, tmp_path).start()
    yield server
    server.stop()
