"""不动产登记一件事 end to end through the API: every variant, 登簿 only after the deed tax, linked utility transfers."""
import io
from datetime import datetime

import pytest

from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from .helpers import WORKER, ready
from .startup import pdf

APPLICANT = {"name": "李四", "id_number": "410602198805051234", "phone": "13700001111"}
APPLY = {"property_no": "410602001001GB00001F00010001", "property_address": "鹤壁市淇滨区华夏南路 8 号 3 幢 2 单元 501",
         "floor_area": 118.5, "price": 96, "buyer_name": "李四", "buyer_id_number": "410602198805051234",
         "seller_name": "赵六", "seller_id_number": "410602197001011111"}
TASK_DATA = {
    "task_intake": {"intake_result": "accept"},
    "task_contract_filing": {"contract_filing_no": "WQ2026120100001"},
    "task_tax": {"tax_amount": 14400, "tax_paid": True, "tax_voucher_no": "WS410600260000123"},
    "task_registration_review": {"review_result": "approve"},
    "task_mortgage": {"mortgage_contract_no": "DY2026-0001", "mortgage_confirmed": True},
    "task_register_entry": {"certificate_no": "豫（2026）鹤壁市不动产权第0012345号"},
    "task_fee": {"registration_fee": 80, "fee_paid": True},
    "task_issue": {"delivery_method": "window"},
    "task_water": {"new_account_no": "SW-001"}, "task_power": {"new_account_no": "DL-001"},
    "task_gas": {"new_account_no": "RQ-001"}, "task_catv": {"new_account_no": "GD-001"},
}
BASE = ("M101", "M102", "M103")


def _start(api, **choices):
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "property_registration", "applicant": APPLICANT,
                                             "data": {**APPLY, **choices}})
    assert resp.status_code == 201, resp.body
    case_no = resp.body["case_no"]
    for item in clerk.get(f"/api/v1/cases/{case_no}/materials").body:
        if item["required"] and item["status"] == "missing":
            up = clerk.post(f"/api/v1/cases/{case_no}/materials", content_type="multipart/form-data",
                            data={"code": item["code"], "file": (io.BytesIO(pdf(item["code"])), "m.pdf")})
            assert up.status_code == 201, up.body
    return clerk, case_no


def _complete(api, case_no, element_id, data=None):
    case = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body
    task = ready(case, element_id)
    assert task, (element_id, [(t["element_id"], t["state"]) for t in case["tasks"]])
    resp = api.as_user(WORKER[task[0]["department"]]).post(
        f"/api/v1/tasks/{task[0]['id']}/complete", json={"data": TASK_DATA[element_id] if data is None else data})
    assert resp.status_code == 200, (element_id, resp.body)
    return api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body


def _ready_ids(case):
    return {t["element_id"] for t in ready(case)}


@pytest.mark.parametrize("kind,parallel", [
    ("transfer", {"task_contract_filing", "task_tax", "task_registration_review"}),
    ("mortgage", {"task_registration_review", "task_mortgage"}),
    ("transfer_mortgage", {"task_contract_filing", "task_tax", "task_registration_review", "task_mortgage"}),
])
def test_each_variant_runs_its_departments_in_parallel_then_registers(api, kind, parallel):
    clerk, case_no = _start(api, registration_type=kind)
    case = _complete(api, case_no, "task_intake")
    assert _ready_ids(case) == parallel  # one window, the departments at once
    for element_id in sorted(parallel):
        case = _complete(api, case_no, element_id)
    for element_id in ("task_register_entry", "task_fee", "task_issue"):
        case = _complete(api, case_no, element_id)
    assert case["status"] == "completed" and case["end_event"] == "end_done"
    certs = clerk.get(f"/api/v1/cases/{case_no}/results").body["certificates"]
    types = sorted(c["type"] for c in certs)
    mortgage = kind != "transfer"
    assert types == (["mortgage_certificate", "real_estate_certificate"] if mortgage else ["real_estate_certificate"])
    assert all(c["status"] == "valid" for c in certs)


def test_register_entry_waits_for_the_deed_tax(api):
    _, case_no = _start(api, registration_type="transfer")
    _complete(api, case_no, "task_intake")
    _complete(api, case_no, "task_contract_filing")
    case = _complete(api, case_no, "task_registration_review")
    assert _ready_ids(case) == {"task_tax"}  # 登簿 is not offered while the tax is unpaid (契税法第十二条)
    unpaid = {"tax_amount": 14400, "tax_paid": False, "tax_voucher_no": "WS1"}
    tax = ready(case, "task_tax")[0]
    resp = api.as_user("tax_approver").post(f"/api/v1/tasks/{tax['id']}/complete", json={"data": unpaid})
    assert resp.status_code == 422 and "契税已缴清" in str(resp.body["errors"])
    case = _complete(api, case_no, "task_tax")
    assert _ready_ids(case) == {"task_register_entry"}


def test_linked_utility_transfers_run_in_parallel_after_the_certificate(api):
    _, case_no = _start(api, registration_type="transfer", transfer_water=True, transfer_power=True,
                        transfer_gas=True, transfer_catv=False)
    _complete(api, case_no, "task_intake")
    for element_id in ("task_contract_filing", "task_tax", "task_registration_review", "task_register_entry",
                       "task_fee"):
        case = _complete(api, case_no, element_id)
    assert _ready_ids(case) == {"task_issue"}
    case = _complete(api, case_no, "task_issue")
    assert _ready_ids(case) == {"task_water", "task_power", "task_gas"}
    assert {t["department"] for t in ready(case)} == {"供水公司", "供电公司", "燃气公司"}
    for element_id in ("task_water", "task_power", "task_gas"):
        case = _complete(api, case_no, element_id)
    assert case["status"] == "completed"


def test_refusal_by_the_registry_ends_the_case_with_a_decision(api):
    clerk, case_no = _start(api, registration_type="transfer")
    _complete(api, case_no, "task_intake")
    case = _complete(api, case_no, "task_registration_review",
                     {"review_result": "refuse", "refusal_reasons": "该不动产已被依法查封"})
    assert case["status"] == "terminated" and case["end_event"] == "end_refused"
    assert not ready(case)  # the other departments' open tasks are withdrawn
    notice = next(n for n in clerk.get(f"/api/v1/cases/{case_no}/notices").body if n["kind"] == "refusal")
    text = clerk.get(notice["url"]).get_data(as_text=True)
    assert "不予许可决定书" in text and "<li>该不动产已被依法查封</li>" in text


@pytest.fixture
def friday_before_national_day():
    clock.use(ManualClock(datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ)))
    yield
    clock.use(clock.SystemClock())


def test_the_promised_limit_is_one_working_day(api, friday_before_national_day):
    _, case_no = _start(api, registration_type="mortgage")
    case = _complete(api, case_no, "task_intake")
    # accepted Friday 26 Sep 2025: the next working day is Sunday 28 Sep, a make-up working day
    assert datetime.fromisoformat(case["deadline"]) == datetime(2025, 9, 28, 17, 0, tzinfo=LOCAL_TZ)
    assert datetime.fromisoformat(case["statutory_deadline"]).date().isoformat() == "2025-11-13"  # +30 working days (+20 is 30 Oct)
