"""A resolved token is trusted for a moment (APP_TOKEN_CACHE_SECONDS) without reading it again.

What another process does to a token (a logout under APP_WORKERS > 1) is simulated
by writing the database directly, which this process cannot see coming.
"""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, text

from app import create_app
from app.extensions import db
from app.services import accounts, clock
from app.services.clock import ManualClock
from app.services.uow import run_use_case
from config import TestConfig

from ..conftest import ApiClient
from .test_errors import assert_error


def _app(database_url, tmp_path, seconds):
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, INSTANCE_DIR=tmp_path,
                      TOKEN_CACHE_SECONDS=seconds)


def _revoke_elsewhere(database_url):
    """Revoke every token the way another server process would: its own connection, committed."""
    other = create_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(text("UPDATE api_tokens SET revoked_at = expires_at"))
    finally:
        other.dispose()


def _dispose(app):
    with app.app_context():
        db.engine.dispose()


class _HandClock:
    """The cache's monotonic clock, moved only by the test (a slow machine cannot age an entry)."""

    def __init__(self):
        self.seconds = 1000.0

    def __call__(self):
        return self.seconds


@pytest.fixture
def cache_clock(monkeypatch):
    hand = _HandClock()
    monkeypatch.setattr(accounts._recent_tokens, "monotonic", hand)
    return hand


@pytest.fixture
def cached(database_url, tmp_path):
    """No app context held around the requests: each request has its own session, as in the server."""
    app = _app(database_url, tmp_path, 0.5)
    yield app
    _dispose(app)


def test_a_token_revoked_by_another_process_is_refused_once_the_cache_time_is_over(cached, database_url,
                                                                                   cache_clock):
    user = ApiClient(cached.test_client()).as_user("tax_approver")
    assert user.get("/api/v1/tasks").status_code == 200
    _revoke_elsewhere(database_url)
    cache_clock.seconds += 0.4
    assert user.get("/api/v1/tasks").status_code == 200  # trusted from the cache, for at most 0.5 s
    cache_clock.seconds += 0.2
    assert_error(user.get("/api/v1/tasks"), 401)


def test_without_the_cache_a_revoked_token_is_refused_at_once(database_url, tmp_path):
    app = _app(database_url, tmp_path, 0)
    user = ApiClient(app.test_client()).as_user("tax_approver")
    assert user.get("/api/v1/tasks").status_code == 200
    _revoke_elsewhere(database_url)
    assert_error(user.get("/api/v1/tasks"), 401)
    _dispose(app)


def test_a_logout_here_ends_the_cached_token_at_once(cached):
    user = ApiClient(cached.test_client()).as_user("tax_approver")
    assert user.get("/api/v1/tasks").status_code == 200  # now cached
    assert user.post("/api/v1/auth/logout").status_code == 204
    assert_error(user.get("/api/v1/tasks"), 401)


def test_a_cached_token_still_expires(cached):
    user = ApiClient(cached.test_client()).as_user("tax_approver")
    assert user.get("/api/v1/tasks").status_code == 200  # now cached
    clock.use(ManualClock(clock.now() + timedelta(hours=TestConfig.TOKEN_TTL_HOURS, minutes=1)))
    try:
        assert_error(user.get("/api/v1/tasks"), 401)
    finally:
        clock.use(clock.SystemClock())


def test_a_cached_token_is_not_taken_for_another_database(cached, sqlite_template, tmp_path):
    """Two apps in one process (as in these tests) never share what they resolved."""
    import shutil
    user = ApiClient(cached.test_client()).as_user("tax_approver")
    assert user.get("/api/v1/tasks").status_code == 200
    path = tmp_path / "other.db"
    shutil.copy(sqlite_template, path)
    other = _app(f"sqlite:///{path}", tmp_path, 0.5)
    # the second app's set-up empties the cache too, so resolve the token again in the first app
    assert user.get("/api/v1/tasks").status_code == 200
    stranger = ApiClient(other.test_client())
    assert_error(stranger.get("/api/v1/tasks", token=user.token), 401)
    _dispose(other)


def test_a_request_that_read_the_token_just_before_the_logout_committed_does_not_keep_it(cached):
    """The race: a request reads the token, the logout commits, then that request caches what it read."""
    user = ApiClient(cached.test_client()).as_user("tax_approver")
    with cached.app_context():
        engine = db.engine
    token_read, logged_out = threading.Event(), threading.Event()

    def hold_the_reader(conn, cursor, statement, *args):
        if threading.current_thread().name == "reader" and "api_tokens" in statement:
            token_read.set()
            assert logged_out.wait(10)

    statuses = []
    reader = threading.Thread(name="reader", target=lambda: statuses.append(user.get("/api/v1/tasks").status_code))
    event.listen(engine, "after_cursor_execute", hold_the_reader)
    try:
        reader.start()
        assert token_read.wait(10)
        assert ApiClient(cached.test_client()).post("/api/v1/auth/logout", token=user.token).status_code == 204
        logged_out.set()
        reader.join(10)
    finally:
        event.remove(engine, "after_cursor_execute", hold_the_reader)
    assert statuses == [200]  # it had read the token while the token was still good
    assert_error(user.get("/api/v1/tasks"), 401)


def test_a_second_logout_of_the_same_token_writes_nothing(cached):
    """Two logouts of one token racing each other: the second finds it ended and leaves it so."""
    user = ApiClient(cached.test_client()).as_user("tax_approver")
    assert user.post("/api/v1/auth/logout").status_code == 204
    seen = text("SELECT (SELECT max(revoked_at) FROM api_tokens), "
                "(SELECT count(*) FROM audit_events WHERE action = 'auth.logout')")
    with cached.app_context():
        before = tuple(db.session.execute(seen).one())
        clock.use(ManualClock(clock.now() + timedelta(seconds=5)))
        try:
            run_use_case(db.session, lambda: accounts.revoke_token(db.session, user.token, clock.now()))
        finally:
            clock.use(clock.SystemClock())
        after = tuple(db.session.execute(seen).one())
    assert before[1] == 1 and after == before
