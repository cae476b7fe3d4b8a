"""The workspaces with real data, in Chromium against run.py: the front desk, a department's inbox and task,
the case page with its diagram, the applicant portal supplying a 容缺 material, the manager's dashboard.
Cases are set up through the API of the same server; every page is opened in the browser and must show
its data without a console error. Screenshots go to test-artifacts/screenshots/."""
import pytest
import requests

from ..conftest import DEMO_PASSWORD

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
APPLY = {"company_name": "鹤壁市示例科技有限公司", "company_type": "llc", "registered_capital": 100,
         "address": "鹤壁市淇滨区示例路 1 号", "business_scope": "软件开发", "legal_rep_name": "王五",
         "legal_rep_id_number": "41060219900101123X", "legal_rep_phone": "13912345678", "employee_count": 8}
APPLICANT = {"name": "王五", "id_number": "41060219900101123X", "phone": "13912345678"}


class Api:
    def __init__(self, base, username):
        self.base = base
        token = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD},
                              timeout=10).json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path):
        return requests.get(self.base + path, headers=self.headers, timeout=10).json()

    def post(self, path, **kw):
        resp = requests.post(self.base + path, headers=self.headers, timeout=20, **kw)
        assert resp.status_code < 400, resp.text
        return resp.json()


@pytest.fixture(scope="module")
def deficiency_case(demo_server):
    """A 企业开办 case accepted with 住所使用证明 missing (容缺), registered by 市场监管局."""
    clerk = Api(demo_server.url, "window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": APPLICANT, "data": APPLY})
    for code in ("M001", "M002", "M003"):
        clerk.post(f"/api/v1/cases/{case['case_no']}/materials", data={"code": code},
                   files={"file": (f"{code}.pdf", PDF + code.encode())})
    intake = next(t for t in case["tasks"] if t["element_id"] == "task_intake")
    clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {
        "intake_result": "deficiency", "deficiency_materials": ["M004"], "commitment_signed": True}})
    return clerk.get(f"/api/v1/cases/{case['case_no']}")


def _ready(case, element_id):
    return next(t for t in case["tasks"] if t["element_id"] == element_id and t["state"] == "ready")


def test_front_desk_pages_show_the_service_and_the_case_with_its_diagram(tab, deficiency_case):
    clerk = tab()
    clerk.sign_in("window_clerk")
    page = clerk.open("/desk/new/business_startup")
    assert "申请人" in page.inner_text("main")
    clerk.shot("desk-new-case")
    page = clerk.open(f"/cases/{deficiency_case['case_no']}")
    page.wait_for_selector(".djs-container svg .djs-element", timeout=15000)  # bpmn-js drew the diagram
    assert page.locator(".djs-element.done").count() > 0 and page.locator(".djs-element.active").count() > 0
    text = page.inner_text("main")
    assert deficiency_case["case_no"] in text and "住所使用证明" in text and deficiency_case["query_code"] in text
    clerk.shot("case-page")


def test_a_department_works_its_task_and_another_department_cannot_open_it(tab, deficiency_case):
    register = _ready(deficiency_case, "task_register")
    amr = tab()
    amr.sign_in("amr_approver")
    page = amr.open("/inbox/")
    assert deficiency_case["case_no"] in page.inner_text("main")
    amr.shot("inbox-amr")
    page = amr.open(f"/tasks/{register['id']}")
    page.wait_for_selector(".fjs-container input", timeout=15000)  # form-js drew the form
    assert "设立登记" in page.inner_text("main")
    amr.shot("task-register")

    tax = tab()
    tax.sign_in("tax_approver")
    page = tax.open(f"/tasks/{register['id']}")
    assert "无权" in page.inner_text("main") or "不属于" in page.inner_text("main")
    assert deficiency_case["applicant"]["name"] not in page.inner_text("main")
    tax.problems = [p for p in tax.problems if "403" not in p]  # the refusal itself is a 403 response
    tax.shot("task-refused-other-department")


def test_the_applicant_supplies_the_missing_material_from_the_portal(tab, deficiency_case, demo_server):
    applicant = tab()
    page = applicant.open("/portal/")
    page.fill("#case_no", deficiency_case["case_no"])
    page.fill("#query_code", deficiency_case["query_code"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("main")
    assert "住所使用证明" in text and "41060219900101123X" not in text  # the ID number is masked
    applicant.shot("portal-waiting-for-material")
    page.select_option("#code", "M004")
    page.set_input_files("#file", files=[{"name": "住所使用证明.pdf", "mimeType": "application/pdf",
                                          "buffer": PDF + b"M004"}])
    page.click('button:text-is("上传")')
    page.wait_for_load_state("networkidle")
    assert "住所使用证明（已提交" in page.inner_text("main")  # the checklist now has it
    page.click('button:text-is("提交补正材料")')
    page.wait_for_load_state("networkidle")
    clerk = Api(demo_server.url, "window_clerk")
    case = clerk.get(f"/api/v1/cases/{deficiency_case['case_no']}")
    assert "deficiency_supplied" not in case["waiting_messages"]  # the 容缺 branch has what it waited for
    applicant.shot("portal-supplied")


def test_the_manager_sees_the_dashboard(tab, deficiency_case):
    manager = tab()
    manager.sign_in("manager")
    page = manager.open("/dashboard")
    page.wait_for_selector("canvas", timeout=15000)  # ECharts drew
    assert "企业开办" in page.inner_text("main")
    manager.shot("dashboard")
