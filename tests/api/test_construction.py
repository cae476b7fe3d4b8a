"""工程建设项目审批 through the API: four stages in series (call activities), 多图联审 countersigned,
联合验收 with one result, 区域评估 reused, limits by project type."""
import io
from datetime import datetime

import pytest

from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from .helpers import WORKER, ready
from .startup import pdf

APPLICANT = {"name": "鹤壁市示例置业有限公司", "id_number": "91410600MA40000001", "phone": "03923300000"}
APPLY = {"project_name": "淇滨区示例科创园一期", "construction_unit": "鹤壁市示例置业有限公司",
         "site_address": "鹤壁市淇滨区示例大道 99 号", "land_area": 20000, "investment": 8000}
DATA = {
    "task_intake": {"intake_result": "accept"},
    "task_project_approval": {"project_code": "2026-410602-47-01-000123", "approval_kind": "filing"},
    "task_land_planning": {},
    "task_eia": {"eia_result": "approve"},
    "task_plan_review": {"plan_review_result": "pass"},
    "task_drawing_review": {"drawing_result": "pass"},
    "task_revise_drawings": {"drawings_resubmitted": True},
    "task_construction_permit": {"construction_contractor": "河南示例建设集团有限公司"},
    "task_joint_acceptance": {"acceptance_result": "pass"},
    "task_acceptance_filing": {},
    "task_issue": {"delivery_method": "window"},
}
STAGE_OF = {"task_project_approval": 1, "task_land_planning": 1, "task_eia": 1, "task_plan_review": 2,
            "task_drawing_review": 2, "task_revise_drawings": 2, "task_construction_permit": 3,
            "task_joint_acceptance": 4, "task_acceptance_filing": 4}


@pytest.fixture
def monday():
    clock.use(ManualClock(datetime(2026, 3, 2, 9, 30, tzinfo=LOCAL_TZ)))
    yield
    clock.use(clock.SystemClock())


def _start(api, project_type="industrial", in_assessed_zone=False, intake=None):
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "construction_project", "applicant": APPLICANT, "data": {
        **APPLY, "project_type": project_type, "in_assessed_zone": in_assessed_zone}})
    assert resp.status_code == 201, resp.body
    case_no = resp.body["case_no"]
    commitments = set((intake or {}).get("commitment_materials", []))
    for item in clerk.get(f"/api/v1/cases/{case_no}/materials").body:
        if item["required"] and item["status"] == "missing" and item["code"] not in commitments:
            up = clerk.post(f"/api/v1/cases/{case_no}/materials", content_type="multipart/form-data",
                            data={"code": item["code"], "file": (io.BytesIO(pdf(item["code"])), "m.pdf")})
            assert up.status_code == 201, up.body
    _do(api, case_no, ready(_case(api, case_no), "task_intake")[0], intake or DATA["task_intake"])
    return case_no


def _case(api, case_no):
    return api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body


def _do(api, case_no, task, data):
    resp = api.as_user(WORKER[task["department"]]).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert resp.status_code == 200, (task["element_id"], task["department"], resp.body)
    return _case(api, case_no)


def _work_until(api, case_no, stop=lambda case: False, answers=None):
    """Complete ready tasks in creation order; ``answers`` maps (element_id, department) to data."""
    order: list[tuple[str, str]] = []
    while True:
        case = _case(api, case_no)
        tasks = ready(case)
        if not tasks or stop(case):
            return case, order
        task = tasks[0]
        data = (answers or {}).get((task["element_id"], task["department"]), DATA[task["element_id"]])
        _do(api, case_no, task, data)
        order.append((task["element_id"], task["department"]))


def test_the_four_stages_run_in_series_and_issue_every_permit(api):
    case_no = _start(api)
    case, order = _work_until(api, case_no)
    assert case["status"] == "completed" and case["end_event"] == "end_done"
    stages = [STAGE_OF[e] for e, _ in order if e in STAGE_OF]
    assert stages == sorted(stages) and set(stages) == {1, 2, 3, 4}  # 立项用地 → 工程建设 → 施工 → 竣工验收
    assert order[-1] == ("task_issue", "综合窗口")
    certs = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/results").body["certificates"]
    assert [c["type"] for c in certs] == ["land_planning_permit", "works_planning_permit", "construction_permit",
                                          "completion_filing"]
    assert all(c["holder_name"] == APPLY["project_name"] for c in certs)


def test_joint_drawing_review_is_countersigned_by_three_departments(api):
    case_no = _start(api)
    case, _ = _work_until(api, case_no, stop=lambda c: bool(ready(c, "task_drawing_review")))
    reviews = ready(case, "task_drawing_review")
    assert sorted(t["department"] for t in reviews) == ["人防办", "住建局", "消防救援大队"]  # at the same time
    fire = next(t for t in reviews if t["department"] == "消防救援大队")
    # another department cannot sign for the fire brigade
    other = api.as_user("civil_defense_approver").post(f"/api/v1/tasks/{fire['id']}/complete",
                                                       json={"data": {"drawing_result": "pass"}})
    assert other.status_code == 403
    answers = {("task_drawing_review", "消防救援大队"): {"drawing_result": "fail", "drawing_opinion": "疏散楼梯宽度不足"}}
    case, order = _work_until(api, case_no, stop=lambda c: bool(ready(c, "task_revise_drawings")), answers=answers)
    assert not ready(case, "task_drawing_review")  # all three signed, one said no: back to the applicant
    case = _do(api, case_no, ready(case, "task_revise_drawings")[0], DATA["task_revise_drawings"])
    again = ready(case, "task_drawing_review")
    assert sorted(t["department"] for t in again) == ["人防办", "住建局", "消防救援大队"]  # reviewed again by all
    for task in again:
        case = _do(api, case_no, task, DATA["task_drawing_review"])
    assert ready(case, "task_construction_permit")


def test_joint_acceptance_with_one_failing_department_goes_back_for_rectification(api):
    case_no = _start(api)
    case, _ = _work_until(api, case_no, stop=lambda c: bool(ready(c, "task_joint_acceptance")))
    inspections = ready(case, "task_joint_acceptance")
    assert sorted(t["department"] for t in inspections) == sorted(["自然资源局", "消防救援大队", "人防办", "质监站", "城建档案馆"])
    for task in inspections:
        fail = task["department"] == "人防办"
        case = _do(api, case_no, task, {"acceptance_result": "fail" if fail else "pass",
                                        "acceptance_findings": "防护密闭门未安装" if fail else ""})
    assert not ready(case) and case["waiting_messages"] == ["rectification_done"]
    notices = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/notices").body
    rectify = [n for n in notices if n["kind"] == "correction"][-1]
    assert rectify["items"] == ["人防办验收不合格，请按其验收意见整改"]  # one result, naming who failed
    resp = api.as_user("window_clerk").post(f"/api/v1/cases/{case_no}/messages",
                                            json={"name": "rectification_done", "data": {}})
    assert resp.status_code == 200, resp.body
    again = ready(resp.body, "task_joint_acceptance")
    assert len(again) == 5
    for task in again:
        case = _do(api, case_no, task, DATA["task_joint_acceptance"])
    assert ready(case, "task_acceptance_filing")  # all passed this time: filing
    case, _ = _work_until(api, case_no)
    assert case["status"] == "completed"


def test_projects_in_an_assessed_zone_reuse_the_regional_assessment(api):
    inside = _start(api, in_assessed_zone=True)
    outside = _start(api, in_assessed_zone=False)
    codes = lambda no: {m["code"] for m in api.as_user("window_clerk").get(f"/api/v1/cases/{no}/materials").body}
    assert "C103" not in codes(inside) and "C103" in codes(outside)  # no 环评 report asked for
    _, order_in = _work_until(api, inside)
    _, order_out = _work_until(api, outside)
    assert "task_eia" not in [e for e, _ in order_in] and "task_eia" in [e for e, _ in order_out]


def test_commitment_replaces_the_permit_proofs(api):
    case_no = _start(api, intake={"intake_result": "accept", "commitment_materials": ["C301", "C302"],
                                  "commitment_signed": True})
    notices = {n["kind"] for n in api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/notices").body}
    assert {"acceptance", "commitment"} <= notices
    case, _ = _work_until(api, case_no)
    assert case["status"] == "completed"


@pytest.mark.parametrize("project_type,total", [("low_risk", 15), ("housing_municipal", 43), ("industrial", 48),
                                                ("government", 60)])
def test_the_total_limit_depends_on_the_project_type(api, monday, project_type, total):
    case = _case(api, _start(api, project_type=project_type))
    accepted = datetime.fromisoformat(case["accepted_at"])
    deadline = datetime.fromisoformat(case["deadline"])
    # accepted Monday 2 March 2026; dates checked against chinese-calendar (Qingming and Labour Day 2026,
    # with the make-up working day of 9 May)
    days = {15: "2026-03-23", 43: "2026-05-06", 48: "2026-05-12", 60: "2026-05-28"}[total]
    assert accepted.date().isoformat() == "2026-03-02" and deadline.date().isoformat() == days
    assert datetime.fromisoformat(case["statutory_deadline"]).date().isoformat() == "2026-06-26"  # 80 working days


def test_an_overdue_stage_is_supervised_and_the_stage_goes_on(api, app, monday):
    from app.scheduler import fire_due_timers
    case_no = _start(api, project_type="industrial")  # 立项用地规划许可: 13 working days
    assert fire_due_timers(app) == 0
    clock.use(ManualClock(datetime(2026, 3, 19, 17, 1, tzinfo=LOCAL_TZ)))  # close of the 13th working day
    assert fire_due_timers(app) == 1
    case = _case(api, case_no)
    assert case["status"] == "running" and ready(case, "task_project_approval")  # non-interrupting
    outbox = [n for n in api.as_user("window_clerk").get("/api/v1/notifications").body if n["case_no"] == case_no]
    assert any("立项用地规划许可阶段已超期" in n["subject"] for n in outbox)
