"""一窗受理 on 企业开办, end to end through the API: every intake path, its notices and its results."""
from datetime import datetime

import pytest

from app.errors import InvalidInput
from app.scheduler import fire_due_timers
from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from .helpers import ready
from .startup import CREDIT_CODE, REQUIRED, case_of, complete, run_back_office, start, upload, upload_all

ACCEPTED = datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ)  # Friday before 国庆 (1–8 Oct, 11 Oct is a make-up day)


@pytest.fixture
def manual_clock(clock_at):
    return clock_at(ACCEPTED)


@pytest.fixture
def clerk(api):
    return api.as_user("window_clerk")


def notices(api, case_no) -> dict[str, list[dict]]:
    by_kind: dict[str, list[dict]] = {}
    for n in api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/notices").body:
        by_kind.setdefault(n["kind"], []).append(n)
    return by_kind


def notice_text(api, notice: dict) -> str:
    resp = api.as_user("window_clerk").get(notice["url"])
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    return resp.get_data(as_text=True)


def history(api, case_no) -> list[str]:
    return [e["action"] for e in api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/history").body]


def test_accept_issues_the_acceptance_notice_and_delivers_the_licence(api, clerk, manual_clock):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    case = case_of(api, case_no)
    assert case["acceptance"] == "window" and case["accepted_at"].startswith("2025-09-26T10:00")
    assert ready(case, "task_register")
    text = notice_text(api, notices(api, case_no)["acceptance"][0])
    # promised: 3 office hours from 10:00 on Friday 26 Sep; statutory: 20 working days (30 Oct)
    assert "受理通知书" in text and case_no in text and "承诺办结日期：2025年9月26日" in text
    assert "法定办结期限至2025年10月30日" in text and case["query_code"] in text

    case, done = run_back_office(api, case_no)
    assert case["status"] == "completed" and case["end_event"] == "end_done"
    results = clerk.get(f"/api/v1/cases/{case_no}/results").body
    assert [(c["type"], c["number"], c["status"]) for c in results["certificates"]] == \
        [("business_licence", CREDIT_CODE, "valid")]
    assert results["delivery"]["method"] == "post" and results["delivery"]["tracking_no"] == "SF1234567890"
    result_text = notice_text(api, notices(api, case_no)["result"][0])
    assert f"营业执照（{CREDIT_CODE}）" in result_text and "邮寄送达（快递单号 SF1234567890）" in result_text
    outbox = clerk.get("/api/v1/notifications").body
    assert {"受理通知书", "办结通知书"} <= {n["subject"].split("（")[0] for n in outbox if n["case_no"] == case_no}


def test_accept_with_missing_required_material_is_refused_and_changes_nothing(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=("M001", "M002", "M003"))
    before = history(api, case_no)
    resp = complete(api, case_of(api, case_no), "task_intake")
    assert resp.status_code == 422 and "住所使用证明" in str(resp.body["errors"]["materials"])
    assert history(api, case_no) == before and ready(case_of(api, case_no), "task_intake")
    assert notices(api, case_no) == {}


def test_correction_then_accept(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=("M001", "M002", "M003"))
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "correct", "correction_items": "公司章程缺少全体股东签字\n住所使用证明未提交"})
    assert resp.status_code == 200, resp.body
    case = case_of(api, case_no)
    assert not ready(case) and case["waiting_messages"] == ["materials_supplied"] and case["accepted_at"] is None
    text = notice_text(api, notices(api, case_no)["correction"][0])
    assert "一次性告知" in text and "<li>公司章程缺少全体股东签字</li>" in text and "<li>住所使用证明未提交</li>" in text

    assert upload(clerk, case_no, "M002").body["version"] == 2
    assert upload(clerk, case_no, "M004").status_code == 201
    resp = clerk.post(f"/api/v1/cases/{case_no}/messages",
                      json={"name": "materials_supplied", "data": {"materials": ["M002", "M004"]}})
    assert resp.status_code == 200, resp.body
    case = case_of(api, case_no)
    assert ready(case, "task_intake") and case["waiting_messages"] == []  # checked again at the window
    assert complete(api, case, "task_intake").status_code == 200
    assert case_of(api, case_no)["acceptance"] == "window"
    assert "message.received" in history(api, case_no)


def test_no_correction_notice_within_five_working_days_is_deemed_acceptance(api, app, clerk, manual_clock):
    case_no = start(clerk)["case_no"]
    # received Friday 26 Sep; the 5th working day after is Friday 10 Oct (28 Sep is a make-up day)
    manual_clock.set(datetime(2025, 10, 10, 16, 59, tzinfo=LOCAL_TZ))
    assert fire_due_timers(app) == 0
    manual_clock.set(datetime(2025, 10, 10, 17, 1, tzinfo=LOCAL_TZ))
    assert fire_due_timers(app) == 1
    case = case_of(api, case_no)
    assert case["acceptance"] == "deemed" and case["accepted_at"] == case["created_at"]  # counts from receipt
    assert ready(case, "task_register") and not ready(case, "task_intake")
    text = notice_text(api, notices(api, case_no)["acceptance"][0])
    assert "视为受理" in text and "第三十二条" in text
    assert {"timer.fired", "effect.accept"} <= set(history(api, case_no))


def _deficiency_case(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=("M001", "M002", "M003"))
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "deficiency", "deficiency_materials": ["M004"], "commitment_signed": True})
    assert resp.status_code == 200, resp.body
    return case_no


def test_deficiency_supplied_in_time_releases_the_result(api, clerk, manual_clock):
    case_no = _deficiency_case(api, clerk)
    by_kind = notices(api, case_no)
    assert "住所使用证明" in notice_text(api, by_kind["acceptance"][0])
    commitment = notice_text(api, by_kind["deficiency"][0])
    assert "容缺受理承诺书" in commitment and "<li>住所使用证明</li>" in commitment
    assert "2025年10月10日前补齐" in commitment  # 5 working days after 26 Sep

    case, done = run_back_office(api, case_no)
    assert "task_issue" not in done and case["status"] == "running"  # result withheld until supplied
    assert case["waiting_messages"] == ["deficiency_supplied"]
    assert upload(clerk, case_no, "M004").status_code == 201
    resp = clerk.post(f"/api/v1/cases/{case_no}/messages",
                      json={"name": "deficiency_supplied", "data": {"materials": ["M004"]}})
    assert resp.status_code == 200, resp.body
    case, done = run_back_office(api, case_no)
    assert done == ["task_issue"] and case["status"] == "completed"


def test_deficiency_not_supplied_terminates_with_a_credit_record(api, app, clerk, manual_clock):
    case_no = _deficiency_case(api, clerk)
    run_back_office(api, case_no)
    manual_clock.set(datetime(2025, 10, 10, 17, 1, tzinfo=LOCAL_TZ))
    assert fire_due_timers(app) == 1
    case = case_of(api, case_no)
    assert case["status"] == "terminated" and case["end_event"] == "end_terminated"
    records = api.as_user("manager").get("/api/v1/credit-records").body
    mine = [r for r in records if r["case_no"] == case_no]
    assert [r["kind"] for r in mine] == ["deficiency_not_supplied"]
    assert mine[0]["subject_id_number"] != "41060219900101123X"  # masked for the manager
    text = notice_text(api, notices(api, case_no)["termination"][0])
    assert "终止办理" in text and "<li>住所使用证明</li>" in text and "信用记录" in text
    assert clerk.get(f"/api/v1/cases/{case_no}/results").body["certificates"][0]["status"] == "revoked"
    # a supplement for a closed case is refused and changes nothing
    before = history(api, case_no)
    resp = clerk.post(f"/api/v1/cases/{case_no}/messages",
                      json={"name": "deficiency_supplied", "data": {"materials": []}})
    assert resp.status_code == 409 and "已办结或已终止" in resp.body["message"]
    assert upload(clerk, case_no, "M004").status_code == 409
    assert history(api, case_no) == before


def test_deficiency_is_only_for_secondary_materials_with_a_signed_commitment(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=("M001", "M003", "M004"))
    before = history(api, case_no)
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "deficiency", "deficiency_materials": ["M002"], "commitment_signed": True})
    assert resp.status_code == 422 and "主要材料" in str(resp.body["errors"])
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "deficiency", "deficiency_materials": ["M004"]})
    assert resp.status_code == 422 and "承诺书" in str(resp.body["errors"]["commitment_signed"])
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "deficiency", "deficiency_materials": ["M999"], "commitment_signed": True})
    assert resp.status_code == 422  # not a catalog material
    assert history(api, case_no) == before and notices(api, case_no) == {}


def test_commitment_with_a_failed_post_check_revokes_the_approval(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=("M001", "M002", "M003"))
    resp = complete(api, case_of(api, case_no), "task_intake", {
        "intake_result": "accept", "commitment_materials": ["M004"], "commitment_signed": True})
    assert resp.status_code == 200, resp.body
    commitment = notice_text(api, notices(api, case_no)["commitment"][0])
    assert "告知承诺书" in commitment and "<li>住所使用证明</li>" in commitment and "事后核查" in commitment

    case, done = run_back_office(api, case_no, skip=("task_post_check",))
    assert done[-1] == "task_issue" and ready(case, "task_post_check")
    assert ready(case, "task_post_check")[0]["due_at"] is not None  # 20 working days from the catalog
    resp = complete(api, case, "task_post_check", {
        "post_check_result": "fail", "post_check_findings": "住所为虚假地址，现场无法找到"})
    assert resp.status_code == 200, resp.body
    case = case_of(api, case_no)
    assert case["status"] == "completed" and case["end_event"] == "end_revoked"
    assert clerk.get(f"/api/v1/cases/{case_no}/results").body["certificates"][0]["status"] == "revoked"
    kinds = [r["kind"] for r in api.as_user("manager").get("/api/v1/credit-records").body if r["case_no"] == case_no]
    assert kinds == ["false_commitment"]
    text = notice_text(api, notices(api, case_no)["revocation"][0])
    assert "撤销决定书" in text and "<li>住所为虚假地址，现场无法找到</li>" in text


def test_rejection_is_decided_by_the_department_with_reasons(api, clerk):
    case_no = start(clerk)["case_no"]
    assert complete(api, case_of(api, case_no), "task_intake", {"intake_result": "refer"}).status_code == 200
    case = case_of(api, case_no)
    review = ready(case, "task_acceptance_review")
    assert review and review[0]["department"] == "市场监管局"  # the window has no veto
    before = history(api, case_no)
    resp = complete(api, case, "task_acceptance_review", {"review_result": "reject"})
    assert resp.status_code == 422 and "理由" in resp.body["message"]  # reasons are required
    assert history(api, case_no) == before
    resp = complete(api, case, "task_acceptance_review", {
        "review_result": "reject", "reject_reasons": "申请的经营范围属于禁止准入类事项"})
    assert resp.status_code == 200, resp.body
    case = case_of(api, case_no)
    assert case["status"] == "completed" and case["end_event"] == "end_rejected" and case["accepted_at"] is None
    text = notice_text(api, notices(api, case_no)["rejection"][0])
    assert "不予受理决定书" in text and "<li>申请的经营范围属于禁止准入类事项</li>" in text
    assert "行政复议" in text and "行政诉讼" in text


def test_department_returns_for_correction_and_the_clock_stops(api, clerk, manual_clock):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    deadline = case_of(api, case_no)["deadline"]
    resp = complete(api, case_of(api, case_no), "task_register",
                    {"register_result": "return", "return_items": "公司章程第五条出资方式填写有误"})
    assert resp.status_code == 200, resp.body
    case = case_of(api, case_no)
    assert case["suspended"] and case["waiting_messages"] == ["materials_supplied"]
    assert "<li>公司章程第五条出资方式填写有误</li>" in notice_text(api, notices(api, case_no)["correction"][0])

    manual_clock.set(datetime(2025, 9, 29, 10, 0, tzinfo=LOCAL_TZ))  # Monday: one working day (Sunday 28th) later
    assert upload(clerk, case_no, "M002").status_code == 201
    resp = clerk.post(f"/api/v1/cases/{case_no}/messages",
                      json={"name": "materials_supplied", "data": {"materials": ["M002"]}})
    assert resp.status_code == 200, resp.body
    case = case_of(api, case_no)
    assert not case["suspended"] and ready(case, "task_register")
    assert case["deadline"] > deadline  # moved by the paused office time
    # the task offered again now gets its own hour from now, not an hour plus the pause
    reoffered = ready(case, "task_register")[0]
    assert datetime.fromisoformat(reoffered["due_at"]) == datetime(2025, 9, 29, 11, 0, tzinfo=LOCAL_TZ)
    suspensions = clerk.get(f"/api/v1/cases/{case_no}/suspensions").body
    assert len(suspensions) == 1 and suspensions[0]["kind"] == "correction" and suspensions[0]["ended_at"]


def test_a_second_case_for_the_same_company_reuses_its_business_licence(api, clerk):
    first = start(clerk)["case_no"]
    upload_all(clerk, first)
    case, _ = run_back_office(api, first)
    assert case["status"] == "completed"
    second = start(clerk)["case_no"]
    checklist = {m["code"]: m for m in clerk.get(f"/api/v1/cases/{second}/materials").body}
    assert checklist["M010"]["status"] == "certificate"
    assert CREDIT_CODE in str(checklist["M010"])


def test_messages_are_refused_when_the_case_is_not_waiting(api, clerk):
    case_no = start(clerk)["case_no"]
    before = history(api, case_no)
    resp = clerk.post(f"/api/v1/cases/{case_no}/messages", json={"name": "materials_supplied", "data": {}})
    assert resp.status_code == 409 and "没有等待" in resp.body["message"]
    assert history(api, case_no) == before


def test_a_supplement_must_name_uploaded_catalog_materials(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no, codes=REQUIRED[:3])
    complete(api, case_of(api, case_no), "task_intake",
             {"intake_result": "correct", "correction_items": "住所使用证明未提交"})
    before = history(api, case_no)
    for materials, word in ((["M999"], "没有材料"), (["M004"], "尚未上传")):
        resp = clerk.post(f"/api/v1/cases/{case_no}/messages",
                          json={"name": "materials_supplied", "data": {"materials": materials}})
        assert resp.status_code == 422 and word in resp.body["message"], resp.body
    assert history(api, case_no) == before and case_of(api, case_no)["waiting_messages"] == ["materials_supplied"]


def test_prefill_from_earlier_cases_and_certificates_is_marked_with_its_source(api, clerk):
    first = start(clerk)["case_no"]
    upload_all(clerk, first)
    run_back_office(api, first)
    resp = clerk.get("/api/v1/prefill?process_key=business_startup&id_number=41060219900101123X")
    assert resp.status_code == 200, resp.body
    fields = resp.body["fields"]
    assert fields["address"] == {"value": "鹤壁市淇滨区示例路 1 号", "source": "case", "case_no": first}
    assert fields["company_name"]["source"] == "certificate" and CREDIT_CODE in fields["company_name"]["certificate"]
    nobody = clerk.get("/api/v1/prefill?process_key=business_startup&id_number=110101199001019999").body
    assert nobody["fields"] == {}
    assert api.as_user("tax_approver").get(
        "/api/v1/prefill?process_key=business_startup&id_number=41060219900101123X").status_code == 403


def test_a_department_sees_the_fields_its_matter_needs(api, clerk):
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    complete(api, case_of(api, case_no), "task_intake")
    complete(api, case_of(api, case_no), "task_register")
    tax_task = ready(case_of(api, case_no), "task_tax")[0]
    detail = api.as_user("tax_approver").get(f"/api/v1/tasks/{tax_task['id']}").body
    assert detail["matter"]["name"] == "申领发票及税务UKey" and detail["form"]["id"] == "business_startup_tax"
    assert set(detail["case_data"]) == {"company_name", "credit_code", "company_type", "business_scope",
                                        "address", "legal_rep_name"}  # not the legal rep's ID or phone
    assert api.as_user("hrss_approver").get(f"/api/v1/tasks/{tax_task['id']}").status_code == 403


def test_the_checklist_lists_only_the_matters_the_applicant_chose(api, clerk):
    everything = {m["code"] for m in clerk.get(f"/api/v1/cases/{start(clerk)['case_no']}/materials").body}
    licence_only = start(clerk, {"need_seal": False, "need_bank_account": False, "need_tax_ukey": False,
                                 "need_social_insurance": False, "need_housing_fund": False})["case_no"]
    chosen = {m["code"] for m in clerk.get(f"/api/v1/cases/{licence_only}/materials").body}
    assert "M010" in everything and "M010" not in chosen  # 营业执照 is asked only for seals and the bank
    assert chosen == set(REQUIRED)


def test_a_missing_material_gets_the_catalogs_supplement_deadline():
    """容缺: the diagram's timer counts the shortest supplement_workdays of the missing materials
    (processes/README.md), not the default, at the window as in a scenario run."""
    from app.services import intake
    catalog = {"intake_task": "task_intake", "matters": [
        {"code": "A", "name": "甲", "materials": [
            {"code": "M1", "name": "住所证明", "deficiency_allowed": True, "supplement_workdays": 12},
            {"code": "M2", "name": "章程", "deficiency_allowed": True}]},
        {"code": "B", "name": "乙", "materials": [  # listed later and shorter: the shortest wins, not the first
            {"code": "M1", "name": "住所证明", "deficiency_allowed": True, "supplement_workdays": 8}]}]}
    decision = {"intake_result": "deficiency", "commitment_signed": True}
    facts = intake.decide(catalog, "task_intake", {**decision, "deficiency_materials": ["M1"]})
    assert facts["deficiency_workdays"] == 8
    facts = intake.decide(catalog, "task_intake", {**decision, "deficiency_materials": ["M2"]})
    assert facts["deficiency_workdays"] == intake.DEFAULT_SUPPLEMENT_WORKDAYS
    facts = intake.decide(catalog, "task_intake", {**decision, "deficiency_materials": ["M1", "M2"]})
    assert facts["deficiency_workdays"] == intake.DEFAULT_SUPPLEMENT_WORKDAYS  # an unset one counts as the default


def test_a_matter_that_does_not_apply_to_the_case_does_not_decide_its_deficiency():
    """Only the matters the case needs (applies_when) count, as on its checklist: 公章刻制 not asked
    for neither forbids 容缺 of a material it shares nor shortens its deadline."""
    from app.services import intake
    catalog = {"intake_task": "task_intake", "matters": [
        {"code": "A", "name": "设立登记", "materials": [
            {"code": "M1", "name": "住所证明", "deficiency_allowed": True, "supplement_workdays": 12}]},
        {"code": "S", "name": "公章刻制", "applies_when": "need_seal", "materials": [
            {"code": "M1", "name": "住所证明", "deficiency_allowed": True, "supplement_workdays": 2},
            {"code": "M9", "name": "印模", "deficiency_allowed": False}]}]}
    decision = {"intake_result": "deficiency", "commitment_signed": True, "deficiency_materials": ["M1"]}
    assert intake.decide(catalog, "task_intake", decision, case_data={"need_seal": False})["deficiency_workdays"] == 12
    assert intake.decide(catalog, "task_intake", decision, case_data={"need_seal": True})["deficiency_workdays"] == 2
    with pytest.raises(InvalidInput) as refused:  # not needed by this case: not a material of it at all
        intake.decide(catalog, "task_intake", {**decision, "deficiency_materials": ["M9"]},
                      case_data={"need_seal": False})
    assert "事项目录中没有材料" in refused.value.message
