"""The authorization table: every endpoint × every role, tests generated from it; plus object-level checks."""
import io
import itertools
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, Department, FollowUp, Material, Rating
from app.services import clock
from app.services.blobs import BlobStore

from config import BASE_DIR

from .helpers import APPLICANT, DEMO_XML, deploy, ready
from .startup import APPLY

USERS = {"admin": ("admin", "admin-test-pw"), "analyst": ("analyst", None), "clerk": ("window_clerk", None),
         "approver": ("tax_approver", None), "manager": ("manager", None)}
ALL = set(USERS)

# (method, path, body, roles allowed). {case} is a running case's number, {startup_case} a running
# 企业开办 case (its catalog lists materials), {material} an uploaded material of {case},
# {completed_case} a completed case, {follow_up} a bad rating's follow-up for 税务局 (tax_approver's).
TABLE = [
    ("GET", "/api/v1/me", None, ALL),
    ("GET", "/api/v1/departments", None, ALL),
    ("POST", "/api/v1/departments", lambda: {"code": f"d{uuid.uuid4().hex[:6]}", "name": f"部门{uuid.uuid4().hex[:6]}"}, {"admin"}),
    ("GET", "/api/v1/users", None, {"admin"}),
    ("POST", "/api/v1/users", lambda: {"username": f"u{uuid.uuid4().hex[:6]}", "password": "Secret#123", "name": "新用户",
                                       "department": "tax", "roles": ["approver"]}, {"admin"}),
    ("GET", "/api/v1/processes", None, ALL),
    ("POST", "/api/v1/processes", "bpmn", {"analyst", "admin"}),
    ("POST", "/api/v1/forms", lambda: {"id": "f_auth", "components": []}, {"analyst", "admin"}),
    ("GET", "/api/v1/forms/business_startup_apply", None, ALL),
    ("GET", "/api/v1/cases", None, {"admin", "manager", "clerk"}),
    ("POST", "/api/v1/cases", lambda: {"process_key": "parallel_demo", "applicant": APPLICANT}, {"clerk", "admin"}),
    ("GET", "/api/v1/cases/{case}", None, {"admin", "manager", "clerk", "approver"}),
    ("GET", "/api/v1/cases/{case}/history", None, {"admin", "manager", "clerk", "approver"}),
    ("POST", "/api/v1/cases/{case}/extensions", lambda: {"workdays": 1, "reason": "测试"}, {"manager", "admin"}),
    ("POST", "/api/v1/cases/{startup_case}/materials", "material", {"clerk", "admin"}),
    ("GET", "/api/v1/cases/{case}/materials", None, {"admin", "manager", "clerk", "approver"}),
    ("GET", "/api/v1/materials/{material}/content", None, {"admin", "manager", "clerk", "approver"}),
    ("GET", "/api/v1/cases/{case}/notices", None, {"admin", "manager", "clerk", "approver"}),
    ("GET", "/api/v1/cases/{case}/results", None, {"admin", "manager", "clerk", "approver"}),
    ("GET", "/api/v1/cases/{case}/notifications", None, {"admin", "manager", "clerk", "approver"}),
    ("GET", "/api/v1/notifications", None, {"admin", "manager", "clerk"}),
    ("GET", "/api/v1/credit-records", None, {"admin", "manager"}),
    ("GET", "/api/v1/prefill?process_key=business_startup&id_number=410602199001011234", None, {"admin", "clerk"}),
    ("GET", "/api/v1/tasks", None, ALL),
    ("GET", "/api/v1/supervision/events", None, ALL),
    ("POST", "/api/v1/supervision/cases/{case}/supervise", lambda: {"note": "测试"}, {"manager"}),
    ("GET", "/api/v1/calendar/add-workdays?start=2025-09-26&days=5", None, ALL),
    ("PUT", "/api/v1/calendar/years/2031", lambda: {"holidays": [], "workdays": []}, {"admin"}),
    ("POST", "/api/v1/cases/{completed_case}/rating", lambda: {"level": 5, "comment": "满意"}, {"clerk", "admin"}),
    ("GET", "/api/v1/follow-ups", None, {"approver", "clerk", "manager", "admin"}),
    ("POST", "/api/v1/follow-ups/{follow_up}/resolve", lambda: {"resolution": "已整改"}, {"approver"}),
    # work on tasks: {tax_task} is the case's 税务局 task (税务局 also has tax_colleague), {claimed_task} that
    # task claimed by tax_approver, {delegated_task} it delegated by tax_colleague to tax_approver, {copy}
    # a copy of it sent by tax_colleague to tax_approver
    ("GET", "/api/v1/inbox?view=department", None, {"approver", "clerk", "manager", "admin"}),
    ("POST", "/api/v1/tasks/{tax_task}/claim", None, {"approver"}),
    ("POST", "/api/v1/tasks/{claimed_task}/unclaim", None, {"approver", "manager", "admin"}),
    ("POST", "/api/v1/tasks/{tax_task}/reassign", lambda: {"username": "tax_colleague"}, {"approver"}),
    ("POST", "/api/v1/tasks/{claimed_task}/delegate", lambda: {"username": "tax_colleague"}, {"approver"}),
    ("POST", "/api/v1/tasks/{delegated_task}/resolve", lambda: {"comment": "已办理"}, {"approver"}),
    ("POST", "/api/v1/tasks/{tax_task}/copies", lambda: {"usernames": ["bank_approver"]}, {"approver"}),
    ("GET", "/api/v1/tasks/{tax_task}/comments", None, {"approver", "manager", "admin"}),
    ("POST", "/api/v1/tasks/{tax_task}/comments", lambda: {"body": "测试评论"}, {"approver"}),
    ("GET", "/api/v1/copies", None, ALL),
    ("POST", "/api/v1/copies/{copy}/read", None, {"approver"}),
    # 加签 and 撤回: {signed_task} claimed by tax_approver with a 前加签 to tax_colleague open, {sign} a 前加签
    # asked of tax_approver by tax_colleague, {completed_task} the 税务局 task completed by tax_approver
    ("GET", "/api/v1/signs", None, ALL),
    ("GET", "/api/v1/tasks/{tax_task}/signs", None, {"approver", "manager", "admin"}),
    ("POST", "/api/v1/tasks/{claimed_task}/signs", lambda: {"kind": "before", "usernames": ["police_approver"]},
     {"approver"}),
    ("POST", "/api/v1/tasks/{signed_task}/signs/cancel", None, {"approver"}),
    ("POST", "/api/v1/signs/{sign}/decide", lambda: {"approve": True, "opinion": "同意"}, {"approver"}),
    ("POST", "/api/v1/tasks/{completed_task}/withdraw", lambda: {"reason": "填错"}, {"approver"}),
    # authoring: {drafted} is business_startup with a saved clean draft, {versioned} it with a version 2
    ("GET", "/api/v1/processes/business_startup/draft", None, {"analyst", "admin"}),
    ("GET", "/api/v1/processes/business_startup/draft/bpmn", None, {"analyst", "admin"}),
    ("PUT", "/api/v1/processes/business_startup/draft/bpmn", lambda: {"xml": STARTUP_XML}, {"analyst", "admin"}),
    ("PUT", "/api/v1/processes/business_startup/draft/forms/business_startup_tax",
     lambda: {"schema": {"id": "business_startup_tax", "components": []}}, {"analyst", "admin"}),
    ("PUT", "/api/v1/processes/business_startup/draft/catalog", lambda: {"yaml": STARTUP_YAML}, {"analyst", "admin"}),
    ("POST", "/api/v1/processes/{drafted}/draft/deploy", lambda: {}, {"analyst", "admin"}),
    ("DELETE", "/api/v1/processes/{drafted}/draft", None, {"analyst", "admin"}),
    ("GET", "/api/v1/processes/{versioned}/diff?from=1&to=2", None, {"analyst", "admin"}),
    # migration (H4): {versioned} has a version 2 to move version 1's cases to; incidents: {incident} is an open
    # incident on the demo case whose step now runs (so retry and skip both succeed)
    ("POST", "/api/v1/processes/{versioned}/migrations/preview", lambda: {"from_version": 1}, {"analyst", "admin"}),
    ("POST", "/api/v1/processes/{versioned}/migrations", lambda: {"from_version": 1}, {"analyst", "admin"}),
    ("GET", "/api/v1/incidents", None, {"analyst", "admin", "manager"}),
    ("POST", "/api/v1/incidents/{incident}/retry", None, {"analyst", "admin"}),
    ("POST", "/api/v1/incidents/{incident}/skip", None, {"analyst", "admin"}),
    # 模拟运行: a scenario against the latest deployed version (stores nothing)
    ("POST", "/api/v1/processes/business_startup/test-runs",
     lambda: {"name": "权限检查", "start_at": "2025-09-26T09:30:00+08:00", "data": APPLY}, {"analyst", "admin"}),
]
STARTUP_XML = (BASE_DIR / "processes" / "business_startup.bpmn").read_text(encoding="utf-8")
STARTUP_YAML = (BASE_DIR / "processes" / "business_startup.yaml").read_text(encoding="utf-8")


@pytest.fixture
def database_url(sqlite_template, tmp_path):
    """The rules live in Python, not in the database: SQLite is enough here."""
    import shutil
    path = tmp_path / "authz.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def case_no(api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return case["case_no"]  # tasks now sit with 市场监管局, 税务局 and 公安局


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

@pytest.fixture
def startup_case_no(api):
    case = api.as_user("window_clerk").post("/api/v1/cases", json={
        "process_key": "business_startup", "applicant": APPLICANT, "data": APPLY})
    assert case.status_code == 201, case.body
    return case.body["case_no"]


@pytest.fixture
def material_id(app, case_no):
    """An uploaded file on the demo case (whose process has no catalog, so it is stored directly)."""
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    sha, size = BlobStore(app.config["INSTANCE_DIR"]).put(PDF)
    row = Material(case_id=case.id, code="M001", name="申请书", version=1, source="upload", sha256=sha, size=size,
                   content_type="application/pdf", extension="pdf", display_name="申请书.pdf",
                   uploaded_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row.id


@pytest.fixture
def completed_case_no(api, case_no):
    for element, username in (("task_a", "amr_approver"), ("task_b", "tax_approver"), ("task_c", "police_approver"),
                              ("task_issue", "window_clerk")):
        worker = api.as_user(username)
        task = ready(api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body, element)[0]
        data = {"approved_a": True} if element == "task_a" else {}
        assert worker.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}).status_code == 200
    assert api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body["status"] == "completed"
    return case_no


@pytest.fixture
def follow_up_id(app, case_no):
    """A follow-up for 税务局 (stored directly: the rules under test are the endpoint's)."""
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    tax = db.session.execute(select(Department).where(Department.code == "tax")).scalar_one()
    now = clock.now()
    rating = Rating(case_id=case.id, level=1, comment="", channel="portal", created_at=now)
    db.session.add(rating)
    db.session.flush()
    row = FollowUp(case_id=case.id, rating_id=rating.id, department_id=tax.id, due_at=now, status="open",
                   resolution="", created_at=now)
    db.session.add(row)
    db.session.commit()
    return row.id


@pytest.fixture
def tax_task_id(api, case_no):
    """The case's 税务局 task; 税务局 gets a second approver, tax_colleague, to hand tasks to."""
    created = api.as_user("admin", "admin-test-pw").post("/api/v1/users", json={
        "username": "tax_colleague", "password": "Secret#123", "name": "税务局同事", "department": "tax",
        "roles": ["approver"]})
    assert created.status_code == 201, created.body
    case = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body
    return next(t["id"] for t in ready(case) if t["department"] == "税务局")


@pytest.fixture
def claimed_task_id(api, tax_task_id):
    assert api.as_user("tax_approver").post(f"/api/v1/tasks/{tax_task_id}/claim").status_code == 200
    return tax_task_id


@pytest.fixture
def delegated_task_id(api, tax_task_id):
    colleague = api.as_user("tax_colleague", "Secret#123")
    assert colleague.post(f"/api/v1/tasks/{tax_task_id}/claim").status_code == 200
    resp = colleague.post(f"/api/v1/tasks/{tax_task_id}/delegate", json={"username": "tax_approver"})
    assert resp.status_code == 200, resp.body
    return tax_task_id


@pytest.fixture
def copy_id(api, tax_task_id):
    resp = api.as_user("tax_colleague", "Secret#123").post(f"/api/v1/tasks/{tax_task_id}/copies",
                                                          json={"usernames": ["tax_approver"]})
    assert resp.status_code == 201, resp.body
    return resp.body[0]["id"]


@pytest.fixture
def signed_task_id(api, claimed_task_id):
    resp = api.as_user("tax_approver").post(f"/api/v1/tasks/{claimed_task_id}/signs",
                                            json={"kind": "before", "usernames": ["tax_colleague"]})
    assert resp.status_code == 201, resp.body
    return claimed_task_id


@pytest.fixture
def sign_id(api, tax_task_id):
    colleague = api.as_user("tax_colleague", "Secret#123")
    assert colleague.post(f"/api/v1/tasks/{tax_task_id}/claim").status_code == 200
    resp = colleague.post(f"/api/v1/tasks/{tax_task_id}/signs", json={"kind": "before", "usernames": ["tax_approver"]})
    assert resp.status_code == 201, resp.body
    return resp.body[0]["id"]


@pytest.fixture
def completed_task_id(api, tax_task_id):
    assert api.as_user("tax_approver").post(f"/api/v1/tasks/{tax_task_id}/complete", json={"data": {}}).status_code == 200
    return tax_task_id


@pytest.fixture
def drafted_key(api):
    saved = api.as_user("analyst").request("PUT", "/api/v1/processes/business_startup/draft/bpmn",
                                           json={"xml": STARTUP_XML.replace('name="统一出件"', 'name="统一出件（改）"')})
    assert saved.status_code == 200 and saved.body["deployable"], saved.body
    return "business_startup"


@pytest.fixture
def versioned_key(api):
    resp = deploy(api, STARTUP_XML.replace('name="统一出件"', 'name="统一出件（改）"'), "business_startup.bpmn")
    assert resp.status_code == 201 and resp.body["version"] == 2, resp.body
    return "business_startup"


@pytest.fixture
def incident_id(app, case_no):
    """An open incident on the demo case (stored directly: the rules under test are the endpoints')."""
    from app.models import Incident
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    row = Incident(case_id=case.id, element_id="script_mark", source="timer", message="测试故障", created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row.id


def _url(request, path, case_no):
    values = {"case": case_no}
    for name, fixture in (("startup_case", "startup_case_no"), ("material", "material_id"),
                          ("completed_case", "completed_case_no"), ("follow_up", "follow_up_id"),
                          ("tax_task", "tax_task_id"), ("claimed_task", "claimed_task_id"),
                          ("delegated_task", "delegated_task_id"), ("copy", "copy_id"),
                          ("signed_task", "signed_task_id"), ("sign", "sign_id"),
                          ("completed_task", "completed_task_id"),
                          ("drafted", "drafted_key"), ("versioned", "versioned_key"),
                          ("incident", "incident_id")):
        if "{" + name + "}" in path:
            values[name] = request.getfixturevalue(fixture)
    return path.format(**values)


@pytest.mark.parametrize("row,role", list(itertools.product(TABLE, sorted(USERS))),
                         ids=lambda v: v if isinstance(v, str) else f"{v[0]} {v[1]}")
def test_endpoint_by_role(request, api, case_no, row, role):
    method, path, body, allowed = row
    username, password = USERS[role]
    user = api.as_user(username, password) if password else api.as_user(username)
    url = _url(request, path, case_no)
    if body == "bpmn":
        resp = user.post(url, data={"file": (io.BytesIO(DEMO_XML.encode()), "p.bpmn")},
                         content_type="multipart/form-data")
    elif body == "material":
        resp = user.post(url, data={"code": "M001", "file": (io.BytesIO(PDF), "申请书.pdf")},
                         content_type="multipart/form-data")
    else:
        resp = user.request(method, url, json=body() if body else None)
    if role in allowed:
        assert resp.status_code < 400, (role, url, resp.status_code, resp.body)
    else:
        assert resp.status_code == 403, (role, url, resp.status_code, resp.body)
    assert api.request(method, url).status_code == 401  # and nobody without a token


def test_an_approver_cannot_read_a_case_their_department_has_no_part_in(api, case_no):
    assert api.as_user("tax_approver").get(f"/api/v1/cases/{case_no}").status_code == 200
    for other in ("hpf_approver", "bank_approver"):
        assert api.as_user(other).get(f"/api/v1/cases/{case_no}").status_code == 403
        assert api.as_user(other).get(f"/api/v1/cases/{case_no}/history").status_code == 403


def test_guessing_task_ids_reveals_nothing(api, case_no):
    tax = api.as_user("tax_approver")
    police_task = next(t for t in api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body["tasks"]
                       if t["department"] == "公安局")
    assert tax.post(f"/api/v1/tasks/{police_task['id']}/complete", json={"data": {}}).status_code == 403
    assert tax.post(f"/api/v1/tasks/{uuid.uuid4()}/complete", json={"data": {}}).status_code == 404


def test_only_the_front_desk_sends_messages_into_a_case(api, case_no):
    body = {"name": "materials_supplied", "data": {}}
    for role in ("analyst", "approver", "manager"):
        username, password = USERS[role]
        user = api.as_user(username, password) if password else api.as_user(username)
        assert user.post(f"/api/v1/cases/{case_no}/messages", json=body).status_code == 403
    # allowed, but this case waits for no message: refused with 409, never 403
    assert api.as_user("window_clerk").post(f"/api/v1/cases/{case_no}/messages", json=body).status_code == 409


def test_notices_and_task_details_are_not_readable_by_guessing_ids(api, startup_case_no):
    clerk = api.as_user("window_clerk")
    intake = ready(clerk.get(f"/api/v1/cases/{startup_case_no}").body, "task_intake")[0]
    resp = clerk.post(f"/api/v1/tasks/{intake['id']}/complete",
                      json={"data": {"intake_result": "correct", "correction_items": "公司章程未签字"}})
    assert resp.status_code == 200, resp.body
    notice = clerk.get(f"/api/v1/cases/{startup_case_no}/notices").body[0]
    assert clerk.get(notice["url"]).status_code == 200
    outsider = api.as_user("tax_approver")  # 税务局 has no task in this case yet
    assert outsider.get(notice["url"]).status_code == 403
    assert outsider.get(f"/api/v1/cases/{startup_case_no}/notices").status_code == 403
    assert outsider.get(f"/api/v1/tasks/{intake['id']}").status_code == 403
    assert outsider.get("/api/v1/notices/999999.html").status_code == 404
