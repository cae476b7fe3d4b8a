"""Page tests through Flask's test client, signing in with the login form (CSRF included)."""
from __future__ import annotations

import re

import pytest

from ..conftest import DEMO_PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A signed-in (or anonymous) test client that fills in the CSRF token of the last page."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    @staticmethod
    def _fresh_request():
        # the test's app context outlives requests; Flask-WTF caches the token on ``g`` per context,
        # which on a server lives for one request only
        from flask import g
        g.pop("csrf_token", None)

    def get(self, path, **kw):
        self._fresh_request()
        resp = self.client.get(path, **kw)
        found = CSRF.search(resp.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return resp

    def post(self, path, data=None, csrf=True, **kw):
        self._fresh_request()
        data = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/login")
                self._fresh_request()
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=data, **kw)

    def text(self, resp) -> str:
        return resp.get_data(as_text=True)


@pytest.fixture
def browser_for(app):
    def sign_in(username: str | None, password: str = DEMO_PASSWORD) -> Browser:
        web = Browser(app.test_client())
        if username:
            web.get("/login")
            resp = web.post("/login", {"username": username, "password": password})
            assert resp.status_code == 302, web.text(resp)
        return web
    return sign_in
