"""The authoring API (on SQLite and PostgreSQL): a draft's diagram, forms and catalog, its deployment, and the
diff between versions."""
from config import BASE_DIR

from ..services.test_drafts import with_new_task

KEY = "business_startup"
BASE = f"/api/v1/processes/{KEY}"
XML = (BASE_DIR / "processes" / f"{KEY}.bpmn").read_text(encoding="utf-8")
CATALOG = (BASE_DIR / "processes" / f"{KEY}.yaml").read_text(encoding="utf-8")
TAX_CHECK_FORM = {"id": "business_startup_tax_check", "type": "default",
                  "components": [{"type": "textfield", "key": "tax_note", "label": "预审意见",
                                  "validate": {"required": True}}]}


def test_a_draft_round_trip_from_problems_to_version_2(api):
    analyst = api.as_user("analyst")
    draft = analyst.get(f"{BASE}/draft").body
    assert draft["saved"] is False and draft["base_version"] == 1 and draft["deployable"] is True
    assert draft["bpmn_xml"] == XML and "410600-AMR-001" in draft["catalog_yaml"]

    saved = analyst.request("PUT", f"{BASE}/draft/bpmn", json={"xml": with_new_task(XML, TAX_CHECK_FORM["id"])})
    assert saved.status_code == 200, saved.body
    assert saved.body["revision"] == 1 and saved.body["deployable"] is False
    assert saved.body["bpmn_problems"] == [{"element_id": "task_tax_check",
                                            "message": "表单“business_startup_tax_check”不存在"}]
    assert analyst.post(f"{BASE}/draft/deploy", json={}).status_code == 422

    formed = analyst.request("PUT", f"{BASE}/draft/forms/{TAX_CHECK_FORM['id']}",
                             json={"schema": TAX_CHECK_FORM, "revision": 1})
    assert formed.status_code == 200 and formed.body["bpmn_problems"] == [] and formed.body["revision"] == 2

    cataloged = analyst.request("PUT", f"{BASE}/draft/catalog",
                                json={"yaml": CATALOG.replace("task: task_tax\n", "task: task_tax_check\n")})
    assert cataloged.status_code == 200 and cataloged.body["catalog_problems"] == []

    deployed = analyst.post(f"{BASE}/draft/deploy", json={"revision": 3})
    assert deployed.status_code == 201, deployed.body
    assert deployed.body["version"] == 2 and deployed.body["process_key"] == KEY
    assert "task_tax_check" in {t["element_id"] for t in deployed.body["user_tasks"]}
    versions = analyst.get(f"/api/v1/processes/{KEY}/versions").body
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["deployed_by_id"] is not None
    assert analyst.get(f"{BASE}/draft").body["base_version"] == 2  # the draft ended with the deploy

    diff = analyst.get(f"{BASE}/diff?from=1&to=2")
    assert diff.status_code == 200 and diff.body["from"] == 1 and diff.body["to"] == 2
    assert {c["element_id"] for c in diff.body["added"]} == {"task_tax_check", "flow_tax_check"}
    added = next(c for c in diff.body["added"] if c["element_id"] == "task_tax_check")
    assert added["kind"] == "userTask" and added["name"] == "税务预审"
    flow = next(c for c in diff.body["changed"] if c["element_id"] == "flow_tax")
    assert flow["fields"] == [{"field": "target", "before": "task_tax", "after": "task_tax_check"}]


def test_a_new_case_runs_on_the_deployed_draft(api):
    analyst = api.as_user("analyst")
    analyst.request("PUT", f"{BASE}/draft/bpmn", json={"xml": XML.replace('name="统一出件"', 'name="统一出件（新）"')})
    assert analyst.post(f"{BASE}/draft/deploy", json={}).status_code == 201
    from .startup import APPLY
    from .helpers import APPLICANT
    case = api.as_user("window_clerk").post("/api/v1/cases", json={"process_key": KEY, "applicant": APPLICANT,
                                                                   "data": APPLY})
    assert case.status_code == 201, case.body
    assert case.body["process_version"] == 2


def test_bad_input_is_refused_in_chinese_and_changes_nothing(api):
    analyst = api.as_user("analyst")
    missing = analyst.request("PUT", f"{BASE}/draft/bpmn", json={})
    assert missing.status_code == 422 and "xml" in str(missing.body)
    empty = analyst.request("PUT", f"{BASE}/draft/bpmn", json={"xml": "  "})
    assert empty.status_code == 422 and empty.body["message"] == "流程图为空"
    bad_form = analyst.request("PUT", f"{BASE}/draft/forms/x1", json={"schema": {"id": "x2", "components": []}})
    assert bad_form.status_code == 422 and "x1" in bad_form.body["errors"][0]
    assert analyst.get(f"{BASE}/draft").body["saved"] is False  # none of these stored a draft
    assert analyst.get("/api/v1/processes/no_such/draft").status_code == 404
    assert analyst.post(f"{BASE}/draft/deploy", json={}).status_code == 409  # nothing saved yet
    assert analyst.get(f"{BASE}/diff?from=1&to=1").status_code == 422
    assert analyst.get(f"{BASE}/diff?from=1&to=9").status_code == 404
    assert analyst.get(f"{BASE}/diff?from=x&to=1").status_code == 422
    stale = analyst.request("PUT", f"{BASE}/draft/bpmn", json={"xml": XML, "revision": 5})
    assert stale.status_code == 409


def test_discarding_a_draft_brings_back_the_deployed_version(api):
    analyst = api.as_user("analyst")
    analyst.request("PUT", f"{BASE}/draft/bpmn", json={"xml": "<broken"})
    kept = analyst.get(f"{BASE}/draft").body
    assert kept["saved"] and kept["bpmn_xml"] == "<broken" and "XML" in kept["bpmn_problems"][0]["message"]
    assert analyst.request("DELETE", f"{BASE}/draft").status_code == 204
    assert analyst.get(f"{BASE}/draft").body["bpmn_xml"] == XML
    assert analyst.request("DELETE", f"{BASE}/draft").status_code == 404
