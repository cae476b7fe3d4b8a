"""Test runs through the API (POST /api/v1/processes/<key>/test-runs) and the CLI (flask processes test).
A run reads the deployed version and stores nothing: no case, task, timer, notice or audit event."""
from __future__ import annotations

import io
import shutil

import pytest
import yaml
from sqlalchemy import func, select

from app.extensions import db
from app.models import (AuditEvent, Case, Certificate, CreditRecord, Delivery, Notice, Notification, Task, Timer,
                        WorkflowState)
from config import BASE_DIR

PROCESSES = BASE_DIR / "processes"
SCENARIOS = PROCESSES / "scenarios"
URL = "/api/v1/processes/business_startup/test-runs"


@pytest.fixture
def database_url(sqlite_template, tmp_path):
    """A test run only reads the database (versions, forms, departments, calendar): SQLite is enough."""
    path = tmp_path / "scenarios.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _scenario(key: str, name: str) -> dict:
    return yaml.safe_load((SCENARIOS / key / name).read_text(encoding="utf-8"))


def _counts() -> dict[str, int]:
    db.session.rollback()
    tables = (AuditEvent, Case, Certificate, CreditRecord, Delivery, Notice, Notification, Task, Timer, WorkflowState)
    counts = {t.__name__: db.session.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
    db.session.rollback()
    return counts


def test_a_scenario_runs_against_the_latest_version_and_stores_nothing(api):
    analyst = api.as_user("analyst")
    before = _counts()
    resp = analyst.post(URL, json=_scenario("business_startup", "03_deficiency_expired.yaml"))
    assert resp.status_code == 200, resp.body
    body = resp.body
    assert body["passed"] is True and body["version"] == 1 and body["source"] == "deployed"
    assert body["status"] == "terminated" and body["end_event"] == "end_terminated"
    path = [p["element_id"] for p in body["path"]]
    assert path.index("timer_deficiency") < path.index("svc_credit_deficiency") < path.index("end_terminated")
    register = next(t for t in body["tasks"] if t["element_id"] == "task_register")
    assert register["department"] == "市场监管局" and register["due_at"] == "2025-09-26T10:40:00+08:00"
    assert [e["operator"] for e in body["effects"]][-3:] == ["credit_record", "notice", "revoke_certificates"]
    assert body["deadlines"]["case"]["statutory"] == "2025-10-30T17:00:00+08:00"
    assert all(c["ok"] for c in body["checks"]) and body["checks"]
    assert _counts() == before  # no case, task, timer, notice, credit record or audit event


def test_the_newest_deployed_version_is_the_one_run(api):
    analyst = api.as_user("analyst")
    xml = (PROCESSES / "business_startup.bpmn").read_text(encoding="utf-8")
    broken = xml.replace("need_tax_ukey</bpmn:conditionExpression>", "need_tax_key</bpmn:conditionExpression>")
    catalog = (PROCESSES / "business_startup.yaml").read_bytes()
    resp = analyst.post("/api/v1/processes", content_type="multipart/form-data", data={
        "file": (io.BytesIO(broken.encode()), "business_startup.bpmn"), "catalog": (io.BytesIO(catalog), "c.yaml")})
    assert resp.status_code == 201 and resp.body["version"] == 2, resp.body
    body = analyst.post(URL, json=_scenario("business_startup", "01_plain.yaml")).body
    assert body["version"] == 2 and body["passed"] is False
    assert "need_tax_key" in body["error"]["message"] and body["error"]["step"] == 2
    assert any(not c["ok"] for c in body["checks"])


def test_failed_expectations_are_reported_not_refused(api):
    scenario = _scenario("property_registration", "03_refused.yaml")
    scenario["expect"]["end_event"] = "end_done"
    body = api.as_user("admin", "admin-test-pw").post("/api/v1/processes/property_registration/test-runs",
                                                      json=scenario).body
    failed = [c for c in body["checks"] if not c["ok"]]
    assert body["passed"] is False and failed == [
        {"check": "结束事件", "expected": "end_done", "actual": "end_refused", "ok": False}]


@pytest.mark.parametrize("body,status,words", [
    ({"start_at": "2025-09-26T09:30:00+08:00"}, 422, "缺少 name"),
    ({"name": "x", "start_at": "明天", "steps": [{"wait": 1}]}, 422, "第 1 步 须有且只有一个动作"),
    ([1, 2], 422, "请求正文必须是场景 JSON 对象"),
])
def test_a_malformed_scenario_is_refused_in_chinese(api, body, status, words):
    resp = api.as_user("analyst").post(URL, json=body)
    assert resp.status_code == status and words in str(resp.body), resp.body
    assert "Traceback" not in str(resp.body)


def test_an_unknown_service_is_404(api):
    resp = api.as_user("analyst").post("/api/v1/processes/no_such/test-runs",
                                       json={"name": "x", "start_at": "2025-09-26T09:30:00+08:00"})
    assert resp.status_code == 404 and "no_such" in resp.body["message"]


def test_cli_runs_every_scenario_and_exits_1_on_a_failure(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["processes", "test"])
    total = len(list(SCENARIOS.glob("*/*.yaml")))
    assert result.exit_code == 0, result.output
    assert f"{total} 个场景，{total} 个通过，0 个失败" in result.output
    assert "通过  construction_project/01_four_stages.yaml" in result.output

    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    path = folder / "scenarios" / "property_registration" / "01_transfer_mortgage.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('case_promised: "2026-03-03T17:00:00+08:00"',
                                                             'case_promised: "2026-03-02T17:00:00+08:00"'),
                    encoding="utf-8")
    result = runner.invoke(args=["processes", "test", str(folder), "--service", "property_registration"])
    assert result.exit_code == 1
    assert "失败  property_registration/01_transfer_mortgage.yaml" in result.output
    assert "办件承诺时限：期望 2026-03-02T17:00:00+08:00，实际 2026-03-03T17:00:00+08:00" in result.output
    assert "3 个场景，2 个通过，1 个失败" in result.output
