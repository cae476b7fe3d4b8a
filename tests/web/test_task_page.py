"""The task page: who may open it, what it shows, the form submitted as JSON, and the work around the task."""
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, Task, TaskComment, User
from app.services import accounts, clock
from app.services.uow import run_use_case

from ..api.helpers import deploy, ready
from ..api.startup import CREDIT_CODE, case_of, complete, start, upload_all


def user_id(username: str) -> int:
    db.session.rollback()
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


def add_user(username: str, department: str, roles=("approver",)) -> None:
    run_use_case(db.session, lambda: accounts.create_user(
        db.session, username=username, password="Secret#123", name=f"{username}同志", department=department,
        roles=list(roles), actor_id=None, now=clock.now()))


@pytest.fixture
def register_task(api):
    """A 企业开办 case accepted at the window: 设立登记 waits at 市场监管局 (which gets a second approver)."""
    clerk = api.as_user("window_clerk")
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    add_user("amr_second", "amr")
    task = ready(case_of(api, case_no), "task_register")[0]
    return {"case_no": case_no, "id": task["id"]}


def state(task_id: str) -> tuple:
    """What completing or working the task could change."""
    db.session.rollback()
    task = db.session.get(Task, task_id, populate_existing=True)
    case = db.session.get(Case, task.case_id, populate_existing=True)
    events = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.case_id == case.id)).scalar_one()
    comments = db.session.execute(select(func.count()).select_from(TaskComment)
                                  .where(TaskComment.case_id == case.id)).scalar_one()
    return (task.state, task.assignee_id, task.owner_id, task.data, dict(case.data), case.status, case.audit_head,
            case.suspended_at, events, comments)


def submit(web, task_id: str, data: dict, csrf: bool = True):
    """What form.js does: POST the form-js data as JSON with the page's CSRF token in a header."""
    web._fresh_request()
    headers = {"X-CSRFToken": web.csrf, "Accept": "application/json"} if csrf else {"Accept": "application/json"}
    return web.client.post(f"/tasks/{task_id}/complete", json={"data": data}, headers=headers)


def test_the_page_shows_the_task_its_case_and_the_form(api, browser_for, register_task):
    web = browser_for("amr_approver")
    page = web.get(f"/tasks/{register_task['id']}")
    text = web.text(page)
    assert page.status_code == 200
    assert "设立登记" in text and f'href="/cases/{register_task["case_no"]}"' in text and "企业开办一件事" in text
    assert "事项：公司设立登记" in text and "承诺件" in text
    assert "企业名称" in text and "鹤壁市示例科技有限公司" in text
    assert "41060219900101123X" not in text and "4106**********123X" in text  # masked for an approver
    materials = re.findall(rf'href="/cases/{register_task["case_no"]}/materials/(\d+)"', text)
    assert len(materials) == 4 and "公司章程" in text
    assert "综合窗口收件" in text and "办理完成" in text  # the history, in words
    assert 'name="csrf-token"' in text and 'class="js-form"' in text and "credit_code" in text
    assert 'data-submit-url="/tasks/' in text and "form-viewer.umd.js" in text and "<script>" not in text
    assert "未认领" in text and ">认领</button>" in text


def test_a_bad_form_is_refused_as_json_and_changes_nothing(api, browser_for, register_task):
    web = browser_for("amr_approver")
    web.get(f"/tasks/{register_task['id']}")
    before = state(register_task["id"])
    resp = submit(web, register_task["id"], {"credit_code": "not-a-code"})
    assert resp.status_code == 422 and resp.is_json and "统一社会信用代码" in str(resp.get_json()["errors"])
    assert submit(web, register_task["id"], {"no_such_field": 1}).status_code == 422
    assert submit(web, register_task["id"], {"credit_code": CREDIT_CODE}, csrf=False).status_code == 400
    forged = web.client.post(f"/tasks/{register_task['id']}/complete", data="[]", content_type="application/json",
                             headers={"X-CSRFToken": web.csrf})
    assert forged.status_code == 422 and forged.is_json
    assert state(register_task["id"]) == before
    resp = submit(web, register_task["id"], {"credit_code": CREDIT_CODE})
    assert resp.status_code == 200 and resp.get_json() == {"redirect": "/inbox/"}
    assert state(register_task["id"])[0] == "completed"


def test_a_claimed_task_cannot_be_completed_by_a_colleague(api, browser_for, register_task):
    owner, other = browser_for("amr_approver"), browser_for("amr_second", "Secret#123")
    owner.get(f"/tasks/{register_task['id']}")
    resp = owner.post(f"/tasks/{register_task['id']}/claim")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/tasks/{register_task['id']}")
    assert "已认领" in owner.text(owner.get(resp.headers["Location"]))
    page = other.text(other.get(f"/tasks/{register_task['id']}"))
    assert "任务已由 amr_approver" not in page and "只有认领人可以办理" in page and 'class="js-form"' not in page
    before = state(register_task["id"])
    resp = submit(other, register_task["id"], {"credit_code": CREDIT_CODE})
    assert resp.status_code == 403 and resp.get_json()["message"] == "任务已由他人认领"
    again = other.post(f"/tasks/{register_task['id']}/claim")
    assert again.status_code == 409 and "任务已由他人认领" in other.text(again)  # shown on the page
    assert state(register_task["id"]) == before
    assert submit(owner, register_task["id"], {"credit_code": CREDIT_CODE}).status_code == 200


def test_delegate_resolve_and_the_owner_completes(api, browser_for, register_task):
    task_id = register_task["id"]
    owner, delegate = browser_for("amr_approver"), browser_for("amr_second", "Secret#123")
    owner.get(f"/tasks/{task_id}")
    owner.post(f"/tasks/{task_id}/claim")
    page = owner.text(owner.get(f"/tasks/{task_id}"))
    assert "委派给（本部门人员" in page and f'value="{user_id("amr_second")}"' in page
    assert f'value="{user_id("police_approver")}">' not in page.split('id="delegate-user"')[1].split("</select>")[0]
    resp = owner.post(f"/tasks/{task_id}/delegate", {"user_id": user_id("amr_second"), "note": "请协助审查"})
    assert resp.status_code == 302

    page = delegate.text(delegate.get(f"/tasks/{task_id}"))
    assert "委派给您" in page and "交回委派人" in page and 'class="js-form"' not in page
    before = state(task_id)
    assert submit(delegate, task_id, {"credit_code": CREDIT_CODE}).status_code == 403
    assert submit(owner, task_id, {"credit_code": CREDIT_CODE}).status_code == 403
    resp = delegate.post(f"/tasks/{task_id}/resolve", {"comment": "   "})
    assert resp.status_code == 422 and "请填写办理意见" in delegate.text(resp) and 'role="alert"' in delegate.text(resp)
    assert state(task_id) == before
    resp = delegate.post(f"/tasks/{task_id}/resolve", {"comment": "材料齐全，建议准予登记"})
    assert resp.status_code == 302 and "已交回委派人" in delegate.text(delegate.get(resp.headers["Location"]))

    page = owner.text(owner.get(f"/tasks/{task_id}"))
    assert 'class="js-form"' in page and "材料齐全，建议准予登记" in page and "交回委派人" in page
    assert submit(delegate, task_id, {"credit_code": CREDIT_CODE}).status_code == 403
    assert submit(owner, task_id, {"credit_code": CREDIT_CODE}).status_code == 200


def test_a_copy_recipient_of_another_department_reads_without_a_form(api, browser_for, register_task):
    task_id, case_no = register_task["id"], register_task["case_no"]
    bank = browser_for("bank_approver")
    assert bank.get(f"/tasks/{task_id}").status_code == 403
    assert bank.get(f"/cases/{case_no}").status_code == 403
    sender = browser_for("amr_approver")
    page = sender.text(sender.get(f"/tasks/{task_id}"))
    assert "银行 · 银行审批人员" in page
    resp = sender.post(f"/tasks/{task_id}/copy", {"user_ids": [user_id("bank_approver")], "note": "开户前请了解"})
    assert resp.status_code == 302

    inbox = bank.text(bank.get("/inbox/?tab=copies"))
    assert case_no in inbox and "未读" in inbox and "开户前请了解" in inbox
    page = bank.get(f"/tasks/{task_id}")
    text = bank.text(page)
    assert page.status_code == 200 and "只读查看" in text and "抄送给您" in text and "鹤壁市示例科技有限公司" in text
    assert 'class="js-form"' not in text and 'name="body"' not in text and "/claim" not in text
    assert "已读" in bank.text(bank.get("/inbox/?tab=copies"))
    assert bank.get(f"/cases/{case_no}").status_code == 200
    before = state(task_id)
    assert submit(bank, task_id, {"credit_code": CREDIT_CODE}).status_code == 403
    assert bank.post(f"/tasks/{task_id}/comment", {"body": "插话"}).status_code == 403
    assert state(task_id) == before


def test_an_approver_of_another_department_is_refused(api, browser_for, register_task):
    web = browser_for("tax_approver")
    resp = web.get(f"/tasks/{register_task['id']}")
    text = web.text(resp)
    assert resp.status_code == 403 and "无权查看该任务" in text and "鹤壁市示例科技有限公司" not in text
    assert web.get("/tasks/no-such-task").status_code == 404
    before = state(register_task["id"])
    assert web.post(f"/tasks/{register_task['id']}/claim").status_code == 403
    assert state(register_task["id"]) == before


def test_comments_keep_what_was_typed_when_refused(api, browser_for, register_task):
    task_id = register_task["id"]
    web = browser_for("amr_approver")
    web.get(f"/tasks/{task_id}")
    before = state(task_id)
    long_text = "审" * 2001
    resp = web.post(f"/tasks/{task_id}/comment", {"body": long_text})
    assert resp.status_code == 422 and "最多 2000 个字符" in web.text(resp) and long_text in web.text(resp)
    assert web.post(f"/tasks/{task_id}/comment", {"body": ""}).status_code == 422
    assert state(task_id) == before
    resp = web.post(f"/tasks/{task_id}/comment", {"body": "住所证明需现场核实"})
    assert resp.status_code == 302
    page = web.text(web.get(f"/tasks/{task_id}"))
    assert "住所证明需现场核实" in page and "评论已发表" in page


def test_reassign_to_another_department_is_refused_with_the_reason(api, browser_for, register_task):
    task_id = register_task["id"]
    web = browser_for("amr_approver")
    web.get(f"/tasks/{task_id}")
    before = state(task_id)
    resp = web.post(f"/tasks/{task_id}/reassign", {"user_id": user_id("police_approver"), "note": "请公安办"})
    text = web.text(resp)
    assert resp.status_code == 422 and "只能转办给本部门（市场监管局）的人员" in text and 'value="请公安办"' in text
    assert state(task_id) == before
    resp = web.post(f"/tasks/{task_id}/reassign", {"user_id": user_id("amr_second")})
    assert resp.status_code == 302
    assert state(task_id)[1] == user_id("amr_second")
    assert submit(web, task_id, {"credit_code": CREDIT_CODE}).status_code == 403


def test_suspension_from_the_task_page(api, browser_for, register_task):
    task_id = register_task["id"]
    web = browser_for("amr_approver")
    page = web.text(web.get(f"/tasks/{task_id}"))
    for name in ("听证", "检验检测鉴定", "专家评审", "补正", "现场勘验"):
        assert f">{name}</option>" in page
    before = state(task_id)
    resp = web.post(f"/tasks/{task_id}/suspend", {"kind": "site_survey", "reason": "", "notice": "将于下周勘验"})
    assert resp.status_code == 422 and "请填写中止计时理由" in web.text(resp) and "将于下周勘验" in web.text(resp)
    assert web.post(f"/tasks/{task_id}/suspend", {"kind": "nap", "reason": "x"}).status_code == 422
    assert state(task_id) == before
    resp = web.post(f"/tasks/{task_id}/suspend", {"kind": "site_survey", "reason": "住所需现场勘验",
                                                  "notice": "现场勘验期间不计入办理期限"})
    assert resp.status_code == 302
    page = web.text(web.get(f"/tasks/{task_id}"))
    assert "办件中止计时中" in page and "中止计时 现场勘验" in page and 'id="suspend-kind"' not in page
    assert state(task_id)[7] is not None


MI_XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_cs" targetNamespace="http://binglian.test">
  <bpmn:process id="countersign_demo" name="会签测试" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_w" name="综合窗口"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>pick</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_h" name="住建局"><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pick"/>
    <bpmn:scriptTask id="pick" name="确定会签部门">
      <bpmn:script>reviewers = {d: d for d in ['住建局', '消防救援大队', '人防办']}
results = {}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="pick" targetRef="review"/>
    <bpmn:userTask id="review" name="联合审查（会签）" camunda:candidateGroups="${reviewer}">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopDataInputRef>reviewers</bpmn:loopDataInputRef>
        <bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="reviewer" name="reviewer"/>
        <bpmn:outputDataItem id="result" name="result"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_one_instance_of_a_countersign_says_how_many_departments_sign(api, browser_for):
    resp = deploy(api, MI_XML, "countersign_demo.bpmn")
    assert resp.status_code == 201, resp.body
    case = api.as_user("window_clerk").post("/api/v1/cases", json={"process_key": "countersign_demo", "applicant": {
        "name": "张三", "id_number": "410602199001011234", "phone": "13800000000"}}).body
    reviews = ready(case, "review")
    assert sorted(t["department"] for t in reviews) == ["人防办", "住建局", "消防救援大队"]
    fire = next(t for t in reviews if t["department"] == "消防救援大队")
    web = browser_for("fire_approver")
    page = web.text(web.get(f"/tasks/{fire['id']}"))
    assert "会签：3 个部门同时办理" in page


def test_a_manager_reads_without_a_form_and_may_release_a_claim(api, browser_for, register_task):
    task_id = register_task["id"]
    worker = browser_for("amr_approver")
    worker.get(f"/tasks/{task_id}")
    worker.post(f"/tasks/{task_id}/claim")
    manager = browser_for("manager")
    page = manager.text(manager.get(f"/tasks/{task_id}"))
    assert "只读查看" in page and 'class="js-form"' not in page and 'name="body"' not in page
    assert ">取消认领</button>" in page and ">认领</button>" not in page
    before = state(task_id)
    assert submit(manager, task_id, {"credit_code": CREDIT_CODE}).status_code == 403
    assert manager.post(f"/tasks/{task_id}/comment", {"body": "督办意见"}).status_code == 403
    assert state(task_id) == before
    assert manager.post(f"/tasks/{task_id}/unclaim").status_code == 302
    assert state(task_id)[1] is None
    assert ">认领</button>" in worker.text(worker.get(f"/tasks/{task_id}"))
