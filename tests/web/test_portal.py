"""The applicant portal (/portal/) and the follow-up page (/follow-ups), through the pages."""
import io
import re
from datetime import datetime, timedelta

import pytest

from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from ..api.startup import APPLICANT, case_of, complete, pdf, run_back_office, start, upload_all
from ..conftest import ApiClient

ACCEPTED = datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ)  # Friday before 国庆 (1–8 Oct; 11 Oct is a make-up day)
WRONG = "受理号码或查询码不正确"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def manual_clock(clock_at):
    return clock_at(ACCEPTED)


@pytest.fixture
def api(app):
    return ApiClient(client=app.test_client())


@pytest.fixture
def clerk(api):
    return api.as_user("window_clerk")


def history(api, case_no) -> list[dict]:
    return api.as_user("manager").get(f"/api/v1/cases/{case_no}/history").body


def sign_in_portal(browser_for, case: dict):
    web = browser_for(None)
    web.get("/portal/")
    resp = web.post("/portal/", {"case_no": case["case_no"], "query_code": case["query_code"]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/case"), web.text(resp)
    return web


def accepted(api, clerk) -> dict:
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    return case_of(api, case_no)


def completed(api, clerk) -> dict:
    case, _ = run_back_office(api, accepted(api, clerk)["case_no"])
    assert case["status"] == "completed"
    return case


def test_the_right_code_shows_progress_the_department_and_the_time_left(api, clerk, browser_for, manual_clock):
    case = accepted(api, clerk)
    web = sign_in_portal(browser_for, case)
    page = web.text(web.get("/portal/case"))
    assert "当前办理部门：市场监管局" in page and "剩余 3 小时（按工作时间计算）" in page
    assert "2025-09-26 14:00前办结" in page and "受理通知书" in page
    assert "王五" in page and "4106**********123X" in page and "139****5678" in page
    assert APPLICANT["id_number"] not in page and APPLICANT["phone"] not in page and case["query_code"] not in page
    assert web.get("/desk/").status_code == 302  # the portal is no staff login
    manual_clock.set(datetime(2025, 9, 26, 10, 20, tzinfo=LOCAL_TZ))  # within the 30 minutes of the lookup
    assert complete(api, case_of(api, case["case_no"]), "task_register").status_code == 200
    page = web.text(web.get("/portal/case"))
    assert "剩余 2 小时 40 分钟" in page  # 10:20–12:00 and 13:00–14:00
    holders = re.search(r"当前办理部门：([^<]+)<", page).group(1)
    assert "市场监管局" not in holders and "税务局" in holders and "公安局" in holders
    assert web.post("/portal/leave").status_code == 302
    assert web.get("/portal/case").headers["Location"].endswith("/portal/")


def _page(web, resp, case_no: str) -> str:
    """The page without what differs by design: the number typed, and the CSRF token (signed with the
    second it was made in, so two responses a second apart differ there)."""
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1T", web.text(resp).replace(case_no, "N"))


def test_a_wrong_code_and_an_unknown_number_read_the_same_and_open_nothing(api, clerk, browser_for):
    case = case_of(api, start(clerk)["case_no"])
    web = browser_for(None)
    web.get("/portal/")
    bad = f"{(int(case['query_code']) + 1) % 10**6:06d}"
    wrong = web.post("/portal/", {"case_no": case["case_no"], "query_code": bad})
    unknown = web.post("/portal/", {"case_no": "410600209901019999999", "query_code": "123456"})
    assert wrong.status_code == unknown.status_code == 401
    assert WRONG in web.text(wrong) and WRONG in web.text(unknown)
    shown = _page(web, wrong, case["case_no"])
    assert 'name="csrf_token" value="T"' in shown and shown == _page(web, unknown, "410600209901019999999")
    assert f'value="{case["case_no"]}"' in web.text(wrong)  # what was typed is kept
    assert web.get("/portal/case").status_code == 302


def test_the_lock_refuses_the_right_code_and_the_address_limit_answers_429(database_url, tmp_path):
    from app import create_app
    from config import TestConfig
    from .conftest import Browser
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, INSTANCE_DIR=tmp_path,
                     RATELIMIT_ENABLED=True, PORTAL_RATE_LIMIT="12 per minute")
    with app.app_context():
        api = ApiClient(client=app.test_client())
        case = case_of(api, start(api.as_user("window_clerk"))["case_no"])
        web = Browser(app.test_client())
        web.get("/portal/")
        bad = f"{(int(case['query_code']) + 1) % 10**6:06d}"
        for _ in range(10):
            assert web.post("/portal/", {"case_no": case["case_no"], "query_code": bad}).status_code == 401
        locked = web.post("/portal/", {"case_no": case["case_no"], "query_code": case["query_code"]})
        assert locked.status_code == 401 and WRONG in web.text(locked)
        assert web.get("/portal/case").status_code == 302  # nothing opened
        assert web.post("/portal/", {"case_no": "410600209901019999999", "query_code": "1"}).status_code == 401
        limited = web.post("/portal/", {"case_no": case["case_no"], "query_code": case["query_code"]})
        assert limited.status_code == 429 and "请求过于频繁" in web.text(limited) and "Traceback" not in web.text(limited)
        from app.extensions import db
        db.session.remove()
        db.engine.dispose()


def _correction_case(api, clerk) -> dict:
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=("M001", "M002", "M003"))
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "correct", "correction_items": "公司章程缺少全体股东签字\n住所使用证明未提交"})
    assert resp.status_code == 200, resp.body
    return case_of(api, case_no)


def _upload(web, code, content, filename):
    return web.post("/portal/materials", {"code": code, "file": (io.BytesIO(content), filename)},
                    content_type="multipart/form-data")


def test_the_applicant_supplies_missing_materials_and_the_intake_task_is_ready_again(api, clerk, browser_for):
    case = _correction_case(api, clerk)
    web = sign_in_portal(browser_for, case)
    page = web.text(web.get("/portal/case"))
    assert "公司章程缺少全体股东签字" in page and "提交补正材料" in page and 'type="file"' in page
    before = len(history(api, case["case_no"]))
    refused = web.post("/portal/supplement")  # nothing uploaded yet
    assert refused.status_code == 422 and "请先上传需要补正的材料" in web.text(refused)
    wrong_type = _upload(web, "M002", PNG, "章程.png")  # 公司章程 only in PDF
    assert wrong_type.status_code == 422 and "文件类型不符合要求" in web.text(wrong_type)
    assert 'value="M002" selected' in web.text(wrong_type)  # the choice is kept
    assert _upload(web, "M002", pdf("x"), "../章程.pdf").status_code == 422  # a path is no file name
    assert len(history(api, case["case_no"])) == before
    assert case_of(api, case["case_no"])["waiting_messages"] == ["materials_supplied"]

    assert _upload(web, "M002", pdf("v2"), "章程.pdf").status_code == 302
    assert _upload(web, "M004", pdf("m4"), "住所证明.pdf").status_code == 302
    assert web.post("/portal/supplement").status_code == 302
    after = case_of(api, case["case_no"])
    assert after["waiting_messages"] == [] and [t["element_id"] for t in after["tasks"]
                                                if t["state"] == "ready"] == ["task_intake"]
    checklist = {m["code"]: m for m in clerk.get(f"/api/v1/cases/{case['case_no']}/materials").body}
    assert checklist["M002"]["version"] == 2 and checklist["M004"]["status"] == "uploaded"
    assert checklist["M002"]["versions"][-1]["uploaded_by_id"] is None
    message = [e for e in history(api, case["case_no"]) if e["action"] == "message.received"]
    assert len(message) == 1 and message[0]["actor_id"] is None
    assert set(message[0]["after"]["data"]["materials"]) >= {"M002", "M004"}
    page = web.text(web.get("/portal/case"))
    assert 'type="file"' not in page  # nothing to supply any more
    assert _upload(web, "M004", pdf("again"), "住所证明.pdf").status_code == 409


def test_notices_are_served_only_for_the_case_of_the_session(api, clerk, browser_for):
    mine, other = _correction_case(api, clerk), _correction_case(api, clerk)
    notice_id = lambda case: clerk.get(f"/api/v1/cases/{case['case_no']}/notices").body[0]["id"]  # noqa: E731
    web = sign_in_portal(browser_for, mine)
    resp = web.get(f"/portal/notices/{notice_id(mine)}.html")
    assert resp.status_code == 200 and mine["case_no"] in web.text(resp) and "一次性告知" in web.text(resp)
    assert "script-src" not in resp.headers["Content-Security-Policy"]  # the notice's own strict policy
    assert f"/portal/notices/{notice_id(mine)}.pdf" in web.text(web.get("/portal/case"))
    printed = web.client.get(f"/portal/notices/{notice_id(mine)}.pdf")  # 503 only without WeasyPrint
    assert (printed.status_code, printed.mimetype) == (200, "application/pdf") or printed.status_code == 503
    for path in (f"/portal/notices/{notice_id(other)}.html", f"/portal/notices/{notice_id(other)}.pdf",
                 "/portal/notices/999999.html"):
        resp = web.get(path)
        assert resp.status_code == 404 and other["case_no"] not in web.text(resp), path
    assert browser_for(None).get(f"/portal/notices/{notice_id(mine)}.html").status_code == 404  # no session


def test_rating_after_completion_once_and_a_bad_one_reaches_the_department(api, clerk, browser_for, manual_clock):
    running = accepted(api, clerk)
    web = sign_in_portal(browser_for, running)
    assert "好差评" not in web.text(web.get("/portal/case"))
    early = web.post("/portal/rating", {"level": "5"})
    assert early.status_code == 409 and "办件办结后才能评价" in web.text(early)

    case = completed(api, clerk)
    web = sign_in_portal(browser_for, case)
    page = web.text(web.get("/portal/case"))
    assert "好差评" in page and "非常不满意" in page and "快递单号 SF1234567890" in page and "营业执照" in page
    no_level = web.post("/portal/rating", {"comment": "排队太久"})
    assert no_level.status_code == 422 and "请选择评价等级" in web.text(no_level) and "排队太久</textarea>" in web.text(no_level)
    too_long = web.post("/portal/rating", {"level": "1", "comment": "长" * 501})
    assert too_long.status_code == 422 and "不能超过 500 字" in web.text(too_long)
    assert api.as_user("manager").get("/api/v1/follow-ups?status=all").body == []
    assert web.post("/portal/rating", {"level": "1", "comment": "排队太久"}).status_code == 302
    assert "您已评价：非常不满意" in web.text(web.get("/portal/case"))
    again = web.post("/portal/rating", {"level": "5"})
    assert again.status_code == 409 and "该办件已评价" in web.text(again)

    amr = browser_for("amr_approver")
    page = amr.text(amr.get("/follow-ups"))
    # rated on Friday 26 Sep: 5 working days are 28 Sep (调休), 29, 30 Sep, 9 and 10 Oct
    assert case["case_no"] in page and "2025-10-10 17:00" in page and "排队太久" in page and "正常" in page
    assert 'name="resolution"' in page
    tax = browser_for("tax_approver")
    assert case["case_no"] not in tax.text(tax.get("/follow-ups")) and "没有待整改的差评" in tax.text(tax.get("/follow-ups"))
    manager = browser_for("manager")
    page = manager.text(manager.get("/follow-ups"))
    assert case["case_no"] in page and 'name="resolution"' not in page
    assert browser_for("analyst").get("/follow-ups").status_code == 403


def test_the_department_resolves_the_follow_up_and_another_cannot(api, clerk, browser_for):
    case = completed(api, clerk)
    assert clerk.post(f"/api/v1/cases/{case['case_no']}/rating", json={"level": 2}).status_code == 201
    [follow_up] = api.as_user("manager").get("/api/v1/follow-ups").body
    url = f"/follow-ups/{follow_up['id']}/resolve"
    tax = browser_for("tax_approver")
    tax.get("/follow-ups")
    refused = tax.post(url, {"resolution": "不是我们"})
    assert refused.status_code == 403 and "负责整改" in tax.text(refused)
    amr = browser_for("amr_approver")
    amr.get("/follow-ups")
    empty = amr.post(url, {"resolution": "   "})
    assert empty.status_code == 422 and "请填写整改情况" in amr.text(empty)
    assert api.as_user("manager").get("/api/v1/follow-ups").body[0]["status"] == "open"
    done = amr.post(url, {"resolution": "已对窗口人员进行业务培训"})
    assert done.status_code == 302
    assert "没有待整改的差评" in amr.text(amr.get("/follow-ups"))
    page = amr.text(amr.get("/follow-ups?status=done"))
    assert "已对窗口人员进行业务培训" in page and "市场监管局审批人员" in page
    told = [n["subject"] for n in clerk.get(f"/api/v1/cases/{case['case_no']}/notifications").body]
    assert any(s.startswith("评价回访告知") for s in told) and any(s.startswith("评价整改结果") for s in told)
    again = amr.post(url, {"resolution": "再次提交"})
    assert again.status_code == 409 and "已办结" in amr.text(again)


def test_the_portal_session_expires(api, clerk, browser_for, manual_clock):
    case = case_of(api, start(clerk)["case_no"])
    web = sign_in_portal(browser_for, case)
    assert web.get("/portal/case").status_code == 200
    manual_clock.advance(timedelta(minutes=31))
    assert web.get("/portal/case").status_code == 302
