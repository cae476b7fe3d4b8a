"""The incidents page: analysts see the stuck case with its error and retry or skip it; managers only look."""
from __future__ import annotations

import html

from ..api.test_incidents import _stuck_case, manual_clock  # noqa: F401 (a fixture)
from ..services.test_migration import case_body, snapshot


def test_an_analyst_retries_then_skips_from_the_page(api, app, browser_for, manual_clock):
    case_no, incident_id = _stuck_case(api, app, manual_clock)
    web = browser_for("analyst")
    text = html.unescape(web.text(web.get("/incidents")))
    assert case_no in text and "script_bad" in text and "计算罚则" in text and "定时" in text
    assert "出错的元素（脚本、服务任务或定时）不执行" in text  # what skip does is explained
    before = snapshot(case_no)
    resp = web.post(f"/incidents/{incident_id}/retry")
    assert resp.status_code == 409 and "重试后仍然失败" in html.unescape(web.text(resp))
    assert snapshot(case_no) == before
    resp = web.post(f"/incidents/{incident_id}/skip")
    assert resp.status_code == 302
    page = html.unescape(web.text(web.get("/incidents")))
    assert "已跳过出错的步骤" in page and "没有待处理的故障" in page and "最近处理的故障" in page
    assert {t["element_id"]: t["state"] for t in case_body(api, case_no)["tasks"]}["task_after"] == "ready"


def test_a_manager_sees_the_list_without_actions(api, app, browser_for, manual_clock):
    case_no, incident_id = _stuck_case(api, app, manual_clock)
    web = browser_for("manager")
    text = web.text(web.get("/incidents"))
    assert case_no in text and f"/incidents/{incident_id}/retry" not in text
    assert web.post(f"/incidents/{incident_id}/skip").status_code == 403
    assert browser_for("tax_approver").get("/incidents").status_code == 403
    assert snapshot(case_no)["status"] == "running"
