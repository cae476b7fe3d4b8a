"""撤回 through the API: allowed while the next step has not started; refused, with nothing changed,
once a service task has acted, a later task was claimed, or by anybody but the one who completed it.
Timers started by the completion go away; the task's own timers keep their fire times."""
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, Task, Timer
from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from .helpers import APPLICANT, deploy, ready
from .startup import ALL, case_of, complete, start, task, upload_all

# a window intake, then in parallel a 税务局 review with two boundary timers and a 公安局 check, then the issue
TIMER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs_wd" targetNamespace="http://binglian.test">
  <bpmn:process id="withdraw_timers" name="撤回计时测试" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_window" name="综合窗口">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>task_intake</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>split</bpmn:flowNodeRef><bpmn:flowNodeRef>join</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>task_issue</bpmn:flowNodeRef><bpmn:flowNodeRef>end_done</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>task_remind</bpmn:flowNodeRef><bpmn:flowNodeRef>end_reminded</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_expired</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_tax" name="税务局">
        <bpmn:flowNodeRef>task_review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>timer_remind</bpmn:flowNodeRef><bpmn:flowNodeRef>timer_expire</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_police" name="公安局"><bpmn:flowNodeRef>task_check</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task_intake"/>
    <bpmn:userTask id="task_intake" name="受理"/>
    <bpmn:sequenceFlow id="f2" sourceRef="task_intake" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="task_review"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="task_check"/>
    <bpmn:userTask id="task_review" name="税务审核"/>
    <bpmn:userTask id="task_check" name="公安核查"/>
    <bpmn:sequenceFlow id="f5" sourceRef="task_review" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="task_check" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="task_issue"/>
    <bpmn:userTask id="task_issue" name="出件"/>
    <bpmn:sequenceFlow id="f8" sourceRef="task_issue" targetRef="end_done"/>
    <bpmn:endEvent id="end_done"/>
    <bpmn:boundaryEvent id="timer_remind" name="催办" attachedToRef="task_review" cancelActivity="false">
      <bpmn:timerEventDefinition id="td_remind"><bpmn:timeDate xsi:type="bpmn:tFormalExpression">workdays(1)</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f9" sourceRef="timer_remind" targetRef="task_remind"/>
    <bpmn:userTask id="task_remind" name="催办"/>
    <bpmn:sequenceFlow id="f10" sourceRef="task_remind" targetRef="end_reminded"/>
    <bpmn:endEvent id="end_reminded"/>
    <bpmn:boundaryEvent id="timer_expire" name="超期" attachedToRef="task_review" cancelActivity="true">
      <bpmn:timerEventDefinition id="td_expire"><bpmn:timeDate xsi:type="bpmn:tFormalExpression">workdays(3)</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f11" sourceRef="timer_expire" targetRef="end_expired"/>
    <bpmn:endEvent id="end_expired"/>
  </bpmn:process>
</bpmn:definitions>
"""


def fingerprint(case_no: str) -> tuple:
    """Everything a withdrawal could change."""
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    rows = tuple(db.session.execute(select(Task.id, Task.state, Task.assignee_id).where(Task.case_id == case.id)
                                    .order_by(Task.id)).all())
    timers = tuple(db.session.execute(select(Timer.id, Timer.due_at).where(Timer.case_id == case.id)
                                      .order_by(Timer.id)).all())
    events = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.case_id == case.id)).scalar_one()
    return case.audit_head, case.status, rows, timers, events


def refused(user, task_id, case_no, status, words):
    before = fingerprint(case_no)
    resp = user.post(f"/api/v1/tasks/{task_id}/withdraw", json={"reason": "测试"})
    assert resp.status_code == status, resp.body
    assert words in resp.body["message"], resp.body["message"]
    assert fingerprint(case_no) == before
    return resp


@pytest.fixture
def startup(api):
    clerk = api.as_user("window_clerk")
    case = start(clerk, ALL)
    upload_all(clerk, case["case_no"])
    return clerk, case["case_no"]


def test_a_step_whose_service_tasks_acted_cannot_be_withdrawn(api, startup):
    clerk, case_no = startup
    intake = task(case_of(api, case_no), "task_intake")
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    refused(clerk, intake["id"], case_no, 409, "受理")  # 受理通知书 issued
    register = task(case_of(api, case_no), "task_register")
    amr = api.as_user("amr_approver")
    assert complete(api, case_of(api, case_no), "task_register").status_code == 200
    refused(amr, register["id"], case_no, 409, "生成电子证照")  # the licence exists


def test_withdraw_a_seal_while_the_bank_has_not_started_then_not_once_it_has(api, app, startup):
    clerk, case_no = startup
    for element in ("task_intake", "task_register"):
        assert complete(api, case_of(api, case_no), element).status_code == 200
    police = api.as_user("police_approver")
    seal = task(case_of(api, case_no), "task_seal")
    refused(police, seal["id"], case_no, 409, "未办结")
    assert complete(api, case_of(api, case_no), "task_seal").status_code == 200
    bank = task(case_of(api, case_no), "task_bank")
    refused(api.as_user("tax_approver"), seal["id"], case_no, 403, "不属于您的部门")
    refused(clerk, seal["id"], case_no, 403, "不属于您的部门")

    resp = police.post(f"/api/v1/tasks/{seal['id']}/withdraw", json={"reason": "刻章数量填错"})
    assert resp.status_code == 200, resp.body
    assert resp.body["state"] == "ready" and resp.body["assignee_id"] is not None
    with app.app_context():  # its deadline stands; its yellow moment is worked out again (the calendar may have moved)
        row = db.session.get(Task, seal["id"])
        assert row.due_at is not None and row.warn_at is None
        db.session.remove()
    case = case_of(api, case_no)
    states = {t["id"]: t["state"] for t in case["tasks"]}
    assert states[seal["id"]] == "ready" and states[bank["id"]] == "cancelled"
    assert not ready(case, "task_bank")
    history = api.as_user("manager").get(f"/api/v1/cases/{case_no}/history").body
    assert any(e["action"] == "task.withdrawn" for e in history)

    # done again: a fresh bank task; once the bank claims it, the seal is no longer withdrawable
    assert complete(api, case_of(api, case_no), "task_seal", {"seal_count": 5}).status_code == 200
    new_bank = task(case_of(api, case_no), "task_bank")
    assert new_bank["id"] != bank["id"]
    assert api.as_user("bank_approver").post(f"/api/v1/tasks/{new_bank['id']}/claim").status_code == 200
    refused(police, seal["id"], case_no, 409, "已被认领")
    refused(police, "no-such-task", case_no, 404, "不存在")


def test_timers_started_by_the_completion_go_and_the_tasks_own_keep_their_time(api, app):
    clock.use(ManualClock(datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ)))
    try:
        assert deploy(api, TIMER_XML).status_code == 201
        clerk = api.as_user("window_clerk")
        case = clerk.post("/api/v1/cases", json={"process_key": "withdraw_timers", "applicant": APPLICANT}).body
        case_no = case["case_no"]
        intake = ready(case, "task_intake")[0]["id"]
        assert clerk.post(f"/api/v1/tasks/{intake}/complete", json={"data": {}}).status_code == 200
        with_timers = fingerprint(case_no)[3]
        assert len(with_timers) == 2  # 催办 and 超期 on the review
        assert clerk.post(f"/api/v1/tasks/{intake}/withdraw", json={}).status_code == 200
        assert fingerprint(case_no)[3] == ()  # the review and its timers are gone

        assert clerk.post(f"/api/v1/tasks/{intake}/complete", json={"data": {}}).status_code == 200
        review = ready(clerk.get(f"/api/v1/cases/{case_no}").body, "task_review")[0]["id"]
        due = {t.element_id: t.due_at for t in db.session.execute(select(Timer)).scalars()}
        clock.use(ManualClock(datetime(2025, 9, 29, 10, 0, tzinfo=LOCAL_TZ)))  # Monday: the clock ran on
        tax = api.as_user("tax_approver")
        assert tax.post(f"/api/v1/tasks/{review}/complete", json={"data": {}}).status_code == 200
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(Timer)).scalar_one() == 0
        assert tax.post(f"/api/v1/tasks/{review}/withdraw", json={}).status_code == 200
        db.session.rollback()
        again = {t.element_id: t.due_at for t in db.session.execute(select(Timer)).scalars()}
        assert again == due  # not restarted from Monday
        now_case = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body
        assert ready(now_case, "task_review") and ready(now_case, "task_check") and not ready(now_case, "task_issue")
    finally:
        clock.use(clock.SystemClock())


def test_the_case_data_gets_back_what_the_withdrawn_submission_overwrote(api, app):
    assert deploy(api, TIMER_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "withdraw_timers", "applicant": APPLICANT,
                                             "data": {"opinion": "初审", "company": "鹤壁甲公司"}}).body
    case_no, intake = case["case_no"], ready(case, "task_intake")[0]["id"]
    submitted = {"opinion": "同意受理", "fee": 120}
    assert clerk.post(f"/api/v1/tasks/{intake}/complete", json={"data": submitted}).status_code == 200
    assert clerk.get(f"/api/v1/cases/{case_no}").body["data"] == {"company": "鹤壁甲公司", **submitted}
    assert clerk.post(f"/api/v1/tasks/{intake}/withdraw", json={"reason": "填错"}).status_code == 200
    assert clerk.get(f"/api/v1/cases/{case_no}").body["data"] == {"opinion": "初审", "company": "鹤壁甲公司"}
    db.session.rollback()
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.withdrawn")).scalar_one()
    assert event.after["case_data_restored"] is True
    # submitted again, it counts again
    assert clerk.post(f"/api/v1/tasks/{intake}/complete", json={"data": {"opinion": "补齐后受理"}}).status_code == 200
    assert clerk.get(f"/api/v1/cases/{case_no}").body["data"] == {"opinion": "补齐后受理", "company": "鹤壁甲公司"}
