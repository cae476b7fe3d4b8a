"""加签 and 撤回 on the task page: the forms (CSRF included), the added approver's 加签待办 and decision,
后加签 through the task form's JSON submission, and 撤回 with its refusal shown on the page."""
from sqlalchemy import select

from app.extensions import db
from app.models import Task, TaskSign, User

from ..api.helpers import APPLICANT, DEMO_XML, deploy, ready


def setup_case(api) -> str:
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return case["case_no"]


def task_of(api, case_no, element_id) -> str:
    case = api.as_user("manager").get(f"/api/v1/cases/{case_no}").body
    return next(t["id"] for t in case["tasks"] if t["element_id"] == element_id)


def uid(username) -> int:
    db.session.rollback()
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


def row_state(task_id):
    db.session.rollback()
    return db.session.get(Task, task_id, populate_existing=True).state


def test_before_sign_from_the_page_to_another_department_and_back(api, browser_for):
    case_no = setup_case(api)
    task_id = task_of(api, case_no, "task_b")
    tax = browser_for("tax_approver")
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert "前加签" not in page  # not claimed yet: nothing to add to
    assert tax.post(f"/tasks/{task_id}/claim").status_code == 302
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert 'action="/tasks/%s/sign-before"' % task_id in page and "公安局 · " in page
    assert tax.post(f"/tasks/{task_id}/sign-before", {"user_ids": [], "note": "x"}).status_code == 422
    # a forged post without the CSRF token changes nothing
    assert tax.post(f"/tasks/{task_id}/sign-before", {"user_ids": [uid("police_approver")]}, csrf=False) \
        .status_code == 400
    assert db.session.execute(select(TaskSign)).first() is None
    resp = tax.post(f"/tasks/{task_id}/sign-before", {"user_ids": [uid("police_approver")], "note": "请先审核"})
    assert resp.status_code == 302
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert "加签记录" in page and "待审批" in page and "正在前加签中" in page and "提交并办结" not in page

    police = browser_for("police_approver")
    listing = police.text(police.get("/tasks/signs"))
    assert case_no in listing and "请先审核" in listing
    page = police.text(police.get(f"/tasks/{task_id}"))
    assert "您是本任务的加签人" in page and "提交加签意见" in page and "提交并办结" not in page
    sign_id = db.session.execute(select(TaskSign.id)).scalar_one()
    resp = police.post(f"/tasks/signs/{sign_id}/decide", {"approve": "1", "opinion": ""})
    assert resp.status_code == 422 and "请填写加签意见" in police.text(resp)
    assert browser_for("bank_approver").get(f"/tasks/{task_id}").status_code == 403
    assert police.post(f"/tasks/signs/{sign_id}/decide", {"approve": "1", "opinion": "无意见"}).status_code == 302
    assert case_no not in police.text(police.get("/tasks/signs"))
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert "提交并办结" in page and "无意见" in page
    assert "加签审批" in page  # the timeline says it in words


def test_after_sign_through_the_task_form_then_withdraw(api, browser_for):
    case_no = setup_case(api)
    task_id = task_of(api, case_no, "task_b")
    tax = browser_for("tax_approver")
    tax.get(f"/tasks/{task_id}")
    assert tax.post(f"/tasks/{task_id}/claim").status_code == 302
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert 'data-extra="sign-after-extra"' in page and 'name="sign_after"' in page
    tax._fresh_request()
    resp = tax.client.post(f"/tasks/{task_id}/complete", json={"data": {}, "sign_after": str(uid("amr_approver"))},
                           headers={"X-CSRFToken": tax.csrf, "Accept": "application/json"})
    assert resp.status_code == 200, resp.get_json()
    assert row_state(task_id) == "ready"  # waits for the added approver
    amr = browser_for("amr_approver")
    sign_id = db.session.execute(select(TaskSign.id)).scalar_one()
    amr.get(f"/tasks/{task_id}")
    assert amr.post(f"/tasks/signs/{sign_id}/decide", {"approve": "1", "opinion": "同意"}).status_code == 302
    assert row_state(task_id) == "completed"

    # 撤回: the completer sees the button; a refusal is shown on the page with nothing changed
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert "撤回办结" in page
    manager = browser_for("manager")
    assert "撤回办结" not in manager.text(manager.get(f"/tasks/{task_id}"))
    resp = tax.post(f"/tasks/{task_id}/withdraw", {"reason": "意见有误"})
    assert resp.status_code == 302 and row_state(task_id) == "ready"
    page = tax.text(tax.get(f"/tasks/{task_id}"))
    assert "已撤回" in page and "撤回办结" in page  # the flash and the timeline
    resp = tax.post(f"/tasks/{task_id}/withdraw", {"reason": ""})
    assert resp.status_code == 409 and "任务未办结" in tax.text(resp)
