"""企业开办一件事 end to end through the API, with the applicant's choice of matters."""
import pytest

from .startup import ALL, APPLICANT, APPLY, TASK_DATA, run_back_office, start, upload_all

def run_case(api, choices):
    clerk = api.as_user("window_clerk")
    case_no = start(clerk, choices)["case_no"]
    upload_all(clerk, case_no)
    return run_back_office(api, case_no)


def test_all_six_matters(api):
    case, done = run_case(api, ALL)
    assert case["status"] == "completed" and case["service_name"] == "企业开办一件事"
    assert sorted(done) == sorted(set(TASK_DATA) - {"task_post_check"})
    assert done.index("task_seal") < done.index("task_bank")  # the bank needs the seals
    assert done[0] == "task_intake" and done[1] == "task_register" and done[-1] == "task_issue"
    assert case["data"]["credit_code"] == "91410600MA9XXXXX1Y"
    assert case["case_no"].startswith("410600") and len(case["case_no"]) == 20


def test_skipping_housing_fund_still_completes(api):
    case, done = run_case(api, {**ALL, "need_housing_fund": False})
    assert case["status"] == "completed" and "task_housing_fund" not in done
    assert not any(t["element_id"] == "task_housing_fund" for t in case["tasks"])


def test_defaults_from_the_form_apply(api):
    # the apply form defaults: every matter except the housing fund
    case, done = run_case(api, {})
    assert case["status"] == "completed"
    assert set(done) == set(TASK_DATA) - {"task_housing_fund", "task_post_check"}


def test_only_the_licence(api):
    case, done = run_case(api, {k: False for k in ALL})
    assert done == ["task_intake", "task_register", "task_issue"]


@pytest.mark.parametrize("bad,field", [({"legal_rep_id_number": "123"}, "legal_rep_id_number"),
                                       ({"company_type": "ngo"}, "company_type"),
                                       ({"company_name": ""}, "company_name")])
def test_invalid_application_is_refused_with_field_names(api, bad, field):
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": APPLICANT,
                                             "data": {**APPLY, **bad}})
    assert resp.status_code == 422 and field in resp.body["errors"]
    assert clerk.get("/api/v1/cases").body == []


def test_personal_data_is_masked_for_approvers_but_not_for_the_front_desk(api):
    case, _ = run_case(api, {k: False for k in ALL})
    no = case["case_no"]
    assert api.as_user("window_clerk").get(f"/api/v1/cases/{no}").body["applicant"]["id_number"] == APPLICANT["id_number"]
    seen = api.as_user("amr_approver").get(f"/api/v1/cases/{no}").body["applicant"]
    assert seen == {"name": "王五", "id_number": "4106**********123X", "phone": "139****5678"}
    manager = api.as_user("manager").get(f"/api/v1/cases/{no}").body["applicant"]
    assert manager["id_number"] != APPLICANT["id_number"]
    approver = api.as_user("amr_approver")
    data = approver.get(f"/api/v1/cases/{no}").body["data"]
    assert data["legal_rep_id_number"] == "4106**********123X" and data["legal_rep_phone"] == "139****5678"
    history = str(approver.get(f"/api/v1/cases/{no}/history").body)
    assert APPLY["legal_rep_id_number"] not in history and APPLY["legal_rep_phone"] not in history
    assert APPLY["legal_rep_id_number"] in str(api.as_user("window_clerk").get(f"/api/v1/cases/{no}/history").body)
