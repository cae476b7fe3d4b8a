"""BPMN timers on the legal clock: computed in working days, fired by the scheduler job, with a test clock."""
from datetime import datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Timer
from app.scheduler import fire_due_timers
from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from ..conftest import DATA
from .helpers import APPLICANT, deploy, ready

XML = (DATA / "timer_escalation.bpmn").read_text()


@pytest.fixture
def manual_clock():
    test_clock = ManualClock(datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ))  # Friday before 国庆
    clock.use(test_clock)
    yield test_clock
    clock.use(clock.SystemClock())


def start(api):
    assert deploy(api, XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "timer_escalation", "applicant": APPLICANT}).body
    return clerk, case["case_no"], case["id"]


def timers_of(case_id):
    db.session.rollback()
    return {t.element_id: t for t in db.session.execute(select(Timer).where(Timer.case_id == case_id)).scalars()}


def test_boundary_timers_remind_then_expire_on_working_days(api, app, manual_clock):
    clerk, case_no, case_id = start(api)
    timers = timers_of(case_id)
    # +1 working day is Sunday 28 Sep (a make-up working day), +3 is Tuesday 30 Sep; at office close
    assert timers["timer_remind"].due_at == datetime(2025, 9, 28, 17, 0, tzinfo=LOCAL_TZ)
    assert timers["timer_expire"].due_at == datetime(2025, 9, 30, 17, 0, tzinfo=LOCAL_TZ)

    manual_clock.set(datetime(2025, 9, 28, 16, 59, tzinfo=LOCAL_TZ))
    assert fire_due_timers(app) == 0  # not yet due

    manual_clock.set(datetime(2025, 9, 28, 17, 1, tzinfo=LOCAL_TZ))
    assert fire_due_timers(app) == 1
    clerk = api.as_user("window_clerk")  # tokens expire on the same clock
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    assert {t["element_id"] for t in ready(case)} == {"task_review", "task_remind"}  # non-interrupting
    assert fire_due_timers(app) == 0  # fired exactly once

    manual_clock.set(datetime(2025, 9, 30, 17, 1, tzinfo=LOCAL_TZ))
    assert fire_due_timers(app) == 1
    clerk = api.as_user("window_clerk")
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    states = {t["element_id"]: t["state"] for t in case["tasks"]}
    assert states["task_review"] == "cancelled"  # interrupting: the overdue task is withdrawn
    history = [h["action"] for h in clerk.get(f"/api/v1/cases/{case_no}/history").body]
    assert history.count("timer.fired") == 2


def test_a_timer_missed_while_the_server_was_down_fires_on_the_next_run(api, app, manual_clock):
    clerk, case_no, case_id = start(api)
    manual_clock.set(datetime(2025, 10, 20, 9, 0, tzinfo=LOCAL_TZ))  # long after both were due
    assert fire_due_timers(app) == 2
    clerk = api.as_user("window_clerk")
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    states = {t["element_id"]: t["state"] for t in case["tasks"]}
    # both fired: the reminder is waiting for the window, the overdue review was withdrawn
    assert states == {"task_review": "cancelled", "task_remind": "ready"}
    remind = ready(case, "task_remind")[0]
    assert clerk.post(f"/api/v1/tasks/{remind['id']}/complete", json={"data": {}}).status_code == 200
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    assert case["status"] == "completed"


def test_a_failing_timer_path_opens_one_incident_and_is_not_retried(api, app, manual_clock):
    from app.models import Incident
    # the timer leads to a script that fails at run time (dividing by zero)
    xml = XML.replace('<bpmn:endEvent id="end_expired" name="超期终止"/>',
                      '<bpmn:scriptTask id="script_bad" name="坏脚本"><bpmn:script>x = 1 / 0</bpmn:script>'
                      '</bpmn:scriptTask><bpmn:sequenceFlow id="f6" sourceRef="script_bad" targetRef="end_expired"/>'
                      '<bpmn:endEvent id="end_expired" name="超期终止"/>') \
        .replace('targetRef="end_expired"/>\n    <bpmn:endEvent id="end_expired"', 'targetRef="script_bad"/>\n    <bpmn:endEvent id="end_expired"') \
        .replace('<bpmn:flowNodeRef>end_expired</bpmn:flowNodeRef>',
                 '<bpmn:flowNodeRef>end_expired</bpmn:flowNodeRef><bpmn:flowNodeRef>script_bad</bpmn:flowNodeRef>')
    xml = xml.replace('<bpmn:sequenceFlow id="f5" sourceRef="timer_expire" targetRef="end_expired"/>',
                      '<bpmn:sequenceFlow id="f5" sourceRef="timer_expire" targetRef="script_bad"/>')
    assert deploy(api, xml).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "timer_escalation", "applicant": APPLICANT}).body
    manual_clock.set(datetime(2025, 9, 30, 17, 1, tzinfo=LOCAL_TZ))  # both timers due; the expiry path fails
    fire_due_timers(app)
    fire_due_timers(app)  # no retry storm: the failing timers wait behind the incident
    db.session.rollback()
    incidents = db.session.execute(select(Incident).where(Incident.case_id == case["id"])).scalars().all()
    assert len(incidents) == 1 and incidents[0].element_id == "script_bad"
    assert "除" in incidents[0].message or "division" in incidents[0].message
    assert all(t.incident_id == incidents[0].id for t in timers_of(case["id"]).values() if t.fired_at is None)


DEFICIENCY = (DATA / "deficiency.bpmn").read_text()


@pytest.mark.parametrize("supplied", [True, False])
def test_deficiency_not_supplied_in_time_terminates_the_case(api, app, manual_clock, supplied):
    assert deploy(api, DEFICIENCY).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "deficiency_demo", "applicant": APPLICANT,
                                             "data": {"supplement_workdays": 5}}).body
    if supplied:
        manual_clock.set(datetime(2025, 10, 9, 10, 0, tzinfo=LOCAL_TZ))  # 4th working day: in time
        clerk = api.as_user("window_clerk")
        task = ready(case, "task_supplement")[0]
        assert clerk.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    manual_clock.set(datetime(2025, 10, 10, 17, 1, tzinfo=LOCAL_TZ))  # 5 working days after 26 Sep
    fire_due_timers(app)
    clerk = api.as_user("window_clerk")
    after = clerk.get(f"/api/v1/cases/{case['case_no']}").body
    if supplied:
        assert after["status"] == "running" and [t["element_id"] for t in ready(after)] == ["task_issue"]
    else:
        assert after["status"] == "terminated" and after["end_event"] == "end_terminated"
        assert {t["element_id"]: t["state"] for t in after["tasks"]} == {"task_supplement": "cancelled"}
