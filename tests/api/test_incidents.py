"""Incidents: a timer path that fails opens one; retry runs it again (and fails again, changing nothing),
skip completes the failing script without running it and the case goes on; all of it in the audit log.
A script failing inside a user's completion is not an incident: the user is told and nothing changes."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, Incident, Timer
from app.scheduler import fire_due_timers
from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from ..conftest import DATA
from ..services.test_migration import snapshot
from .helpers import APPLICANT, DEMO_XML, deploy, ready

FAILING = (DATA / "migration_failing_timer.bpmn").read_text()


@pytest.fixture
def manual_clock():
    test_clock = ManualClock(datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ))
    clock.use(test_clock)
    yield test_clock
    clock.use(clock.SystemClock())


def _stuck_case(api, app, manual_clock):
    assert deploy(api, FAILING).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "failing_timer", "applicant": APPLICANT}).body
    manual_clock.set(datetime(2025, 9, 28, 17, 1, tzinfo=LOCAL_TZ))  # one working day later (a make-up day)
    fire_due_timers(app)  # the timer fires; its path fails
    fire_due_timers(app)  # and is not retried behind the incident's back
    db.session.rollback()
    found = db.session.execute(select(Incident).where(Incident.case_id == case["id"])).scalars().all()
    assert len(found) == 1
    return case["case_no"], found[0].id


def _history(api, case_no):
    return [h["action"] for h in api.as_user("manager").get(f"/api/v1/cases/{case_no}/history").body]


def test_open_incidents_are_listed_with_their_error(api, app, manual_clock):
    case_no, incident_id = _stuck_case(api, app, manual_clock)
    for user in ("analyst", "manager"):
        rows = api.as_user(user).get("/api/v1/incidents").body
        assert [(r["id"], r["case_no"], r["element_id"], r["source"]) for r in rows] == [
            (incident_id, case_no, "script_bad", "timer")]
        assert "计算罚则" in rows[0]["message"] and rows[0]["service_name"] == "定时故障测试"
    assert api.as_user("tax_approver").get("/api/v1/incidents").status_code == 403
    assert "incident.opened" in _history(api, case_no)


def test_retry_that_fails_again_changes_nothing(api, app, manual_clock):
    case_no, incident_id = _stuck_case(api, app, manual_clock)
    before = snapshot(case_no)
    resp = api.as_user("analyst").post(f"/api/v1/incidents/{incident_id}/retry")
    assert resp.status_code == 409 and "重试后仍然失败" in resp.body["message"], resp.body
    assert snapshot(case_no) == before  # timers still parked behind the open incident
    db.session.rollback()
    assert db.session.get(Incident, incident_id).resolved_at is None
    assert len(api.as_user("analyst").get("/api/v1/incidents").body) == 1


def test_skip_completes_the_failing_script_and_the_case_goes_on(api, app, manual_clock):
    case_no, incident_id = _stuck_case(api, app, manual_clock)
    clerk = api.as_user("window_clerk")
    data_before = clerk.get(f"/api/v1/cases/{case_no}").body["data"]
    resp = api.as_user("analyst").post(f"/api/v1/incidents/{incident_id}/skip")
    assert resp.status_code == 200, resp.body
    assert resp.body["resolution"] == "skipped"
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    states = {t["element_id"]: t["state"] for t in case["tasks"]}
    assert states == {"task_review": "cancelled", "task_after": "ready"}  # the timer fired, the script was skipped
    assert case["data"] == data_before  # a skipped script writes nothing
    db.session.rollback()
    case_id = db.session.execute(select(Case.id).where(Case.case_no == case_no)).scalar_one()
    assert all(t.fired_at is not None for t in db.session.execute(select(Timer).where(Timer.case_id == case_id))
               .scalars())
    history = _history(api, case_no)
    assert history.count("incident.skipped") == 1 and "timer.fired" in history
    assert api.as_user("analyst").get("/api/v1/incidents").body == []
    again = api.as_user("analyst").post(f"/api/v1/incidents/{incident_id}/skip")
    assert again.status_code == 409 and again.body["message"] == "该故障已处理"
    task = ready(case, "task_after")[0]
    assert clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    done = clerk.get(f"/api/v1/cases/{case_no}").body
    assert done["status"] == "completed" and done["end_event"] == "end_late"


def test_retry_resolves_an_incident_whose_step_now_runs(api, app):
    assert deploy(api, DEMO_XML).status_code == 201
    case = api.as_user("window_clerk").post("/api/v1/cases", json={"process_key": "parallel_demo",
                                                                   "applicant": APPLICANT}).body
    db.session.rollback()
    row = Incident(case_id=case["id"], element_id="script_mark", source="timer", message="临时故障",
                   created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    before = snapshot(case["case_no"])
    resp = api.as_user("admin", "admin-test-pw").post(f"/api/v1/incidents/{row.id}/retry")
    assert resp.status_code == 200 and resp.body["resolution"] == "retried", resp.body
    after = snapshot(case["case_no"])
    assert after["tasks"] == before["tasks"] and after["status"] == "running"
    assert _history(api, case["case_no"])[-1] == "incident.retried"
    assert api.as_user("analyst").post("/api/v1/incidents/999999/retry").status_code == 404
    assert api.as_user("manager").post(f"/api/v1/incidents/{row.id}/retry").status_code == 403


def test_a_script_failing_in_a_users_completion_tells_the_user_and_changes_nothing(api):
    """The sandbox stops an endless loop; the completing user gets the error, the case stays as it was."""
    xml = (DATA / "parallel_demo.bpmn").read_text().replace("SCRIPT_PLACEHOLDER", "while True:\n    pass") \
        .replace("CONDITION_PLACEHOLDER", "True")
    assert deploy(api, xml).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    case = clerk.get(f"/api/v1/cases/{case['case_no']}").body
    for element, user in (("task_a", "amr_approver"), ("task_b", "tax_approver")):
        task = ready(case, element)[0]
        assert api.as_user(user).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    before = snapshot(case["case_no"])
    last = ready(clerk.get(f"/api/v1/cases/{case['case_no']}").body, "task_c")[0]
    resp = api.as_user("police_approver").post(f"/api/v1/tasks/{last['id']}/complete", json={"data": {}})
    assert resp.status_code == 422 and "script_mark" in resp.body["message"], resp.body
    assert snapshot(case["case_no"]) == before  # the task is still ready, nothing half-done
    assert api.as_user("analyst").get("/api/v1/incidents").body == []
