"""企业开办一件事 end to end through the API, with the applicant's choice of matters."""
import pytest

from .helpers import WORKER, ready

APPLY = {
    "company_name": "鹤壁市示例科技有限公司", "company_type": "llc", "registered_capital": 100,
    "address": "鹤壁市淇滨区示例路 1 号", "business_scope": "软件开发；信息技术咨询服务",
    "legal_rep_name": "王五", "legal_rep_id_number": "41060219900101123X", "legal_rep_phone": "13912345678",
    "employee_count": 8,
}
APPLICANT = {"name": "王五", "id_number": "41060219900101123X", "phone": "13912345678"}
TASK_DATA = {
    "task_intake": {"materials_complete": True},
    "task_register": {"credit_code": "91410600MA9XXXXX1Y"},
    "task_seal": {"seal_count": 4},
    "task_bank": {"bank_name": "中国工商银行鹤壁分行", "bank_account_no": "1706020109200123456"},
    "task_tax": {"tax_ukey_issued": True, "invoice_quota": 25},
    "task_social_insurance": {"social_insurance_no": "SB4106000001"},
    "task_housing_fund": {"housing_fund_account": "GJJ4106000001"},
    "task_issue": {"delivery_method": "post", "tracking_no": "SF1234567890"},
}
ALL = dict(need_seal=True, need_bank_account=True, need_tax_ukey=True, need_social_insurance=True,
           need_housing_fund=True)


def run_case(api, choices):
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": APPLICANT,
                                             "data": {**APPLY, **choices}})
    assert resp.status_code == 201, resp.body
    case_no, done = resp.body["case_no"], []
    workers = {}
    while True:
        case = clerk.get(f"/api/v1/cases/{case_no}").body
        tasks = ready(case)
        if not tasks:
            return case, done
        for task in tasks:
            dept = task["department"]
            workers.setdefault(dept, api.as_user(WORKER[dept]))
            resp = workers[dept].post(f"/api/v1/tasks/{task['id']}/complete",
                                      json={"data": TASK_DATA[task["element_id"]]})
            assert resp.status_code == 200, resp.body
            done.append(task["element_id"])


def test_all_six_matters(api):
    case, done = run_case(api, ALL)
    assert case["status"] == "completed" and case["service_name"] == "企业开办一件事"
    assert sorted(done) == sorted(TASK_DATA)
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
    assert set(done) == set(TASK_DATA) - {"task_housing_fund"}


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
