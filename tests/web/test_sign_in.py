"""Signing in and out of the workspace; cookies, CSRF and security headers."""
import pytest

from app.extensions import db

from ..conftest import ADMIN_PASSWORD
from .conftest import Browser


def test_each_role_lands_on_its_home_page(browser_for):
    for username, home in (("window_clerk", "/desk/"), ("tax_approver", "/inbox/"), ("manager", "/cases"),
                           ("analyst", "/processes")):
        web = browser_for(username)
        resp = web.get("/")
        assert resp.status_code == 302 and resp.headers["Location"].endswith(home), (username, resp.headers)
        page = web.get(home)
        assert page.status_code == 200 and "退出" in web.text(page)
    admin = browser_for("admin", ADMIN_PASSWORD)
    assert admin.get("/").headers["Location"].endswith("/cases")


def test_a_wrong_password_is_told_in_chinese_and_signs_nobody_in(browser_for):
    web = browser_for(None)
    web.get("/login")
    resp = web.post("/login", {"username": "window_clerk", "password": "wrong-password"})
    assert resp.status_code == 401 and "用户名或密码错误" in web.text(resp)
    assert 'value="window_clerk"' in web.text(resp)  # what was typed is kept
    assert web.get("/desk/").status_code == 302  # still signed out


def test_the_session_cookie_is_http_only_and_same_site(browser_for):
    web = browser_for(None)
    web.get("/login")
    resp = web.post("/login", {"username": "window_clerk", "password": "Demo@2026-test"})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain HTTP here
    tls = browser_for(None)
    tls.get("/login", base_url="https://hall.example")
    resp = tls.post("/login", {"username": "window_clerk", "password": "Demo@2026-test"}, base_url="https://hall.example",
                    headers={"Referer": "https://hall.example/login"})  # CSRF checks the referrer under TLS
    assert resp.status_code == 302 and "Secure" in resp.headers["Set-Cookie"]  # under TLS the cookie is Secure


def test_posts_without_the_csrf_token_are_refused(browser_for):
    web = browser_for(None)
    resp = web.post("/login", {"username": "window_clerk", "password": "Demo@2026-test"}, csrf=False)
    assert resp.status_code == 400 and "页面已过期" in web.text(resp)
    signed_in = browser_for("window_clerk")
    resp = signed_in.post("/logout", csrf=False)
    assert resp.status_code == 400
    assert signed_in.get("/desk/").status_code == 200  # still signed in: the forged logout did nothing


def test_logout_ends_the_session_and_its_token(browser_for):
    web = browser_for("window_clerk")
    web.get("/desk/")
    resp = web.post("/logout")
    assert resp.status_code == 302
    assert web.get("/desk/").status_code == 302


def test_pages_carry_a_csp_that_allows_only_our_own_assets(browser_for):
    resp = browser_for("window_clerk").get("/desk/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "http" not in csp and "'unsafe-eval'" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"


def test_a_page_the_role_may_not_open_is_a_chinese_page_not_a_trace(browser_for):
    resp = browser_for("tax_approver").get("/processes")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "无权" in text and "Traceback" not in text and "<html" in text


def test_next_only_redirects_inside_the_site(browser_for):
    web = browser_for(None)
    web.get("/login")
    resp = web.post("/login?next=https://evil.example/x", {"username": "window_clerk", "password": "Demo@2026-test"})
    assert resp.headers["Location"].endswith("/desk/")
    web = browser_for(None)
    web.get("/login")
    resp = web.post("/login?next=/cases", {"username": "window_clerk", "password": "Demo@2026-test"})
    assert resp.headers["Location"].endswith("/cases")


@pytest.fixture
def limited_app(database_url, tmp_path):
    """An app with rate limiting on (the test configuration has it off), made with ``overrides``."""
    from app import create_app
    from config import TestConfig
    made = []

    def make(**overrides):
        made.append(create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, INSTANCE_DIR=tmp_path,
                               RATELIMIT_ENABLED=True, **overrides))
        return made[-1]
    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def test_sign_ins_from_one_address_are_rate_limited_and_other_pages_are_not(limited_app):
    """The limit is on the sign-in form only: its own route checks it (nothing runs before other requests)."""
    app = limited_app(LOGIN_RATE_LIMIT="2 per minute")
    with app.app_context():
        web = Browser(app.test_client())
        web.get("/login")
        codes = [web.post("/login", {"username": "window_clerk", "password": "wrong-password"}).status_code
                 for _ in range(3)]
        assert codes == [401, 401, 429]
        assert "请求过于频繁" in web.text(web.post("/login", {"username": "window_clerk", "password": "Demo@2026-test"}))
        assert [web.get("/login").status_code for _ in range(5)] == [200] * 5


def test_a_default_limit_configured_for_every_route_is_still_checked(limited_app):
    """The check before every request is dropped only when it has nothing to check."""
    client = limited_app(RATELIMIT_DEFAULT="2 per minute").test_client()
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 429]
