"""The applicant's lookup (统一受理号码 + 查询码), 好差评 and the follow-up of bad ratings, through the API."""
from datetime import datetime, timedelta

import pytest

from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from .startup import APPLICANT, case_of, complete, run_back_office, start, upload_all

ACCEPTED = datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ)  # Friday before 国庆 (1–8 Oct; 28 Sep, 11 Oct make-up days)
WRONG = "受理号码或查询码不正确"


@pytest.fixture
def manual_clock(clock_at):
    return clock_at(ACCEPTED)


@pytest.fixture
def clerk(api):
    return api.as_user("window_clerk")


def lookup(api, case_no, code):
    return api.post("/api/v1/portal/lookup", json={"case_no": case_no, "query_code": code})


def accepted_case(api, clerk) -> dict:
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    return case_of(api, case_no)


def completed_case(api, clerk) -> dict:
    case = accepted_case(api, clerk)
    case, _ = run_back_office(api, case["case_no"])
    assert case["status"] == "completed"
    return case


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def history(api, case_no) -> list[str]:
    return [e["action"] for e in api.as_user("manager").get(f"/api/v1/cases/{case_no}/history").body]


def test_the_right_code_shows_the_progress_the_department_and_the_office_time_left(api, clerk, manual_clock):
    case = accepted_case(api, clerk)
    resp = lookup(api, case["case_no"], case["query_code"])
    assert resp.status_code == 200, resp.body
    view = resp.body
    assert view["holders"] == ["市场监管局"] and view["status_word"] == "办理中"
    # promised: 3 office hours from 10:00 on Friday (10–12 and 13–14)
    assert view["time_left"] == {"overdue": False, "text": "剩余 3 小时（按工作时间计算）",
                                 "deadline": "2025-09-26T14:00:00+08:00"}
    assert [(s["name"], s["state"]) for s in view["steps"]] == [
        ("收件", "done"), ("受理", "done"), ("各部门办理", "current"), ("出件/办结", "todo")]
    assert "市场监管局" in view["steps"][2]["note"]
    assert view["applicant"] == {"name": "王五", "id_number": "4106**********123X", "phone": "139****5678"}
    assert "query_code" not in view and [n["kind"] for n in view["notices"]] == ["acceptance"]

    manual_clock.set(datetime(2025, 9, 26, 11, 30, tzinfo=LOCAL_TZ))  # lunch break is not office time
    assert lookup(api, case["case_no"], case["query_code"]).body["time_left"]["text"] == \
        "剩余 1 小时 30 分钟（按工作时间计算）"
    assert complete(api, case_of(api, case["case_no"]), "task_register").status_code == 200
    holders = lookup(api, case["case_no"], case["query_code"]).body["holders"]
    assert "市场监管局" not in holders and {"公安局", "税务局", "人社局"} <= set(holders)
    manual_clock.set(datetime(2025, 9, 26, 14, 1, tzinfo=LOCAL_TZ))
    assert lookup(api, case["case_no"], case["query_code"]).body["time_left"]["overdue"] is True


def test_a_wrong_code_and_an_unknown_number_get_the_same_answer(api, clerk):
    case = start(clerk)
    wrong = lookup(api, case["case_no"], wrong_code(case_of(api, case["case_no"])["query_code"]))
    unknown = lookup(api, "410600209901019999999", "123456")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.body == unknown.body and wrong.body["message"] == WRONG
    assert history(api, case["case_no"]).count("portal.failed") == 1


def test_ten_wrong_codes_lock_the_case_even_for_the_right_code(api, clerk, manual_clock):
    case = case_of(api, start(clerk)["case_no"])
    other = case_of(api, start(clerk)["case_no"])
    for _ in range(10):
        assert lookup(api, case["case_no"], wrong_code(case["query_code"])).status_code == 401
    locked = lookup(api, case["case_no"], case["query_code"])
    assert locked.status_code == 401 and locked.body["message"] == WRONG  # locked: the right code is refused
    assert history(api, case["case_no"]).count("portal.failed") == 10  # attempts while locked are not booked
    assert lookup(api, other["case_no"], other["query_code"]).status_code == 200  # only that case is locked
    manual_clock.advance(timedelta(minutes=14))
    assert lookup(api, case["case_no"], case["query_code"]).status_code == 401
    manual_clock.advance(timedelta(minutes=1))
    assert lookup(api, case["case_no"], case["query_code"]).status_code == 200


def test_lookups_from_one_address_are_rate_limited_only_for_wrong_codes(database_url, tmp_path):
    from app import create_app
    from config import TestConfig
    from ..conftest import ApiClient
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, INSTANCE_DIR=tmp_path,
                     RATELIMIT_ENABLED=True, PORTAL_RATE_LIMIT="3 per minute")
    with app.app_context():
        api = ApiClient(client=app.test_client())
        case = case_of(api, start(api.as_user("window_clerk"))["case_no"])
        for _ in range(5):  # right codes do not use up the allowance
            assert lookup(api, case["case_no"], case["query_code"]).status_code == 200
        codes = [lookup(api, "410600209901019999999", "000000").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        limited = lookup(api, case["case_no"], case["query_code"])
        assert limited.status_code == 429 and limited.body["message"] == "请求过于频繁，请稍后再试"
        from app.extensions import db
        db.session.remove()
        db.engine.dispose()


def test_a_rating_only_after_completion_and_only_once(api, clerk):
    case = accepted_case(api, clerk)
    resp = clerk.post(f"/api/v1/cases/{case['case_no']}/rating", json={"level": 5})
    assert resp.status_code == 409 and resp.body["message"] == "办件办结后才能评价"
    case, _ = run_back_office(api, case["case_no"])
    body = {"case_no": case["case_no"], "query_code": case["query_code"], "level": 4, "comment": "x" * 501}
    assert api.post("/api/v1/portal/rating", json=body).status_code == 422
    wrong = api.post("/api/v1/portal/rating", json={**body, "query_code": wrong_code(case["query_code"]),
                                                    "comment": "很好"})
    assert wrong.status_code == 401 and wrong.body["message"] == WRONG
    assert "rating.created" not in history(api, case["case_no"])
    resp = api.post("/api/v1/portal/rating", json={**body, "comment": "窗口服务热情"})
    assert resp.status_code == 201, resp.body
    assert (resp.body["level_name"], resp.body["channel"], resp.body["follow_up_id"]) == ("满意", "portal", None)
    again = clerk.post(f"/api/v1/cases/{case['case_no']}/rating", json={"level": 1})
    assert again.status_code == 409 and again.body["message"] == "该办件已评价"
    assert lookup(api, case["case_no"], case["query_code"]).body["rating"]["level_name"] == "满意"
    assert api.as_user("manager").get("/api/v1/follow-ups?status=all").body == []  # a good rating opens none


def test_a_bad_rating_opens_a_follow_up_due_in_working_days(api, clerk, manual_clock):
    case = completed_case(api, clerk)
    # Tuesday 30 Sep, 15:00: 5 working days skip 1–8 Oct and count Saturday 11 Oct (调休)
    manual_clock.set(datetime(2025, 9, 30, 15, 0, tzinfo=LOCAL_TZ))
    resp = clerk.post(f"/api/v1/cases/{case['case_no']}/rating", json={"level": 2, "comment": "等待时间太长"})
    assert resp.status_code == 201, resp.body
    assert resp.body["channel"] == "window" and resp.body["follow_up_id"]
    [follow_up] = api.as_user("amr_approver").get("/api/v1/follow-ups").body  # 市场监管局 leads 企业开办
    assert follow_up["id"] == resp.body["follow_up_id"] and follow_up["department"] == "市场监管局"
    assert follow_up["due_at"] == "2025-10-14T17:00:00+08:00" and follow_up["status"] == "open"
    assert (follow_up["level_name"], follow_up["comment"]) == ("不满意", "等待时间太长")
    assert api.as_user("tax_approver").get("/api/v1/follow-ups").body == []
    assert [f["id"] for f in api.as_user("manager").get("/api/v1/follow-ups").body] == [follow_up["id"]]
    told = [n for n in clerk.get(f"/api/v1/cases/{case['case_no']}/notifications").body
            if n["subject"].startswith("评价回访告知")]
    assert len(told) == 1 and "2025年10月14日前回访" in told[0]["body"] and told[0]["recipient"] == APPLICANT["phone"]
    assert {"rating.created", "followup.opened"} <= set(history(api, case["case_no"]))


def test_only_the_responsible_department_resolves_a_follow_up(api, clerk):
    case = completed_case(api, clerk)
    clerk.post(f"/api/v1/cases/{case['case_no']}/rating", json={"level": 1, "comment": "材料被要求提交两次"})
    [follow_up] = api.as_user("manager").get("/api/v1/follow-ups").body
    url = f"/api/v1/follow-ups/{follow_up['id']}/resolve"
    before = history(api, case["case_no"])
    refused = api.as_user("tax_approver").post(url, json={"resolution": "已整改"})
    assert refused.status_code == 403 and "负责整改" in refused.body["message"]
    assert api.as_user("amr_approver").post(url, json={"resolution": ""}).status_code == 422
    assert api.as_user("manager").post(url, json={"resolution": "已整改"}).status_code == 403
    assert history(api, case["case_no"]) == before
    assert api.as_user("amr_approver").post("/api/v1/follow-ups/999999/resolve",
                                            json={"resolution": "x"}).status_code == 404
    done = api.as_user("amr_approver").post(url, json={"resolution": "已约谈窗口人员，材料清单已合并"})
    assert done.status_code == 200, done.body
    assert (done.body["status"], done.body["resolved_by"]) == ("done", "市场监管局审批人员")
    assert api.as_user("amr_approver").get("/api/v1/follow-ups").body == []
    assert [f["resolution"] for f in api.as_user("amr_approver").get("/api/v1/follow-ups?status=done").body] == \
        ["已约谈窗口人员，材料清单已合并"]
    again = api.as_user("amr_approver").post(url, json={"resolution": "再次"})
    assert again.status_code == 409 and again.body["message"] == "该整改事项已办结"
    assert history(api, case["case_no"]).count("followup.resolved") == 1
