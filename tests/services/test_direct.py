"""direct.execute runs a write on the driver exactly as SQLAlchemy would have run it."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditEvent, Case, User
from app.services import direct

from .test_rows import case_id  # noqa: F401  (fixture)

_EVENT = {"at": datetime(2026, 3, 2, 1, 30, 15, 123456, tzinfo=timezone.utc), "actor_id": None,
          "action": "test.direct", "case_id": None, "object_type": "task", "object_id": "t-1",
          "before": {"state": "ready"}, "after": {"state": "completed", "意见": "同意", "n": [1, 2.5, None]},
          "prev_hash": None, "hash": "h"}
_INSERT = insert(AuditEvent.__table__)
_STORED = text("SELECT at, before, after, object_id FROM audit_events WHERE action = :action ORDER BY id")


def _raw_rows(action):
    """The stored values as text, as the database holds them (no SQLAlchemy type conversion)."""
    return [tuple(str(v) for v in row) for row in db.session.execute(
        text("SELECT CAST(at AS TEXT), CAST(before AS TEXT), CAST(after AS TEXT), object_id "
             "FROM audit_events WHERE action = :action ORDER BY id"), {"action": action})]


def test_what_is_stored_is_what_sqlalchemy_stores(app):
    db.session.execute(_INSERT, {**_EVENT, "action": "test.orm"})
    assert direct.execute(db.session, _INSERT, _EVENT) == 1
    db.session.commit()
    ours, theirs = _raw_rows("test.direct"), _raw_rows("test.orm")
    assert len(ours) == 1 and ours == theirs
    row = db.session.execute(_STORED, {"action": "test.direct"}).one()
    assert row.object_id == "t-1"


def test_an_update_matches_rows_and_runs_in_the_sessions_transaction(app, case_id):  # noqa: F811
    stmt = update(Case.__table__).where(Case.__table__.c.id == bindparam("pk")).values(
        applicant_phone=bindparam("phone"))
    assert direct.execute(db.session, stmt, {"pk": case_id, "phone": "13911112222"}) == 1
    assert direct.execute(db.session, stmt, {"pk": -1, "phone": "x"}) == 0
    # the same transaction: SQLAlchemy's own connection sees the change, and a rollback undoes it
    assert db.session.execute(select(Case.applicant_phone).where(Case.id == case_id)).scalar_one() == "13911112222"
    db.session.rollback()
    assert db.session.execute(select(Case.applicant_phone).where(Case.id == case_id)).scalar_one() != "13911112222"


def test_listeners_see_the_statement_and_its_parameters(app):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split()[0], parameters))
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        direct.execute(db.session, _INSERT, _EVENT)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    db.session.rollback()
    assert len(seen) == 1 and seen[0][0] == "INSERT"
    assert "t-1" in (seen[0][1].values() if isinstance(seen[0][1], dict) else seen[0][1])


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it_and_nothing_is_written(app):
    with pytest.raises(IntegrityError):
        direct.execute(db.session, _INSERT, {**_EVENT, "actor_id": 987654})  # no such user
    db.session.rollback()
    assert _raw_rows("test.direct") == []


def test_a_statement_that_needs_python_side_defaults_is_refused(app):
    # users.roles_csv has a Python-side default that only SQLAlchemy's execution would apply
    with pytest.raises(ValueError):
        direct.execute(db.session, insert(User.__table__), {"username": "x", "name": "x", "password_hash": "x"})
    db.session.rollback()
