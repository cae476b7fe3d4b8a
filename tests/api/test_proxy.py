"""Behind a reverse proxy (APP_PROXY_HOPS): forwarded client address and scheme are believed only when enabled."""
from __future__ import annotations

import re

import pytest

from app import create_app
from app.extensions import db
from config import TestConfig

from ..conftest import DEMO_PASSWORD

PROXY = {"REMOTE_ADDR": "10.0.0.1"}  # every request arrives from the proxy's address
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_with_hops(database_url, tmp_path):
    made = []

    def make(hops: int):
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, INSTANCE_DIR=tmp_path,
                         RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute", PROXY_HOPS=hops)
        made.append(app)
        return app
    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def _bad_login(client, forwarded_for: str) -> int:
    return client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever1"},
                       headers={"X-Forwarded-For": forwarded_for}, environ_base=PROXY).status_code


@pytest.mark.parametrize("hops", [0, 1])
def test_the_login_limit_counts_the_forwarded_client_only_when_proxies_are_trusted(app_with_hops, hops):
    app = app_with_hops(hops)
    client = app.test_client()
    assert [_bad_login(client, "203.0.113.1") for _ in range(3)] == [401, 401, 429]
    other = _bad_login(client, "203.0.113.2")
    if hops:
        assert other == 401  # another citizen behind the same proxy is not locked out by the first
    else:
        assert other == 429  # a client cannot dodge the limit by writing its own X-Forwarded-For


def _page_login_cookie(client, headers: dict) -> str:
    page = client.get("/login", headers=headers, environ_base=PROXY)
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"username": "window_clerk", "password": DEMO_PASSWORD, "csrf_token": token},
                       headers={**headers, "Referer": "https://localhost/login"}, environ_base=PROXY)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp.headers["Set-Cookie"]


@pytest.mark.parametrize("hops", [0, 1])
def test_the_session_cookie_is_secure_when_the_proxy_says_the_client_used_tls(app_with_hops, hops):
    app = app_with_hops(hops)
    tls_at_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    cookie = _page_login_cookie(app.test_client(), tls_at_proxy)
    assert "HttpOnly" in cookie
    # trusted: the client spoke TLS to the proxy; not trusted: plain HTTP, as far as the app can know
    assert ("Secure" in cookie) == bool(hops), cookie
