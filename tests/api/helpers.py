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
          "银行": "bank_approver", "住建局": "housing_approver", "不动产登记中心": "realestate_approver",
          "供水公司": "water_supply_approver", "供电公司": "power_approver", "燃气公司": "gas_approver",
          "广电网络": "catv_approver", "自然资源局": "nr_approver", "发改委": "ndrc_approver",
          "消防救援大队": "fire_approver", "人防办": "civil_defense_approver", "城建档案馆": "archives_approver",
          "质监站": "quality_approver", "规划局": "planning_approver", "生态环境局": "eco_approver",
          "水务局": "water_approver", "城管局": "urban_approver"}


def deploy(api: ApiClient, xml: str | bytes, filename="p.bpmn", user="analyst"):
    analyst = api.as_user(user)
    data = xml.encode() if isinstance(xml, str) else xml
    return analyst.post("/api/v1/processes", data={"file": (io.BytesIO(data), filename)},
                        content_type="multipart/form-data") if api.client else \
        analyst.request("POST", "/api/v1/processes", files={"file": (filename, data)})


def ready(case: dict, element_id: str | None = None) -> list[dict]:
    return [t for t in case["tasks"] if t["state"] == "ready" and (element_id is None or t.get("element_id") == element_id)]
