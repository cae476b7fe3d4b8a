"""Deadlines from the catalog; suspension over 国庆 and extension with its legal cap."""
import io
from datetime import datetime

import pytest

from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from .helpers import APPLICANT, DEMO_XML, ready

CATALOG = """
service: parallel_demo
name: 并联测试
limits:
  promised: {amount: 20, unit: workday}
  statutory: {amount: 20, unit: workday}
  extension_cap: {amount: 10, unit: workday}
matters:
  - code: T-001
    name: 受理
    department: 综合窗口
    task: task_intake
    limits: {promised: {amount: 5, unit: workday}}
"""


def at(m, d, hh, mm=0):
    return datetime(2025, m, d, hh, mm, tzinfo=LOCAL_TZ)


@pytest.fixture
def manual_clock():
    test_clock = ManualClock(at(9, 26, 10))  # Friday before 国庆
    clock.use(test_clock)
    yield test_clock
    clock.use(clock.SystemClock())


def deploy_with_catalog(api, catalog=CATALOG):
    analyst = api.as_user("analyst")
    return analyst.post("/api/v1/processes", data={"file": (io.BytesIO(DEMO_XML.encode()), "p.bpmn"),
                                                   "catalog": (io.BytesIO(catalog.encode()), "p.yaml")},
                        content_type="multipart/form-data")


def local(iso):
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ)


def test_catalog_limits_become_deadlines_and_a_pause_over_national_day_moves_them(api, manual_clock):
    assert deploy_with_catalog(api).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    no = case["case_no"]
    assert local(case["deadline"]) == at(10, 30, 17) and case["light"] == "green"
    assert local(ready(case, "task_intake")[0]["due_at"]) == at(10, 10, 17)

    manual_clock.set(at(9, 30, 10))
    clerk = api.as_user("window_clerk")  # tokens expire on the same clock
    resp = clerk.post(f"/api/v1/cases/{no}/suspensions",
                      json={"kind": "expert_review", "reason": "组织专家评审", "notice": "已书面告知申请人"})
    assert resp.status_code == 201, resp.body
    assert clerk.post(f"/api/v1/cases/{no}/suspensions", json={"kind": "hearing", "reason": "x"}).status_code == 409

    manual_clock.set(at(10, 10, 10))
    clerk = api.as_user("window_clerk")
    resumed = clerk.post(f"/api/v1/cases/{no}/resume").body
    # office time paused: 30 Sep 10:00–17:00 (6 h) + 9 Oct (7 h) + 10 Oct 09:00–10:00 (1 h) = 2 working days
    assert resumed["paused_minutes"] == 14 * 60
    case = clerk.get(f"/api/v1/cases/{no}").body
    assert local(case["deadline"]) == at(11, 3, 17)               # 30 Oct + 2 working days
    assert local(case["statutory_deadline"]) == at(11, 3, 17)
    assert local(ready(case, "task_intake")[0]["due_at"]) == at(10, 13, 17)  # 11 Oct is a make-up day
    history = [h["action"] for h in clerk.get(f"/api/v1/cases/{no}/history").body]
    assert history[-2:] == ["case.suspended", "case.resumed"]


def test_extension_needs_a_manager_and_is_capped(api, manual_clock):
    assert deploy_with_catalog(api).status_code == 201
    clerk = api.as_user("window_clerk")
    no = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]
    assert clerk.post(f"/api/v1/cases/{no}/extensions", json={"workdays": 5, "reason": "复杂"}).status_code == 403
    manager = api.as_user("manager")
    assert manager.post(f"/api/v1/cases/{no}/extensions", json={"workdays": 6, "reason": "需现场核查"}).status_code == 201
    assert local(manager.get(f"/api/v1/cases/{no}").body["deadline"]) == at(11, 7, 17)  # 30 Oct + 6 working days
    refused = manager.post(f"/api/v1/cases/{no}/extensions", json={"workdays": 5, "reason": "再延"})
    assert refused.status_code == 422 and "超过法定延长上限" in refused.body["message"]
    assert local(manager.get(f"/api/v1/cases/{no}").body["deadline"]) == at(11, 7, 17)  # unchanged


def test_lights_turn_yellow_then_red(api, manual_clock):
    assert deploy_with_catalog(api).status_code == 201
    clerk = api.as_user("window_clerk")
    no = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]
    manual_clock.set(at(10, 10, 12))   # 5-day task: less than 20 % of its office time left
    clerk = api.as_user("window_clerk")
    assert ready(clerk.get(f"/api/v1/cases/{no}").body, "task_intake")[0]["light"] == "yellow"
    manual_clock.set(at(10, 10, 17, 1))
    clerk = api.as_user("window_clerk")
    assert ready(clerk.get(f"/api/v1/cases/{no}").body, "task_intake")[0]["light"] == "red"
    inbox = clerk.get("/api/v1/tasks").body
    assert inbox[0]["light"] == "red"


def test_a_broken_catalog_is_refused_naming_lines(api):
    broken = CATALOG.replace("unit: workday}\n  statutory", "unit: weeks}\n  statutory").replace("task: task_intake", "task: nope")
    resp = deploy_with_catalog(api, broken)
    assert resp.status_code == 422
    text = str(resp.body)
    assert "第 5 行" in text and "第 9 行" in text and "nope" in text


def test_supervision_scan_reminds_supervises_and_escalates_once_each(api, app, manual_clock):
    from app.scheduler import scan_supervision
    assert deploy_with_catalog(api).status_code == 201
    clerk = api.as_user("window_clerk")
    no = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]
    assert scan_supervision(app) == 0                     # green: nothing to say
    manual_clock.set(at(10, 10, 12))                      # task yellow
    assert scan_supervision(app) == 1
    assert scan_supervision(app) == 0                     # once only
    manual_clock.set(at(10, 10, 17, 30))                  # task red
    assert scan_supervision(app) == 1
    manual_clock.set(at(10, 15, 9))                       # 2 working days later: escalate
    assert scan_supervision(app) == 1
    manager = api.as_user("manager")
    events = manager.get("/api/v1/supervision/events").body
    assert [(e["kind"], e["reason"]) for e in reversed(events)] == [
        ("remind", "即将超期"), ("supervise", "超期未办结"), ("escalate", "超期未办结")]
    assert all(e["case_no"] == no for e in events)
    # the department sees its own events; another department sees none
    assert len(api.as_user("window_clerk").get("/api/v1/supervision/events").body) == 3
    assert api.as_user("tax_approver").get("/api/v1/supervision/events").body == []
    # a manager's manual 督办
    resp = manager.post(f"/api/v1/supervision/cases/{no}/supervise", json={"note": "请今日内办结"})
    assert resp.status_code == 201 and resp.body["kind_name"] == "督办"
    assert clerk.post(f"/api/v1/supervision/cases/{no}/supervise", json={"note": "x"}).status_code in (401, 403)
