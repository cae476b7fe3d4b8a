"""A new 一件事 from files alone: 开办餐饮店一件事 exists only in a test folder (BPMN, catalog, forms).
It is uploaded through the API and run end to end; no Python of ours knows it."""
import io
import json
from datetime import datetime

import pytest

from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from ..conftest import DATA
from .helpers import WORKER, ready
from .startup import pdf

FOLDER = DATA / "services" / "restaurant_opening"
APPLICANT = {"name": "孙七", "id_number": "410602199203031234", "phone": "13600002222"}
APPLY = {"shop_name": "淇河人家小馆", "shop_address": "鹤壁市淇滨区淇河路 6 号", "business_area": 120, "seats": 40,
         "sign_size": "6m×1m"}
ANSWERS = {"task_intake": {"intake_result": "accept"}, "task_licence": {"credit_code": "92410602MA40000088"},
           "task_food": {"food_licence_no": "JY14106020000001"}, "task_fire": {"fire_result": "pass"},
           "task_sign": {"sign_approved": True}, "task_issue": {"delivery_method": "window"}}


def _upload_service(api):
    analyst = api.as_user("analyst")
    for path in sorted((FOLDER / "forms").glob("*.json")):
        resp = analyst.post("/api/v1/forms", json=json.loads(path.read_text(encoding="utf-8")))
        assert resp.status_code == 201, (path.name, resp.body)
    resp = analyst.post("/api/v1/processes", content_type="multipart/form-data", data={
        "file": (io.BytesIO((FOLDER / "restaurant_opening.bpmn").read_bytes()), "restaurant_opening.bpmn"),
        "catalog": (io.BytesIO((FOLDER / "restaurant_opening.yaml").read_bytes()), "restaurant_opening.yaml")})
    assert resp.status_code == 201, resp.body
    return resp.body


@pytest.fixture
def monday():
    clock.use(ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)))
    yield
    clock.use(clock.SystemClock())


def test_a_service_added_with_files_only_runs_end_to_end(api, monday):
    deployed = _upload_service(api)
    assert deployed["process_key"] == "restaurant_opening" and deployed["version"] == 1
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "restaurant_opening", "applicant": APPLICANT, "data": APPLY})
    assert resp.status_code == 201, resp.body
    case_no = resp.body["case_no"]
    checklist = clerk.get(f"/api/v1/cases/{case_no}/materials").body
    assert [m["code"] for m in checklist] == ["R001", "R002", "R003", "R004", "R005"]
    for item in checklist:
        up = clerk.post(f"/api/v1/cases/{case_no}/materials", content_type="multipart/form-data",
                        data={"code": item["code"], "file": (io.BytesIO(pdf(item["code"])), "m.pdf")})
        assert up.status_code == 201, up.body
    parallel_at_once = None
    while True:
        case = clerk.get(f"/api/v1/cases/{case_no}").body
        tasks = ready(case)
        if not tasks:
            break
        if len(tasks) > 1:
            parallel_at_once = {(t["element_id"], t["department"]) for t in tasks}
        for task in tasks:
            resp = api.as_user(WORKER[task["department"]]).post(
                f"/api/v1/tasks/{task['id']}/complete", json={"data": ANSWERS[task["element_id"]]})
            assert resp.status_code == 200, (task["element_id"], resp.body)
    assert case["status"] == "completed" and case["end_event"] == "end_done"
    assert parallel_at_once == {("task_food", "市场监管局"), ("task_fire", "消防救援大队"), ("task_sign", "城管局")}
    results = clerk.get(f"/api/v1/cases/{case_no}/results").body
    assert [(c["type"], c["holder_name"]) for c in results["certificates"]] == [("business_licence", "淇河人家小馆")]
    assert results["delivery"]["method"] == "window"
    # deadlines come from the fixture's catalog: 3 working days for the case, 4 office hours for the licence
    assert case["deadline"].startswith("2026-03-05T17:00")
    licence = next(t for t in case["tasks"] if t["element_id"] == "task_licence")
    assert licence["due_at"].startswith("2026-03-02T14:00")  # 09:00 + 4 office hours, lunch 12–13 skipped


def test_the_fixture_service_is_refused_when_a_form_it_names_is_missing(api):
    analyst = api.as_user("analyst")
    resp = analyst.post("/api/v1/processes", content_type="multipart/form-data", data={
        "file": (io.BytesIO((FOLDER / "restaurant_opening.bpmn").read_bytes()), "restaurant_opening.bpmn")})
    assert resp.status_code == 422
    assert {e["element_id"] for e in resp.body["errors"]} >= {"task_food", "task_fire", "task_sign"}
    assert "restaurant_opening" not in {p["process_key"] for p in analyst.get("/api/v1/processes").body}
