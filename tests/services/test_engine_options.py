"""Connections taken from the pool: pinged on a database server, not on a SQLite file."""
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from app.database import engine_options
from app.extensions import db
from app.services.uow import run_use_case


def test_only_a_database_server_gets_the_ping():
    assert engine_options("sqlite:////tmp/x.db", {}) == {}
    assert engine_options("postgresql+psycopg://h/db", {}) == {"pool_pre_ping": True}
    # a setting of the operator's own wins
    assert engine_options("postgresql+psycopg://h/db", {"pool_pre_ping": False}) == {"pool_pre_ping": False}


def test_a_request_on_sqlite_sends_no_ping(app, api):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite file's connections")
    seen: list[str] = []

    @event.listens_for(db.engine, "connect")
    def _trace(dbapi_connection, _record):  # every statement the driver runs, pings included
        dbapi_connection.set_trace_callback(seen.append)

    db.engine.dispose()
    api.token = api.login("window_clerk")
    db.session.remove()  # requests share the test's app context: give the connection back to the pool
    seen.clear()
    assert api.get("/api/v1/tasks").status_code == 200
    assert "BEGIN" in seen and any("FROM tasks" in s for s in seen)  # taken from the pool, traced
    assert not [s for s in seen if s.strip().upper() == "SELECT 1"]


def test_a_postgresql_connection_that_dropped_is_replaced(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a database server's connections")
    pid = run_use_case(db.session, lambda: db.session.execute(text("SELECT pg_backend_pid()")).scalar())
    db.session.remove()  # the connection is back in the pool, idle
    outside = create_engine(db.engine.url, poolclass=NullPool)
    with outside.connect() as conn:  # the server ends it, as a restart of the server would
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    outside.dispose()
    # the next use case takes the dead connection from the pool; the ping finds it dead and replaces it
    again = run_use_case(db.session, lambda: db.session.execute(text("SELECT pg_backend_pid()")).scalar())
    assert again != pid
