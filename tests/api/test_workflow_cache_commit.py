"""The live-workflow cache follows the transaction: kept only what was committed, nothing after a rollback."""
import pytest
from sqlalchemy import select

from app.engine.cache import workflows
from app.errors import InvalidInput
from app.extensions import db
from app.models import WorkflowState
from app.services import projection

from .helpers import ready
from .test_flow import start_demo_case


def _entry(case_id):
    found = [entry for key, entry in workflows._entries.items() if key[1] == case_id]
    return found[0] if found else None


def _stored(case_id):
    db.session.rollback()
    return db.session.execute(select(WorkflowState.state).where(WorkflowState.case_id == case_id)).scalar_one()


def test_a_committed_step_leaves_the_case_as_stored_and_the_next_step_runs_on_it(api):
    clerk, case = start_demo_case(api)
    assert _entry(case["id"])[0] == _stored(case["id"])  # kept after the start, exactly the committed text
    hits = workflows.hits
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    assert workflows.hits == hits + 1
    assert _entry(case["id"])[0] == _stored(case["id"])


def test_a_use_case_that_fails_after_the_engine_step_keeps_nothing(api, monkeypatch):
    clerk, case = start_demo_case(api)
    before = _stored(case["id"])
    intake = ready(case, "task_intake")[0]

    def broken(*_args, **_kwargs):
        raise InvalidInput("注入的故障")
    monkeypatch.setattr(projection, "sync_tasks", broken)  # fails after the state was saved in the session
    resp = clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}})
    assert resp.status_code == 422
    assert _entry(case["id"]) is None  # the half-run workflow was taken out and not put back
    assert _stored(case["id"]) == before
    monkeypatch.undo()
    misses = workflows.misses
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    assert workflows.misses == misses + 1  # loaded from the stored state
    assert _entry(case["id"])[0] == _stored(case["id"])
