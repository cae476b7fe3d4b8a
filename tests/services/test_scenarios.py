"""Every scenario file under processes/scenarios/ runs against the diagrams in processes/ and must pass,
so a broken diagram fails the suite. Plus the runner's own rules (clock, timers, errors) on real diagrams."""
from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import pytest

from app.errors import InvalidInput
from app.services import scenarios
from app.services.calendar import WorkCalendar
from config import BASE_DIR

PROCESSES = BASE_DIR / "processes"
FORMS = BASE_DIR / "forms"
FILES = scenarios.discover(PROCESSES)
APPLY = {"company_name": "鹤壁市示例科技有限公司", "company_type": "llc", "address": "鹤壁市淇滨区示例路 1 号",
         "business_scope": "软件开发", "legal_rep_name": "王五", "legal_rep_id_number": "41060219900101123X",
         "legal_rep_phone": "13912345678", "need_tax_ukey": True}


@pytest.fixture(scope="module")
def startup():
    return scenarios.files_target(PROCESSES, FORMS, "business_startup")


def _run(target, steps, expect=None, start="2025-09-26T09:30:00+08:00", data=None):
    scenario = scenarios.parse({"name": "测试", "start_at": start, "data": APPLY if data is None else data,
                                "steps": steps, "expect": expect or {}})
    return scenarios.run(target, scenario, WorkCalendar())


@pytest.mark.parametrize("key,path", FILES, ids=[f"{k}/{p.name}" for k, p in FILES])
def test_scenario_file_passes(key, path):
    result = scenarios.run(scenarios.files_target(PROCESSES, FORMS, key), scenarios.load_file(path), WorkCalendar())
    failed = [c for c in result["checks"] if not c["ok"]]
    assert result["error"] is None, result["error"]
    assert failed == [] and result["passed"], failed
    assert result["checks"], "a scenario must expect something"


def test_every_bundled_service_has_scenarios_and_the_required_paths():
    services = {p.stem for p in PROCESSES.glob("*.bpmn") if 'camunda:formKey' in _start_event(p)}
    covered = {key for key, _ in FILES}
    assert services == {"business_startup", "property_registration", "construction_project"}
    assert services <= covered
    names = {p.name for k, p in FILES if k == "business_startup"}
    assert {"01_plain.yaml", "02_deficiency_supplied.yaml", "04_correction.yaml"} <= names
    four = scenarios.run(scenarios.files_target(PROCESSES, FORMS, "construction_project"),
                         scenarios.load_file(PROCESSES / "scenarios/construction_project/01_four_stages.yaml"),
                         WorkCalendar())
    calls = [p["element_id"] for p in four["path"] if p["kind"] == "callActivity"]
    assert calls == ["call_stage_planning", "call_stage_works", "call_stage_permit", "call_stage_acceptance"]


def _start_event(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.find("<bpmn:startEvent")
    return text[start:text.find(">", start)]


def test_a_broken_diagram_fails_its_scenarios(tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    bpmn = folder / "business_startup.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    assert "need_tax_ukey</bpmn:conditionExpression>" in text
    # a typo an analyst could make: the tax branch now never runs
    bpmn.write_text(text.replace("need_tax_ukey</bpmn:conditionExpression>",
                                 "need_tax_key</bpmn:conditionExpression>"), encoding="utf-8")
    results = scenarios.run_folder(folder, FORMS, WorkCalendar(), key="business_startup")
    assert results and not all(r["passed"] for r in results)
    broken = next(r for r in results if r["file"].endswith("01_plain.yaml"))
    assert broken["error"] and "need_tax_key" in broken["error"]["message"]


def test_service_tasks_are_listed_with_their_parameters_not_carried_out(startup):
    result = _run(startup, [{"complete": "task_intake", "data": {"intake_result": "correct",
                                                                  "correction_items": "章程未签字"}}])
    notice = next(e for e in result["effects"] if e["element_id"] == "svc_notice_correction")
    assert notice["operator"] == "notice" and notice["params"]["kind"] == "correction"
    assert notice["params"]["items"] == "章程未签字"
    assert result["waiting_messages"] == ["materials_supplied"]


def test_a_timer_fires_at_its_time_and_not_before(startup):
    steps = [{"complete": "task_intake", "data": {"intake_result": "deficiency", "deficiency_materials": ["M004"],
                                                  "commitment_signed": True}},
             {"at": "2025-10-10T16:59:00+08:00"}]
    early = _run(startup, steps)
    assert early["status"] == "running"
    assert [t["state"] for t in early["timers"] if t["element_id"] == "timer_deficiency"] == ["waiting"]
    late = _run(startup, steps + [{"at": "2025-10-13T09:00:00+08:00"}])
    assert late["status"] == "terminated"
    timer = next(t for t in late["timers"] if t["element_id"] == "timer_deficiency")
    assert timer["state"] == "fired" and timer["closed_at"] == "2025-10-10T17:00:00+08:00"
    credit = next(p for p in late["path"] if p["element_id"] == "svc_credit_deficiency")
    assert credit["at"] == "2025-10-10T17:00:00+08:00"  # at the timer's time, not when the clock stopped


def test_tasks_carry_department_and_calendar_deadline(startup):
    result = _run(startup, [{"complete": "task_intake", "at": "2025-09-30T16:30:00+08:00",
                             "data": {"intake_result": "accept"}}])
    register = next(t for t in result["tasks"] if t["element_id"] == "task_register")
    # 1 working hour from 16:30 on 30 Sep: half an hour, then the National Day holiday, then 9 Oct
    assert register["department"] == "市场监管局" and register["state"] == "ready"
    assert register["due_at"] == "2025-10-09T09:30:00+08:00"
    assert result["deadlines"]["case"]["statutory"] == "2025-11-04T17:00:00+08:00"


@pytest.mark.parametrize("steps,message", [
    ([{"complete": "task_register", "data": {}}], "没有待办的任务“task_register”，当前待办：task_intake（综合窗口）"),
    ([{"message": "deficiency_supplied"}], "流程当前没有等待消息“deficiency_supplied”"),
    ([{"at": "2025-09-25T09:00:00+08:00"}], "时间不能倒退"),
    ([{"fire": "timer_deficiency"}], "没有等待中的定时器“timer_deficiency”（等待中：timer_deemed）"),
    ([{"complete": "task_intake", "data": {"intake_result": "maybe"}}], "表单数据校验未通过"),
    ([{"complete": "task_intake", "data": {"intake_result": "deficiency", "deficiency_materials": ["M001"],
                                           "commitment_signed": True}}], "受理审查未通过"),
])
def test_a_step_that_cannot_happen_stops_the_run_with_a_clear_message(startup, steps, message):
    result = _run(startup, steps, expect={"status": "completed"})
    assert result["error"]["step"] == 1 and message in result["error"]["message"]
    assert result["passed"] is False


def test_a_countersigned_task_needs_a_department_or_all():
    target = scenarios.files_target(PROCESSES, FORMS, "construction_project")
    data = {"project_name": "示例", "project_type": "low_risk", "construction_unit": "示例公司",
            "site_address": "示例路", "land_area": 1, "investment": 1, "in_assessed_zone": True}
    steps = [{"complete": "task_intake", "data": {"intake_result": "accept"}},
             {"complete": "task_project_approval", "data": {"project_code": "2026-410602-47-01-000125", "approval_kind": "filing"}},
             {"complete": "task_land_planning", "data": {}},
             {"complete": "task_plan_review", "data": {"plan_review_result": "pass"}},
             {"complete": "task_drawing_review", "data": {"drawing_result": "pass"}}]
    result = _run(target, steps, data=data, start="2026-03-02T09:30:00+08:00")
    assert "有 3 个待办（住建局、消防救援大队、人防办）" in result["error"]["message"]
    steps[-1] = {**steps[-1], "department": "人防办"}
    result = _run(target, steps, data=data, start="2026-03-02T09:30:00+08:00")
    assert result["error"] is None
    assert sorted(t["department"] for t in result["tasks"] if t["state"] == "ready") == ["住建局", "消防救援大队"]


def test_expectations_that_do_not_hold_fail_the_run(startup):
    result = _run(startup, [{"complete": "task_intake", "data": {"intake_result": "accept"}}], expect={
        "status": "completed", "path": ["svc_accept", "task_intake"], "not_path": ["svc_accept"],
        "tasks": [{"element_id": "task_register", "department": "税务局"}],
        "deadlines": {"case_statutory": "2025-10-29T17:00:00+08:00"}})
    assert [c["ok"] for c in result["checks"]] == [False, False, False, False, False]
    assert result["passed"] is False
    good = _run(startup, [{"complete": "task_intake", "data": {"intake_result": "accept"}}], expect={
        "status": "running", "path": ["task_intake", "svc_accept"], "not_path": ["task_acceptance_review"],
        "tasks": [{"element_id": "task_register", "department": "市场监管局"}],
        "deadlines": {"case_statutory": "2025-10-30T09:00:00+00:00"}})  # the same moment in UTC
    assert all(c["ok"] for c in good["checks"]) and good["passed"]


@pytest.mark.parametrize("raw,problem", [
    ({"start_at": "2025-09-26T09:30:00+08:00"}, "缺少 name"),
    ({"name": "x", "start_at": "2025-09-26T09:30:00"}, "start_at 必须是带时区的时间"),
    ({"name": "x", "start_at": "2025-09-26T09:30:00+08:00", "steps": [{"complete": "a", "message": "b"}]},
     "第 1 步 须有且只有一个动作"),
    ({"name": "x", "start_at": "2025-09-26T09:30:00+08:00", "steps": [{"advance": {"weeks": 1}}]},
     "第 1 步 的 advance 必须写成"),
    ({"name": "x", "start_at": "2025-09-26T09:30:00+08:00", "expect": {"stauts": "completed"}}, "stauts"),
])
def test_a_malformed_scenario_is_refused_with_every_problem(raw, problem):
    with pytest.raises(InvalidInput) as caught:
        scenarios.parse(raw)
    assert any(problem in p for p in caught.value.errors), caught.value.errors


@pytest.mark.parametrize("advance,clock", [
    ({"hours": 3}, "2025-09-26T13:30:00+08:00"),     # office hours: the lunch break is skipped
    ({"workdays": 1}, "2025-09-28T17:00:00+08:00"),  # Sunday 28 Sep 2025 is a make-up working day
    ({"days": 7}, "2025-10-03T17:00:00+08:00"),
])
def test_advancing_the_clock_follows_the_legal_calendar(startup, advance, clock):
    result = _run(startup, [{"advance": advance}])
    assert result["finished_at"] == clock and result["error"] is None


def _with_strict_copy_first(target):
    """The catalog with 住所使用证明 (M004, 容缺 allowed) also asked by a matter listed first that
    does not allow it to be missing: the material then cannot be missing at all (一套材料)."""
    catalog = copy.deepcopy(target.catalog)
    strict = {"code": "410600-TEST-001", "name": "测试事项", "department": "市场监管局", "task": "task_register",
              "materials": [{"code": "M004", "name": "住所使用证明", "required": True, "deficiency_allowed": False}]}
    catalog["matters"].insert(0, strict)
    return dataclasses.replace(target, catalog=catalog)


def test_a_scenario_is_held_to_the_windows_intake_rules(startup):
    """The runner decides intake with the window's own rules (intake.decide): a material that one of
    its matters requires in full cannot be 容缺, wherever that matter stands in the catalog."""
    steps = [{"complete": "task_intake", "data": {"intake_result": "deficiency", "deficiency_materials": ["M004"],
                                                  "commitment_signed": True}}]
    assert _run(startup, steps)["error"] is None  # as the catalog ships, M004 may be missing
    result = _run(_with_strict_copy_first(startup), steps)
    assert result["error"]["step"] == 1 and "受理审查未通过" in result["error"]["message"]
    accept = [{"complete": "task_intake", "data": {"intake_result": "accept"}}]
    assert _run(_with_strict_copy_first(startup), accept)["error"] is None  # the changed catalog still runs
