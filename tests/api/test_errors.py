"""Every error path answers with the right status and a readable zh-CN message, and changes nothing."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition, Task, WorkflowState

from .helpers import APPLICANT, DEMO_XML, deploy, ready

FORM = {"id": "review_form", "type": "default", "schemaVersion": 16, "components": [
    {"type": "radio", "key": "decision", "label": "审查结论", "validate": {"required": True},
     "values": [{"label": "同意", "value": "approve"}, {"label": "不同意", "value": "reject"}]},
    {"type": "number", "key": "amount", "label": "金额", "validate": {"min": 0, "max": 100}},
    {"type": "textfield", "key": "code", "label": "代码", "validate": {"pattern": "^[A-Z]{3}$"}},
]}


def snapshot():
    def count(model):
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()
    versions = tuple(db.session.execute(select(WorkflowState.case_id, WorkflowState.version)
                                        .order_by(WorkflowState.case_id)).all())
    states = tuple(db.session.execute(select(Task.id, Task.state).order_by(Task.id)).all())
    audits = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action.not_like("auth.%"))).scalar_one()
    db.session.rollback()
    return count(Case), audits, count(ProcessDefinition), versions, states


@pytest.fixture
def running_case(api):
    analyst = api.as_user("analyst")
    assert analyst.post("/api/v1/forms", json=FORM).status_code == 201
    xml = DEMO_XML.replace('<bpmn:userTask id="task_a" name="审查A"/>',
                           '<bpmn:userTask id="task_a" name="审查A" camunda:formKey="review_form"/>') \
        .replace('xmlns:xsi=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi=') \
        .replace("approved_a and checked", "decision == 'approve' and checked")
    assert deploy(api, xml).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return clerk.get(f"/api/v1/cases/{case['case_no']}").body


def assert_error(resp, status, *fragments):
    assert resp.status_code == status, resp.body
    assert isinstance(resp.body, dict) and resp.body["message"]
    assert "Traceback" not in str(resp.body)
    for fragment in fragments:
        assert fragment in str(resp.body), resp.body


def test_bad_login_is_401(api):
    before = snapshot()
    assert_error(api.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong-pw"}), 401, "密码错误")
    assert_error(api.post("/api/v1/auth/login", json={"username": "ghost", "password": "wrong-pw"}), 401, "密码错误")
    assert snapshot() == before


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_missing_or_invalid_token_is_401(api, header):
    headers = {"Authorization": header} if header else {}
    assert_error(api.get("/api/v1/tasks", headers=headers), 401)


def test_other_department_is_403_and_nothing_changes(api, running_case):
    task = ready(running_case, "task_b")[0]  # 税务局
    police = api.as_user("police_approver")
    before = snapshot()
    assert_error(police.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}), 403, "部门")
    assert snapshot() == before
    assert task["id"] not in [t["id"] for t in police.get("/api/v1/tasks").body]


def test_roles_are_enforced(api):
    approver = api.as_user("tax_approver")
    assert_error(approver.post("/api/v1/departments", json={"code": "x", "name": "某局"}), 403)
    assert_error(deploy(api, DEMO_XML, user="tax_approver"), 403)
    assert_error(approver.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}), 403)


def test_double_completion_is_409(api, running_case):
    task = ready(running_case, "task_b")[0]
    tax = api.as_user("tax_approver")
    assert tax.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    before = snapshot()
    assert_error(tax.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}), 409)
    assert snapshot() == before


def test_unknown_task_is_404(api, running_case):
    tax = api.as_user("tax_approver")
    assert_error(tax.post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/complete", json={"data": {}}), 404)
    assert_error(tax.get("/api/v1/cases/NOPE"), 404)


@pytest.mark.parametrize("data,field", [
    ({}, "decision"),
    ({"decision": "maybe"}, "decision"),
    ({"decision": "approve", "amount": 101}, "amount"),
    ({"decision": "approve", "amount": "ten"}, "amount"),
    ({"decision": "approve", "code": "abc"}, "code"),
    ({"decision": "approve", "unexpected": 1}, "unexpected"),
    ({"decision": "approve", "__class__": 1}, "__class__"),
])
def test_invalid_form_data_is_422_naming_fields(api, running_case, data, field):
    task = ready(running_case, "task_a")[0]
    amr = api.as_user("amr_approver")
    before = snapshot()
    resp = amr.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert_error(resp, 422, field)
    assert snapshot() == before
    # and the task can still be completed properly afterwards
    ok = amr.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve", "amount": 5}})
    assert ok.status_code == 200, ok.body


def test_malformed_bodies_are_422_not_500(api, running_case):
    task = ready(running_case, "task_b")[0]
    tax = api.as_user("tax_approver")
    assert_error(tax.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": [1, 2]}), 422)
    assert_error(tax.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}, "extra": 1}), 422)
    resp = tax.request("POST", f"/api/v1/tasks/{task['id']}/complete", data="{not json",
                       headers={"Content-Type": "application/json"})
    assert resp.status_code in (400, 422) and resp.body["message"]


def test_invalid_bpmn_is_422_naming_elements_and_deploys_nothing(api):
    before = snapshot()
    broken = DEMO_XML.replace('name="税务局"', 'name="没有这个局"').replace("<bpmn:flowNodeRef>task_c</bpmn:flowNodeRef>", "")
    resp = deploy(api, broken)
    assert_error(resp, 422, "lane_tax", "task_c")
    assert {e["element_id"] for e in resp.body["errors"]} >= {"lane_tax", "task_c"}
    assert snapshot() == before


def test_start_case_errors(api):
    clerk = api.as_user("window_clerk")
    before = snapshot()
    assert_error(clerk.post("/api/v1/cases", json={"process_key": "nope", "applicant": APPLICANT}), 404, "nope")
    assert_error(clerk.post("/api/v1/cases", json={"process_key": "nope"}), 422, "applicant")
    assert_error(clerk.post("/api/v1/cases", json={"process_key": "x", "applicant": {"name": "a"}}), 422, "id_number")
    assert snapshot() == before


def test_repeated_bad_passwords_lock_the_account_then_it_recovers(api, app):
    from datetime import timedelta
    from app.services import clock
    from app.services.clock import ManualClock
    test_clock = ManualClock(clock.now())
    clock.use(test_clock)
    try:
        for _ in range(5):
            assert api.post("/api/v1/auth/login", json={"username": "tax_approver", "password": "nope-nope"}).status_code == 401
        # even the right password is refused while locked, with a clear message
        locked = api.post("/api/v1/auth/login", json={"username": "tax_approver", "password": "Demo@2026-test"})
        assert_error(locked, 429, "锁定")
        test_clock.advance(timedelta(minutes=16))
        assert api.post("/api/v1/auth/login", json={"username": "tax_approver", "password": "Demo@2026-test"}).status_code == 200
    finally:
        clock.use(clock.SystemClock())


def test_revoked_and_expired_tokens_are_refused(api):
    from datetime import timedelta
    from app.services import clock
    from app.services.clock import ManualClock
    user = api.as_user("tax_approver")
    assert user.post("/api/v1/auth/logout").status_code == 204
    assert_error(user.get("/api/v1/tasks"), 401)
    other = api.as_user("tax_approver")
    test_clock = ManualClock(clock.now() + timedelta(hours=13))
    clock.use(test_clock)
    try:
        assert_error(other.get("/api/v1/tasks"), 401)
    finally:
        clock.use(clock.SystemClock())


def test_logins_from_one_address_are_rate_limited(database_url, tmp_path):
    from app import create_app
    from config import TestConfig
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, INSTANCE_DIR=tmp_path,
                     RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever1"}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    limited = client.post("/api/v1/auth/login", json={"username": "tax_approver", "password": "Demo@2026-test"})
    assert limited.status_code == 429 and limited.get_json()["message"] == "请求过于频繁，请稍后再试"
    with app.app_context():
        from app.extensions import db
        db.engine.dispose()
