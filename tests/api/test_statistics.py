"""SQLite's planner statistics: written by the scheduler at start (when missing) and each night,
once the tasks table is big enough for them to mean something."""
from sqlalchemy import text

from app.services import statistics

from app.extensions import db
from app.scheduler import refresh_query_statistics

from .helpers import APPLICANT
from .test_legal_time import deploy_with_catalog


def _stat_tables(app) -> set[str]:
    with app.app_context():
        rows = db.session.execute(text("SELECT DISTINCT tbl FROM sqlite_stat1")).scalars().all()
        db.session.remove()
    return set(rows)


def test_sqlite_gets_statistics_once_at_start_and_again_each_night(app, api, monkeypatch):
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect != "sqlite":  # PostgreSQL's autovacuum keeps its own
        assert refresh_query_statistics(app) is False
        return
    assert deploy_with_catalog(api).status_code == 201
    clerk = api.as_user("window_clerk")
    assert clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).status_code == 201
    assert refresh_query_statistics(app, only_if_missing=True) is False  # one task: too small to describe
    assert refresh_query_statistics(app) is False
    with app.app_context():
        assert statistics.missing(db.session)
        db.session.remove()
    monkeypatch.setattr(statistics, "MIN_TASKS", 1)  # as if the hall had worked a while
    assert refresh_query_statistics(app, only_if_missing=True) is True
    assert {"tasks", "cases"} <= _stat_tables(app)
    assert refresh_query_statistics(app, only_if_missing=True) is False  # there now: start-up leaves them
    assert refresh_query_statistics(app) is True                          # the nightly run refreshes them
