"""The audit log is a per-case hash chain: edits, removals and tail removal are found."""
import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent
from app.services import audit

from ..api.helpers import APPLICANT, DEMO_XML, deploy, ready


@pytest.fixture
def worked_case(api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {"note": "ok"}}).status_code == 200
    db.session.rollback()
    return case


def _raw(sql, **params):
    # bypass the ORM, as an attacker with database access would (SQLite has no trigger)
    db.session.execute(text(sql), params)
    db.session.commit()


def test_intact_chain_verifies(app, worked_case):
    assert audit.verify(db.session) == []


def test_changed_event_is_found(app, worked_case, database_url):
    if database_url.startswith("postgresql"):
        with pytest.raises(Exception, match="append-only"):
            _raw("UPDATE audit_events SET action = 'x' WHERE case_id = :c", c=worked_case["id"])
        return
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.completed")).scalar_one()
    _raw("UPDATE audit_events SET after = :a WHERE id = :i", a='{"data": {"note": "forged"}}', i=event.id)
    problems = audit.verify(db.session)
    assert [(p.event_id, p.problem) for p in problems] == [(event.id, "记录内容被改动")]


@pytest.mark.parametrize("which", ["first", "last"])
def test_removed_event_is_found(app, worked_case, database_url, which):
    if database_url.startswith("postgresql"):
        with pytest.raises(Exception, match="append-only"):
            _raw("DELETE FROM audit_events WHERE case_id = :c", c=worked_case["id"])
        return
    ids = db.session.execute(select(AuditEvent.id).where(AuditEvent.case_id == worked_case["id"])
                             .order_by(AuditEvent.id)).scalars().all()
    victim = ids[0] if which == "first" else ids[-1]
    _raw("DELETE FROM audit_events WHERE id = :i", i=victim)
    problems = audit.verify(db.session)
    assert problems and all(p.case_no == worked_case["case_no"] for p in problems)


def test_cli_reports_tampering(app, worked_case, database_url):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    if database_url.startswith("sqlite"):
        _raw("UPDATE audit_events SET actor_id = NULL WHERE case_id = :c", c=worked_case["id"])
        result = runner.invoke(args=["audit", "verify"])
        assert result.exit_code == 1 and worked_case["case_no"] in result.output
