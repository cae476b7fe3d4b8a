"""A whole 企业开办 case through the UI only, in Chromium against run.py: the clerk takes the application
at /desk/ (applicant, the 一表申请, the materials, 受理), every department's approver opens the task from
their inbox and completes it, the clerk does 统一出件, and the applicant rates it on the portal with the
case number and query code. No API call drives the case; every page must be free of console errors.
Screenshots of each main page go to test-artifacts/screenshots/ (whole-*.png)."""
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from ..conftest import DEMO_PASSWORD, LiveServer

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
APPLICANT = {"#applicant-name": "赵六", "#applicant-id_number": "410602198805051236",
             "#applicant-phone": "13700001111"}
APPLY = {"企业名称": "鹤壁市并联示范科技有限公司", "注册资本（万元）": "50", "住所": "鹤壁市淇滨区九州路 8 号",
         "经营范围": "软件开发；技术服务", "法定代表人姓名": "赵六", "法定代表人身份证号": "410602198805051236",
         "法定代表人手机号": "13700001111", "从业人数": "5", "需要刻制印章": True, "需要银行开户": True,
         "需要申领发票及税务UKey": True, "需要社保登记": True, "需要公积金缴存登记": True}
MATERIALS = ("M001", "M002", "M003", "M004")
# element (task name on the inbox) -> (department's approver, the form as labels -> values)
DEPARTMENTS = [
    ("设立登记", "amr_approver", {"准予登记": True, "统一社会信用代码": "91410600MA9BL0001X"}),
    ("公章刻制", "police_approver", {"印章枚数": "4"}),
    ("申领发票及税务UKey", "tax_approver", {"已发放税务UKey": True, "发票领用份数": "25"}),
    ("社保登记", "hrss_approver", {"社保登记号": "SB4106009001"}),
    ("公积金缴存登记", "hpf_approver", {"公积金单位账号": "GJJ4106009001"}),
    ("银行开户", "bank_approver", {"开户银行": "中国工商银行鹤壁分行", "账号": "1706020109200999888"}),
]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """As conftest's, but patient: on a loaded machine seeding the demo data can take over 30 s."""
    folder = tmp_path_factory.mktemp("whole")
    server = LiveServer(f"sqlite:///{folder / 'demo.db'}", folder,
                        {"APP_DEMO": "1", "APP_DEMO_PASSWORD": DEMO_PASSWORD, "APP_SCHEDULER": "0",
                         "APP_WORKERS": "auto"})
    try:
        server.start()
    except RuntimeError:
        if server.proc is None or server.proc.poll() is not None:
            raise  # it exited: a real failure
        _wait_healthy(server, 120)  # still seeding: wait longer for the same process
    yield server
    server.stop()


def _wait_healthy(server, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server did not start")


def fill(page, container: str, values: dict):
    """Fill a form-js form by its labels: text and numbers typed, checkboxes and radios ticked."""
    form = page.locator(container)
    for label, value in values.items():
        field = form.get_by_label(re.compile(r"^\s*" + re.escape(label) + r"\s*\*?\s*$"))
        if value is True:
            field.check()
        else:
            field.fill(value)
            field.blur()  # form-js takes typed text in after a short debounce
            page.wait_for_timeout(400)
    for label, value in values.items():  # nothing typed got lost
        if value is not True:
            expect(form.get_by_label(re.compile(r"^\s*" + re.escape(label) + r"\s*\*?\s*$"))).to_have_value(value)


def choose(page, container: str, label: str, option: str):
    """A form-js select: open the field's list and pick the option."""
    field = page.locator(container).locator(".fjs-form-field-select", has_text=label)
    field.locator(".fjs-input-group").click()
    field.locator(".fjs-dropdownlist-item", has_text=option).click()


def _wait_for(session, url):
    """The JSON submit moves on to ``url``; if it does not, fail with what the page said."""
    try:
        session.page.wait_for_url(url, timeout=30000)
    except Exception:
        session.shot("whole-failed")
        problems = session.page.locator(".form-result, .fjs-form-field-error").all_inner_texts()
        raise AssertionError(f"not submitted: {problems}") from None


def submit_task(session, button: str = "提交并办结"):
    page = session.page
    page.get_by_role("button", name=button).click()
    _wait_for(session, re.compile(r"/inbox/"))
    page.wait_for_load_state("networkidle")
    assert "任务已办结" in page.inner_text("main")


def open_task_from_inbox(session, case_no: str, task_name: str, shot: str | None = None):
    page = session.open("/inbox/")
    if shot:
        session.shot(shot)
    row = page.locator("tr", has_text=case_no).filter(has_text=task_name)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=task_name).click()
    page.wait_for_selector(".fjs-container input", timeout=20000)
    return page


def take_the_application(clerk) -> tuple[str, str]:
    """/desk/: the applicant, the 一表申请, the materials, then 受理 on the intake task. Returns (case no, code)."""
    page = clerk.open("/desk/")
    clerk.shot("whole-desk")
    page.get_by_role("link", name="新建办件：企业开办一件事").click()
    page.wait_for_load_state("networkidle")
    for selector, value in APPLICANT.items():
        page.fill(selector, value)
    page.get_by_role("button", name="下一步：填写一表申请").click()
    page.wait_for_selector("#apply-form .fjs-container input", timeout=20000)
    choose(page, "#apply-form", "企业类型", "有限责任公司")
    fill(page, "#apply-form", APPLY)
    clerk.shot("whole-desk-apply-form")
    page.get_by_role("button", name="提交申请并收件登记").click()
    _wait_for(clerk, re.compile(r"/cases/\d+"))
    page.wait_for_load_state("networkidle")
    case_no = page.url.rstrip("/").rsplit("/", 1)[1].split("#")[0]
    code = page.locator("dt:text-is('查询码') + dd strong").inner_text().strip()
    for material in MATERIALS:
        page.set_input_files(f"#file-{material}", files=[{"name": f"{material}.pdf", "mimeType": "application/pdf",
                                                          "buffer": PDF + material.encode()}])
        page.locator("form.upload", has=page.locator(f"#file-{material}")).locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert "已上传" in page.inner_text("main")
    clerk.shot("whole-case-materials")
    page.get_by_role("link", name="去办理：综合窗口受理审查").click()
    page.wait_for_selector(".fjs-container input", timeout=20000)
    fill(page, "#task-form", {"材料齐全，予以受理": True})
    clerk.shot("whole-task-intake")
    submit_task(clerk)
    return case_no, code


def ask_another_department_first(tab, approver, task_name: str, task_url: str):
    """前加签: 税务局 claims the task and asks 人社局 first; 人社局 agrees from its 加签待办; back to 税务局."""
    page = approver.page
    page.get_by_role("button", name="认领", exact=True).click()
    page.wait_for_load_state("networkidle")
    page.select_option("#sign-users", label="人社局 · 人社局审批人员")
    page.fill("#sign-note", "请人社局确认参保人数")
    page.get_by_role("button", name="前加签", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert "正在前加签中" in page.inner_text("main") and "提交并办结" not in page.inner_text("main")
    approver.shot("whole-task-sign-before")

    signer = tab()
    signer.sign_in("hrss_approver")
    page = signer.open("/tasks/signs")
    assert "请人社局确认参保人数" in page.inner_text("main")
    signer.shot("whole-signs-inbox")
    page.get_by_role("link", name=task_name).click()
    page.wait_for_load_state("networkidle")
    page.get_by_label("同意", exact=True).check()
    page.fill("#sign-opinion", "参保人数与申报一致")
    page.get_by_role("button", name="提交加签意见").click()
    page.wait_for_load_state("networkidle")
    assert "没有等您审批的加签" in page.inner_text("main")

    page = approver.open(task_url)
    page.wait_for_selector(".fjs-container input", timeout=20000)
    assert "参保人数与申报一致" in page.inner_text("main")


def withdraw_and_redo(approver, task_url: str, values: dict):
    page = approver.open(task_url)
    page.once("dialog", lambda dialog: dialog.accept())  # data-confirm asks first
    page.fill("#withdraw-reason", "印章枚数需与申请人再确认")
    page.get_by_role("button", name="撤回办结").click()
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(".fjs-container input", timeout=20000)
    assert "已撤回" in page.inner_text("main")
    approver.shot("whole-task-withdrawn")
    fill(page, "#task-form", values)
    submit_task(approver)


def test_a_whole_business_startup_case_through_the_ui(tab):
    clerk = tab()
    clerk.sign_in("window_clerk")
    case_no, code = take_the_application(clerk)
    assert re.fullmatch(r"\d{6,}", case_no) and code

    for task_name, username, values in DEPARTMENTS:
        approver = tab()
        approver.sign_in(username)
        page = open_task_from_inbox(approver, case_no, task_name, "whole-inbox-amr" if username == "amr_approver"
                                    else None)
        task_url = page.url.removeprefix(approver.base_url)
        if username == "tax_approver":
            ask_another_department_first(tab, approver, task_name, task_url)
        fill(page, "#task-form", values)
        approver.shot(f"whole-task-{username}")
        submit_task(approver)
        if username == "police_approver":  # 撤回 while the bank has not started, then done again
            withdraw_and_redo(approver, task_url, values)
        assert case_no not in approver.open("/inbox/").inner_text("main")  # done: out of the inbox

    page = open_task_from_inbox(clerk, case_no, "统一出件")
    fill(page, "#task-form", {"窗口领取": True})
    clerk.shot("whole-task-issue")
    submit_task(clerk)
    page = clerk.open(f"/cases/{case_no}")
    page.wait_for_selector(".djs-container svg .djs-element", timeout=20000)
    text = page.inner_text("main")
    assert "已办结" in text and "营业执照" in text and "窗口领取" in text and "录入窗口评价" in text
    clerk.shot("whole-case-completed")

    applicant = tab()
    page = applicant.open("/portal/")
    page.fill("#case_no", case_no)
    page.fill("#query_code", code)
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state("networkidle")
    assert "好差评" in page.inner_text("main")
    page.get_by_label("非常满意").check()
    page.fill("#comment", "一窗办结，没有来回跑")
    applicant.shot("whole-portal-rating")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_load_state("networkidle")
    assert "您已评价：非常满意" in page.inner_text("main")
    applicant.shot("whole-portal-rated")

    page = clerk.open(f"/cases/{case_no}")
    assert "申请人评价：非常满意" in page.inner_text("main") and "网上评价" in page.inner_text("main")
