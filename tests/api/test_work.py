"""Work on tasks through the API: 认领, 转办, 委派/交回, 抄送, 评论 and the inbox tabs; refusals change nothing."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Task
from app.services import clock

from .helpers import APPLICANT, DEMO_XML, deploy, ready


@pytest.fixture
def people(api):
    """The demo users, plus a second approver in 税务局."""
    admin = api.as_user("admin", "admin-test-pw")
    resp = admin.post("/api/v1/users", json={"username": "tax_second", "password": "Secret#123", "name": "税务局二号",
                                             "department": "tax", "roles": ["approver"]})
    assert resp.status_code == 201, resp.body
    return {"tax": api.as_user("tax_approver"), "mate": api.as_user("tax_second", "Secret#123"),
            "police": api.as_user("police_approver"), "bank": api.as_user("bank_approver"),
            "manager": api.as_user("manager"), "clerk": api.as_user("window_clerk"), "ids": {
                u["username"]: u["id"] for u in admin.get("/api/v1/users").body}}


def new_case(api) -> dict:
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return clerk.get(f"/api/v1/cases/{case['case_no']}").body


@pytest.fixture
def case(api):
    assert deploy(api, DEMO_XML).status_code == 201
    return new_case(api)


def tax_task(case) -> str:
    return next(t["id"] for t in ready(case) if t["department"] == "税务局")


def history(api, case_no) -> list[tuple]:
    return [(e["action"], e["after"]) for e in api.as_user("manager").get(f"/api/v1/cases/{case_no}/history").body]


def test_claim_then_only_the_assignee_completes(api, case, people):
    task_id = tax_task(case)
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/claim")
    assert resp.status_code == 200 and resp.body["assignee_id"] == people["ids"]["tax_approver"]
    assert resp.body["claimed_at"] and resp.body["case_no"] == case["case_no"]
    before = history(api, case["case_no"])
    again = people["mate"].post(f"/api/v1/tasks/{task_id}/claim")
    assert again.status_code == 409 and again.body["message"] == "任务已由他人认领"
    done = people["mate"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}})
    assert done.status_code == 403 and done.body["message"] == "任务已由他人认领"
    assert people["mate"].post(f"/api/v1/tasks/{task_id}/unclaim").status_code == 403
    assert people["police"].post(f"/api/v1/tasks/{task_id}/claim").status_code == 403
    assert history(api, case["case_no"]) == before
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 200
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/claim").status_code == 409  # done: nothing to claim


def test_a_manager_may_release_a_claim(api, case, people):
    task_id = tax_task(case)
    people["tax"].post(f"/api/v1/tasks/{task_id}/claim")
    resp = people["manager"].post(f"/api/v1/tasks/{task_id}/unclaim")
    assert resp.status_code == 200 and resp.body["assignee_id"] is None
    assert history(api, case["case_no"])[-1][0] == "task.unclaimed"
    assert people["mate"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 200


def test_reassign_only_inside_the_department(api, case, people):
    task_id = tax_task(case)
    before = history(api, case["case_no"])
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/reassign", json={"username": "police_approver"})
    assert resp.status_code == 422 and "只能转办给本部门（税务局）的人员" in resp.body["message"]
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/reassign", json={"username": "nobody_here"})
    assert resp.status_code == 422 and "不存在" in resp.body["message"]
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/reassign", json={}).status_code == 422
    assert history(api, case["case_no"]) == before
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/reassign", json={"username": "tax_second", "note": "你熟悉"})
    assert resp.status_code == 200 and resp.body["assignee_id"] == people["ids"]["tax_second"]
    action, after = history(api, case["case_no"])[-1]
    assert action == "task.reassigned" and after["assignee_name"] == "税务局二号" and after["note"] == "你熟悉"
    mine = people["mate"].get("/api/v1/inbox?view=mine").body
    assert [t["id"] for t in mine] == [task_id]
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 403


def test_delegate_resolve_and_the_owner_completes(api, case, people):
    task_id = tax_task(case)
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/delegate", json={"username": "tax_second"})
    assert resp.status_code == 403 and "请先认领" in resp.body["message"]
    people["tax"].post(f"/api/v1/tasks/{task_id}/claim")
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/delegate", json={"username": "tax_second"})
    assert resp.status_code == 200
    assert (resp.body["owner_id"], resp.body["assignee_id"]) == (people["ids"]["tax_approver"],
                                                                 people["ids"]["tax_second"])
    before = history(api, case["case_no"])
    assert people["mate"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 403
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 403
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/resolve", json={"comment": "好"}).status_code == 403
    assert people["mate"].post(f"/api/v1/tasks/{task_id}/resolve", json={"comment": ""}).status_code == 422
    assert history(api, case["case_no"]) == before
    resp = people["mate"].post(f"/api/v1/tasks/{task_id}/resolve", json={"comment": "已核对，建议准予"})
    assert resp.status_code == 200 and resp.body["owner_id"] is None
    assert resp.body["assignee_id"] == people["ids"]["tax_approver"]
    comments = people["tax"].get(f"/api/v1/tasks/{task_id}/comments").body
    assert [(c["author_name"], c["body"]) for c in comments] == [("税务局二号", "已核对，建议准予")]
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 200


def test_copy_lets_another_department_read_and_be_marked_read(api, case, people):
    task_id, case_no = tax_task(case), case["case_no"]
    assert people["bank"].get(f"/api/v1/cases/{case_no}").status_code == 403
    assert people["bank"].get(f"/api/v1/tasks/{task_id}/comments").status_code == 403
    before = history(api, case_no)
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/copies", json={"usernames": []}).status_code == 422
    copies = f"/api/v1/tasks/{task_id}/copies"
    assert people["tax"].post(copies, json={"usernames": ["tax_approver"]}).status_code == 422
    assert people["bank"].post(copies, json={"usernames": ["hpf_approver"]}).status_code == 403
    assert history(api, case_no) == before
    resp = people["tax"].post(f"/api/v1/tasks/{task_id}/copies", json={"usernames": ["bank_approver"], "note": "供参考"})
    assert resp.status_code == 201 and [(c["task_id"], c["note"], c["read_at"]) for c in resp.body] == \
        [(task_id, "供参考", None)]
    again = people["tax"].post(f"/api/v1/tasks/{task_id}/copies", json={"usernames": ["bank_approver"]})
    assert again.status_code == 409

    assert people["bank"].get(f"/api/v1/cases/{case_no}").status_code == 200  # the copy opens the case
    assert people["bank"].get(f"/api/v1/tasks/{task_id}/comments").status_code == 200
    assert people["bank"].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 403
    assert people["bank"].post(f"/api/v1/tasks/{task_id}/comments", json={"body": "插话"}).status_code == 403
    mine = people["bank"].get("/api/v1/copies?unread=true").body
    assert [(c["case_no"], c["sent_by_name"]) for c in mine] == [(case_no, "税务局审批人员")]
    assert people["police"].post(f"/api/v1/copies/{mine[0]['id']}/read").status_code == 403
    read = people["bank"].post(f"/api/v1/copies/{mine[0]['id']}/read")
    assert read.status_code == 200 and read.body["read_at"]
    assert people["bank"].get("/api/v1/copies?unread=true").body == []
    assert history(api, case_no)[-1][0] == "task.copy_read"


def test_comments_are_limited_and_listed(api, case, people):
    task_id = tax_task(case)
    before = history(api, case["case_no"])
    assert people["tax"].post(f"/api/v1/tasks/{task_id}/comments", json={"body": "字" * 2001}).status_code == 422
    assert people["police"].post(f"/api/v1/tasks/{task_id}/comments", json={"body": "插话"}).status_code == 403
    assert history(api, case["case_no"]) == before
    for who, text in (("tax", "第一条"), ("mate", "第二条")):
        resp = people[who].post(f"/api/v1/tasks/{task_id}/comments", json={"body": text})
        assert resp.status_code == 201 and resp.body["body"] == text
    listed = people["manager"].get(f"/api/v1/tasks/{task_id}/comments").body
    assert [(c["author_name"], c["body"]) for c in listed] == [("税务局审批人员", "第一条"), ("税务局二号", "第二条")]


def test_inbox_tabs_order_and_filters(api, case, people):
    second, third = new_case(api), new_case(api)
    ids = [tax_task(c) for c in (case, second, third)]
    now = clock.now()
    for task_id, due in zip(ids, (now + timedelta(days=3), None, now - timedelta(hours=1))):
        db.session.get(Task, task_id).due_at = due
    db.session.commit()
    rows = people["tax"].get("/api/v1/inbox").body
    assert [r["id"] for r in rows] == [ids[2], ids[0], ids[1]]  # overdue first, no deadline last
    assert [r["light"] for r in rows] == ["red", "green", None]
    assert rows[0]["service_name"] == "并联测试" and rows[0]["applicant_name"] == APPLICANT["name"]
    assert [r["id"] for r in people["tax"].get("/api/v1/inbox?overdue=true").body] == [ids[2]]
    assert [r["id"] for r in people["tax"].get(f"/api/v1/inbox?q={second['case_no']}").body] == [ids[1]]
    assert len(people["tax"].get(f"/api/v1/inbox?q={APPLICANT['name']}").body) == 3
    assert people["tax"].get("/api/v1/inbox?service=business_startup").body == []
    people["mate"].post(f"/api/v1/tasks/{ids[0]}/claim")
    assert [r["id"] for r in people["tax"].get("/api/v1/inbox").body] == [ids[2], ids[1]]
    assert [r["id"] for r in people["mate"].get("/api/v1/inbox?view=mine").body] == [ids[0]]
    assert people["tax"].get("/api/v1/inbox?view=everything").status_code == 422
