"""加签 through the API: 前加签 across departments comes back to the holder; 后加签 completes the engine
task only after the last added approver; bad input and wrong people are refused with nothing changed."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, TaskSign

from .helpers import APPLICANT, DEMO_XML, deploy, ready


@pytest.fixture
def case_no(api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return case["case_no"]


def case_of(api, case_no):
    return api.as_user("manager").get(f"/api/v1/cases/{case_no}").body


def tax_task(api, case_no):
    return next(t for t in case_of(api, case_no)["tasks"] if t["element_id"] == "task_b")


def counts():
    db.session.rollback()
    return (db.session.execute(select(func.count()).select_from(TaskSign)).scalar_one(),
            db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def test_before_sign_by_another_department_then_the_holder_completes(api, case_no):
    tax, police = api.as_user("tax_approver"), api.as_user("police_approver")
    task_id = tax_task(api, case_no)["id"]
    resp = tax.post(f"/api/v1/tasks/{task_id}/signs", json={"kind": "before", "usernames": ["police_approver"]})
    assert resp.status_code == 403 and "认领" in resp.body["message"]
    assert tax.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    for body, status, words in (({"kind": "before", "usernames": ["nobody"]}, 422, "不存在"),
                                ({"kind": "before", "usernames": ["tax_approver"]}, 422, "自己"),
                                ({"kind": "before", "usernames": ["manager"]}, 422, "不是审批人员"),
                                ({"kind": "sideways", "usernames": ["police_approver"]}, 422, "kind"),
                                ({"kind": "before", "usernames": []}, 422, "usernames")):
        before = counts()
        resp = tax.post(f"/api/v1/tasks/{task_id}/signs", json=body)
        assert resp.status_code == status and words in str(resp.body), (body, resp.body)
        assert counts() == before
    resp = tax.post(f"/api/v1/tasks/{task_id}/signs",
                    json={"kind": "before", "usernames": ["police_approver"], "note": "涉及公章，请公安局先行审核"})
    assert resp.status_code == 201, resp.body
    sign = resp.body[0]
    assert sign["status"] == "pending" and sign["kind_name"] == "前加签"
    # held: the holder cannot complete it now
    resp = tax.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}})
    assert resp.status_code == 409 and "加签" in resp.body["message"]
    # the added approver sees it in their 加签待办 and may read the signs; an outsider may not
    mine = police.get("/api/v1/signs").body
    assert [s["id"] for s in mine] == [sign["id"]] and mine[0]["case_no"] == case_no
    assert police.get(f"/api/v1/tasks/{task_id}/signs").status_code == 200
    assert api.as_user("bank_approver").get(f"/api/v1/tasks/{task_id}/signs").status_code == 403
    assert tax.post(f"/api/v1/signs/{sign['id']}/decide", json={"approve": True, "opinion": "x"}).status_code == 403
    assert police.post(f"/api/v1/signs/{sign['id']}/decide", json={"approve": True}).status_code == 422
    resp = police.post(f"/api/v1/signs/{sign['id']}/decide", json={"approve": True, "opinion": "公安局无意见"})
    assert resp.status_code == 200 and resp.body["status"] == "approved", resp.body
    assert police.get("/api/v1/signs").body == []
    assert tax_task(api, case_no)["state"] == "ready"
    assert tax.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code == 200
    history = [e["action"] for e in api.as_user("manager").get(f"/api/v1/cases/{case_no}/history").body]
    assert history.count("task.sign_added") == 1 and history.count("task.sign_decided") == 1


def test_after_sign_completes_after_the_last_approver_and_a_no_hands_it_back(api, case_no):
    tax, police, amr = (api.as_user(u) for u in ("tax_approver", "police_approver", "amr_approver"))
    task_id = tax_task(api, case_no)["id"]
    assert tax.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    resp = tax.post(f"/api/v1/tasks/{task_id}/signs", json={"kind": "after", "usernames": ["police_approver"],
                                                            "data": {"bad key": 1}})
    assert resp.status_code == 422
    resp = tax.post(f"/api/v1/tasks/{task_id}/signs", json={
        "kind": "after", "usernames": ["police_approver", "amr_approver"], "data": {"tax_checked": True}})
    assert resp.status_code == 201, resp.body
    first, second = resp.body
    assert (first["status"], second["status"]) == ("pending", "waiting")
    assert amr.post(f"/api/v1/signs/{second['id']}/decide", json={"approve": True, "opinion": "同意"}).status_code == 409
    assert police.post(f"/api/v1/signs/{first['id']}/decide", json={"approve": True, "opinion": "同意"}).status_code == 200
    assert tax_task(api, case_no)["state"] == "ready"  # the engine task waits for the last one
    resp = amr.post(f"/api/v1/signs/{second['id']}/decide", json={"approve": True, "opinion": "同意办结"})
    assert resp.status_code == 200, resp.body
    done = tax_task(api, case_no)
    assert done["state"] == "completed"
    assert done["completed_by_id"] == api.as_user("tax_approver").get("/api/v1/me").body["id"]

    # a 不同意 on the 公安局 task's 后加签 hands it back; the holder may then cancel nothing and complete
    police_task = next(t for t in case_of(api, case_no)["tasks"] if t["element_id"] == "task_c")
    assert police.post(f"/api/v1/tasks/{police_task['id']}/claim").status_code == 200
    resp = police.post(f"/api/v1/tasks/{police_task['id']}/signs",
                       json={"kind": "after", "usernames": ["tax_approver"], "data": {}})
    sign = resp.body[0]
    assert tax.post(f"/api/v1/signs/{sign['id']}/decide", json={"approve": False, "opinion": "请核实"}).status_code == 200
    assert next(t for t in case_of(api, case_no)["tasks"] if t["id"] == police_task["id"])["state"] == "ready"
    assert police.post(f"/api/v1/tasks/{police_task['id']}/signs/cancel").status_code == 409
    assert police.post(f"/api/v1/tasks/{police_task['id']}/complete", json={"data": {}}).status_code == 200
