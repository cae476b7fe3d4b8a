"""企业开办一件事 through the API: the application, the materials, and a driver for its tasks."""
from __future__ import annotations

import io

from .helpers import WORKER, ready

APPLY = {
    "company_name": "鹤壁市示例科技有限公司", "company_type": "llc", "registered_capital": 100,
    "address": "鹤壁市淇滨区示例路 1 号", "business_scope": "软件开发；信息技术咨询服务",
    "legal_rep_name": "王五", "legal_rep_id_number": "41060219900101123X", "legal_rep_phone": "13912345678",
    "employee_count": 8,
}
APPLICANT = {"name": "王五", "id_number": "41060219900101123X", "phone": "13912345678"}
ALL = dict(need_seal=True, need_bank_account=True, need_tax_ukey=True, need_social_insurance=True,
           need_housing_fund=True)
CREDIT_CODE = "91410600MA9XXXXX1Y"
TASK_DATA = {
    "task_intake": {"intake_result": "accept"},
    "task_register": {"credit_code": CREDIT_CODE},
    "task_seal": {"seal_count": 4},
    "task_bank": {"bank_name": "中国工商银行鹤壁分行", "bank_account_no": "1706020109200123456"},
    "task_tax": {"tax_ukey_issued": True, "invoice_quota": 25},
    "task_social_insurance": {"social_insurance_no": "SB4106000001"},
    "task_housing_fund": {"housing_fund_account": "GJJ4106000001"},
    "task_issue": {"delivery_method": "post", "tracking_no": "SF1234567890"},
    "task_post_check": {"post_check_result": "pass"},
}
REQUIRED = ("M001", "M002", "M003", "M004")  # the catalog's required materials
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(tag: str = "") -> bytes:
    return PDF + f"% {tag}\n".encode()


def start(clerk, choices=None, applicant=APPLICANT, apply=APPLY) -> dict:
    resp = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": applicant,
                                             "data": {**apply, **(ALL if choices is None else choices)}})
    assert resp.status_code == 201, resp.body
    return resp.body


def upload(clerk, case_no: str, code: str, content: bytes | None = None, filename: str = "材料.pdf"):
    content = pdf(f"{case_no}-{code}") if content is None else content
    data = {"code": code, "file": (io.BytesIO(content), filename)}
    if clerk.client is not None:
        return clerk.post(f"/api/v1/cases/{case_no}/materials", data=data, content_type="multipart/form-data")
    return clerk.request("POST", f"/api/v1/cases/{case_no}/materials", data={"code": code},
                         files={"file": (filename, content)})


def upload_all(clerk, case_no: str, codes=REQUIRED) -> None:
    for code in codes:
        resp = upload(clerk, case_no, code)
        assert resp.status_code == 201, resp.body


def task(case: dict, element_id: str) -> dict:
    found = ready(case, element_id)
    assert found, (element_id, [(t["element_id"], t["state"]) for t in case["tasks"]])
    return found[0]


def complete(api, case: dict, element_id: str, data: dict | None = None):
    """Complete the ready task ``element_id`` as a worker of its department; returns the response."""
    open_task = task(case, element_id)
    worker = api.as_user(WORKER[open_task["department"]])
    return worker.post(f"/api/v1/tasks/{open_task['id']}/complete",
                       json={"data": TASK_DATA.get(element_id, {}) if data is None else data})


def case_of(api, case_no: str) -> dict:
    return api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body


def run_back_office(api, case_no: str, skip=()) -> tuple[dict, list[str]]:
    """Complete every ready task (other than ``skip``) with TASK_DATA until none is left."""
    done: list[str] = []
    while True:
        case = case_of(api, case_no)
        tasks = [t for t in ready(case) if t["element_id"] not in skip]
        if not tasks:
            return case, done
        for open_task in tasks:
            resp = complete(api, case, open_task["element_id"])
            assert resp.status_code == 200, (open_task["element_id"], resp.body)
            done.append(open_task["element_id"])
            case = case_of(api, case_no)
