"""Helpers shared by API tests."""
from __future__ import annotations

import io

from ..conftest import DATA, ApiClient

DEMO_XML = (DATA / "parallel_demo.bpmn").read_text().replace("SCRIPT_PLACEHOLDER", "checked = True") \
    .replace("CONDITION_PLACEHOLDER", "approved_a and checked")

APPLICANT = {"name": "张三", "id_number": "410602199001011234", "phone": "13800000000"}

# lane -> demo user working that department
WORKER = {"综合窗口": "window_clerk", "市场监管局": "amr_approver", "税务局": "tax_approver",
          "公安局": "police_approver", "人社局": "hrss_approver", "公积金中心": "hpf_approver",
          "银行": "bank_approver"}


def deploy(api: ApiClient, xml: str | bytes, filename="p.bpmn", user="analyst"):
    analyst = api.as_user(user)
    data = xml.encode() if isinstance(xml, str) else xml
    return analyst.post("/api/v1/processes", data={"file": (io.BytesIO(data), filename)},
                        content_type="multipart/form-data") if api.client else \
        analyst.request("POST", "/api/v1/processes", files={"file": (filename, data)})


def ready(case: dict, element_id: str | None = None) -> list[dict]:
    return [t for t in case["tasks"] if t["state"] == "ready" and (element_id is None or t.get("element_id") == element_id)]
