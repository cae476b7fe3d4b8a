"""The analyst's pages: modeler, versions with their diff, form and catalog editors, through the test client."""
import json
import re

import pytest

from ..services.test_drafts import deployed_xml, with_new_task

KEY = "business_startup"


@pytest.fixture
def database_url(sqlite_template, tmp_path):
    import shutil
    path = tmp_path / "web.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def csrf_of(web, path):
    page = web.text(web.get(path))
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def put(web, path, body, token):
    web._fresh_request()
    return web.client.put(path, json=body, headers={"X-CSRFToken": token, "Accept": "application/json"})


def post_json(web, path, body, token):
    web._fresh_request()
    return web.client.post(path, json=body, headers={"X-CSRFToken": token, "Accept": "application/json"})


def test_only_analysts_and_admins_open_the_modeler(browser_for):
    for username in ("window_clerk", "tax_approver", "manager"):
        assert browser_for(username).get(f"/processes/{KEY}/model").status_code == 403
    assert browser_for(None).get(f"/processes/{KEY}/model").status_code == 302
    page = browser_for("analyst").get(f"/processes/{KEY}/model")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "企业开办一件事" in text and "bpmn-modeler.production.min.js" in text
    assert "<script>" not in text and "onclick" not in text  # CSP: only our own files
    departments = json.loads(re.search(r'data-departments="([^"]+)"', text).group(1).replace("&#34;", '"'))
    assert {"code": "tax", "name": "税务局"} in departments
    listing = browser_for("analyst").text(browser_for("analyst").get("/processes"))
    assert f"/processes/{KEY}/model" in listing and f"/processes/{KEY}/versions" in listing


def test_saving_from_the_page_returns_problems_and_a_stale_save_is_refused(browser_for, app):
    web = browser_for("analyst")
    token = csrf_of(web, f"/processes/{KEY}/model")
    draft = web.client.get(f"/processes/{KEY}/draft.json").get_json()
    assert draft["saved"] is False and draft["revision"] == 0
    resp = put(web, f"/processes/{KEY}/draft/bpmn", {"xml": with_new_task(deployed_xml()), "revision": 0}, token)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["revision"] == 1 and [p["element_id"] for p in body["bpmn_problems"]] == ["task_tax_check"]
    stale = put(web, f"/processes/{KEY}/draft/bpmn", {"xml": deployed_xml(), "revision": 0}, token)
    assert stale.status_code == 409 and "修改" in stale.get_json()["message"]
    refused = post_json(web, f"/processes/{KEY}/draft/deploy", {"revision": 1}, token)
    assert refused.status_code == 422 and refused.get_json()["errors"]["bpmn"][0]["element_id"] == "task_tax_check"
    no_csrf = web.client.put(f"/processes/{KEY}/draft/bpmn", json={"xml": deployed_xml()},
                             headers={"Accept": "application/json"})
    assert no_csrf.status_code == 400
    fixed = put(web, f"/processes/{KEY}/draft/bpmn", {"xml": with_new_task(deployed_xml(), "business_startup_tax"),
                                                       "revision": 1}, token)
    assert fixed.get_json()["bpmn_problems"] == [] and fixed.get_json()["deployable"]
    deployed = post_json(web, f"/processes/{KEY}/draft/deploy", {"revision": 2}, token)
    assert deployed.status_code == 200 and deployed.get_json()["version"] == 2
    listing = web.text(web.get("/processes"))
    assert "v2" in listing and "已部署为第 2 版" in listing
    versions = web.text(web.get(f"/processes/{KEY}/versions?from=1&to=2"))
    assert "task_tax_check" in versions and "新增" in versions and "流程分析员" in versions
    assert "终点" in versions  # flow_tax now ends at the new task
    huge = web.get(f"/processes/{KEY}/versions?from=99999999999999999999&to=x")
    assert huge.status_code == 200 and "v1 → v2" in web.text(huge)  # out-of-range numbers: the newest two


def test_the_form_editor_opens_a_form_and_saves_it_into_the_draft(browser_for):
    web = browser_for("analyst")
    page = web.get(f"/processes/{KEY}/forms/business_startup_tax")
    text = web.text(page)
    assert page.status_code == 200 and "form-editor.umd.js" in text and "business_startup_tax" in text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', text).group(1)
    bad = put(web, f"/processes/{KEY}/draft/forms/business_startup_tax",
              {"schema": {"id": "business_startup_tax", "components": [{"type": "textfield", "key": "1bad"}]}}, token)
    assert bad.status_code == 422 and "英文标识符" in "".join(bad.get_json()["errors"])
    good = put(web, f"/processes/{KEY}/draft/forms/business_startup_tax",
               {"schema": {"id": "business_startup_tax", "type": "default",
                           "components": [{"type": "textfield", "key": "tax_note", "label": "意见"}]}}, token)
    assert good.status_code == 200 and "business_startup_tax" in good.get_json()["forms"]
    assert web.get(f"/processes/{KEY}/forms?form_id=bad id").status_code == 422
    assert web.get(f"/processes/{KEY}/forms?form_id=new_form").headers["Location"].endswith("/forms/new_form")


def test_the_catalog_editor_saves_tables_keeps_comments_and_reports_problems_in_chinese(browser_for):
    web = browser_for("analyst")
    page = web.get(f"/processes/{KEY}/catalog")
    text = web.text(page)
    assert page.status_code == 200 and "catalog_editor.js" in text and "公司设立登记" in text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', text).group(1)
    catalog = json.loads(re.search(r'data-catalog="([^"]+)"', text).group(1).replace("&#34;", '"')
                         .replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'"))
    register = catalog["matters"][0]
    register["materials"][0]["deficiency_allowed"] = True
    register["materials"][0]["primary"] = True  # a primary material may not be 容缺
    register["limits"]["promised"] = {"amount": 2, "unit": "workhour"}
    resp = put(web, f"/processes/{KEY}/draft/catalog", {"catalog": catalog}, token)
    body = resp.get_json()
    assert resp.status_code == 200 and len(body["catalog_problems"]) == 1
    assert "主要材料，不能容缺" in body["catalog_problems"][0] and body["catalog_problems"][0].startswith("第 ")
    del register["materials"][0]["primary"]
    resp = put(web, f"/processes/{KEY}/draft/catalog", {"catalog": catalog, "revision": body["revision"]}, token)
    assert resp.get_json()["catalog_problems"] == []
    assert "amount: 2, unit: workhour" in resp.get_json()["catalog_yaml"]
    assert "# 法定时限（行政许可法第四十二条）" in resp.get_json()["catalog_yaml"]  # the file's comments stay
    raw = put(web, f"/processes/{KEY}/draft/catalog", {"yaml": "service: [", "revision": 2}, token)
    assert raw.status_code == 200 and raw.get_json()["catalog_problems"][0].startswith("第 1 行")
    assert put(web, f"/processes/{KEY}/draft/catalog", {"nothing": 1}, token).status_code == 422


def test_the_authoring_pages_pass_the_accessibility_basics(browser_for):
    from .test_accessibility import Audit
    web = browser_for("analyst")
    for path in (f"/processes/{KEY}/model", f"/processes/{KEY}/versions", f"/processes/{KEY}/catalog",
                 f"/processes/{KEY}/forms/business_startup_tax", "/processes"):
        page = web.get(path)
        assert page.status_code == 200, path
        audit = Audit()
        audit.feed(web.text(page))
        assert audit.problems() == [], (path, audit.problems())
