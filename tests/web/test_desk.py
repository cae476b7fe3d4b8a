"""综合窗口 pages: the applicant step, the 一表申请 with shared-data prefill, and the JSON submit."""
from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timezone

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, Certificate

from ..api.startup import ALL, APPLICANT, APPLY

NEW = "/desk/new/business_startup"
WANG = {"name": "王五", "id_number": "41060219900101123X", "phone": "13912345678"}


def case_count() -> int:
    db.session.rollback()  # read what the requests committed
    return db.session.execute(select(func.count()).select_from(Case)).scalar_one()


def submit(web, payload, process_key="business_startup", csrf=True, key=None):
    """The JSON post form.js makes: {"data": …} plus the applicant's hidden fields, CSRF in a header
    (and the form's Idempotency-Key, when given)."""
    web._fresh_request()
    headers = {"X-CSRFToken": web.csrf} if csrf else {}
    if key:
        headers["Idempotency-Key"] = key
    return web.client.post(f"/desk/new/{process_key}/submit", json=payload, headers=headers)


def new_case(web, applicant=WANG, data=None) -> str:
    """A case created through the desk pages, as the window does it; returns its case number."""
    web.get(NEW)
    assert web.post(NEW, applicant).status_code == 200
    resp = submit(web, {**applicant, "data": {**APPLY, **ALL} if data is None else data})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["case_no"]


def test_the_desk_links_each_service_to_a_new_case(browser_for):
    web = browser_for("window_clerk")
    text = web.text(web.get("/desk/"))
    assert f'href="{NEW}"' in text and "新建办件" in text and "企业开办一件事" in text
    assert 'href="/desk/new/property_registration"' in text
    step1 = web.get(NEW)
    page = web.text(step1)
    assert step1.status_code == 200 and "申请人信息" in page
    for field in ("name", "id_number", "phone"):
        assert f'<label for="applicant-{field}">' in page and f'id="applicant-{field}" name="{field}"' in page


def test_a_bad_id_number_is_refused_in_chinese_and_keeps_what_was_typed(browser_for):
    web = browser_for("window_clerk")
    web.get(NEW)
    resp = web.post(NEW, {"name": "王五", "id_number": "4106021990", "phone": "13912345678"})
    text = web.text(resp)
    assert resp.status_code == 422 and "证件号码应为 18 位居民身份证号码或 18 位统一社会信用代码" in text
    assert 'value="王五"' in text and 'value="4106021990"' in text and 'value="13912345678"' in text
    assert 'aria-invalid="true"' in text and 'role="alert"' in text
    assert "data-schema" not in text  # still on step 1
    resp = web.post(NEW, {"name": "", "id_number": "410602199013011234", "phone": "12-ab"})
    text = web.text(resp)
    assert resp.status_code == 422
    assert "请填写申请人姓名" in text and "出生日期无效" in text and "联系电话只能由数字组成" in text
    assert 'value="12-ab"' in text
    assert case_count() == 0


def test_a_good_applicant_opens_the_application_form(browser_for):
    web = browser_for("window_clerk")
    web.get(NEW)
    resp = web.post(NEW, {"name": " 王五 ", "id_number": "41060219900101123x", "phone": "139 1234 5678"})
    text = web.text(resp)
    assert resp.status_code == 200 and "一表申请" in text
    assert '<meta name="csrf-token"' in text and 'data-submit-url="/desk/new/business_startup/submit"' in text
    schema = json.loads(html.unescape(re.search(r"data-schema='([^']*)'", text).group(1)))
    assert schema["id"] == "business_startup_apply"
    # the applicant travels along, trimmed and upper-cased; no prefill for somebody new
    assert 'name="id_number" value="41060219900101123X"' in text and 'name="phone" value="13912345678"' in text
    assert 'name="name" value="王五"' in text
    assert "没有找到该申请人的以往办件或电子证照" in text
    assert "vendor/form-js/form-viewer.umd.js" in text and "<script>" not in text  # CSP: files only
    # a company applies with its unified social credit code
    assert web.post(NEW, {"name": "鹤壁示例公司", "id_number": "91410600MA9XXXXX1Y", "phone": "0392-3312345"}
                    ).status_code == 200


def test_a_missing_required_field_is_named_and_creates_no_case(browser_for):
    web = browser_for("window_clerk")
    web.get(NEW)
    data = {k: v for k, v in {**APPLY, **ALL}.items() if k != "company_name"}
    resp = submit(web, {**WANG, "data": data})
    body = resp.get_json()
    assert resp.status_code == 422 and "company_name" in body["errors"]
    assert "企业名称" in str(body["errors"]["company_name"]) and body["message"]
    resp = submit(web, {**WANG, "id_number": "123", "data": {**APPLY, **ALL}})
    assert resp.status_code == 422 and "id_number" in resp.get_json()["errors"]
    resp = submit(web, {**WANG, "data": {**APPLY, **ALL, "unknown_field": 1}})
    assert resp.status_code == 422 and "unknown_field" in resp.get_json()["errors"]
    assert submit(web, {**WANG, "data": {**APPLY, **ALL}}, csrf=False).status_code == 400
    assert case_count() == 0
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "case.started")).scalar_one() == 0


def test_a_good_submit_starts_the_case_and_opens_its_page(browser_for):
    web = browser_for("window_clerk")
    web.get(NEW)
    web.post(NEW, WANG)
    resp = submit(web, {**WANG, "csrf_token": "ignored", "data": {**APPLY, **ALL}})
    body = resp.get_json()
    assert resp.status_code == 200 and body["redirect"] == f"/cases/{body['case_no']}"
    assert body["case_no"].startswith("410600")
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == body["case_no"])).scalar_one()
    assert (case.applicant_name, case.applicant_id_number, case.applicant_phone) == (
        WANG["name"], WANG["id_number"], WANG["phone"])
    assert case.data["company_name"] == APPLY["company_name"] and case.created_by_id is not None
    page = web.get(body["redirect"])
    text = web.text(page)
    assert page.status_code == 200 and body["case_no"] in text and "已收件登记" in text and 'role="status"' in text


def test_sending_the_form_twice_starts_one_case(browser_for):
    """A double click or a retry after a lost answer: form.js sends the form's key on every try."""
    web = browser_for("window_clerk")
    web.get(NEW)
    keys = [re.search(r'data-idempotency-key="([0-9a-f]{32})"', web.text(web.post(NEW, WANG))).group(1)
            for _ in range(2)]
    assert keys[0] != keys[1]  # each form shown is its own request
    payload = {**WANG, "data": {**APPLY, **ALL}}
    first, again = submit(web, payload, key=keys[0]), submit(web, payload, key=keys[0])
    assert first.status_code == again.status_code == 200, (first.get_json(), again.get_json())
    assert again.get_json()["case_no"] == first.get_json()["case_no"] and case_count() == 1
    assert submit(web, payload, key=keys[1]).get_json()["case_no"] != first.get_json()["case_no"]
    assert case_count() == 2


def test_a_second_case_of_the_same_applicant_is_prefilled_with_its_source(browser_for):
    web = browser_for("window_clerk")
    first = new_case(web)
    web.get(NEW)
    text = web.text(web.post(NEW, WANG))
    values = json.loads(html.unescape(re.search(r"data-values='([^']*)'", text).group(1)))
    assert values["company_name"] == APPLY["company_name"] and values["address"] == APPLY["address"]
    assert "共享数据自动调用" in text and f"以往办件 {first}" in text
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text)
    assert ("企业名称", APPLY["company_name"], f"以往办件 {first}") in rows
    assert ("企业类型", "有限责任公司", f"以往办件 {first}") in rows  # option labels, not codes
    # somebody else's cases prefill nothing
    other = web.text(web.post(NEW, {**WANG, "id_number": "410602198507074321"}))
    assert "没有找到该申请人的以往办件或电子证照" in other and APPLY["company_name"] not in other


def test_an_e_licence_prefills_through_the_catalog_map(browser_for):
    now = datetime.now(timezone.utc)
    db.session.add(Certificate(type="business_licence", type_name="营业执照", number="91410600MA9CERT01X",
                               holder_name="鹤壁证照示例有限公司", holder_id="91410600MA9CERT01X",
                               owner_id_number=WANG["id_number"], issued_on=date(2025, 1, 2), status="valid",
                               created_at=now))
    db.session.commit()
    web = browser_for("window_clerk")
    web.get(NEW)
    text = web.text(web.post(NEW, WANG))
    assert "电子证照 营业执照 91410600MA9CERT01X" in text
    values = json.loads(html.unescape(re.search(r"data-values='([^']*)'", text).group(1)))
    assert values["company_name"] == "鹤壁证照示例有限公司"


def test_only_the_window_starts_cases(browser_for):
    from ..conftest import ADMIN_PASSWORD
    tax = browser_for("tax_approver")
    resp = tax.get(NEW)
    assert resp.status_code == 403 and "无权" in tax.text(resp)
    admin = browser_for("admin", ADMIN_PASSWORD)
    admin.get(NEW)
    text = admin.text(admin.post(NEW, WANG))
    assert "仅综合窗口工作人员可以提交申请" in text and "js-form-submit" not in text
    assert submit(admin, {**WANG, "data": {**APPLY, **ALL}}).status_code == 403
    missing = browser_for("window_clerk").get("/desk/new/no_such_service")
    assert missing.status_code == 404 and "不存在" in missing.get_data(as_text=True)
    called_only = browser_for("window_clerk").get("/desk/new/construction_stage_planning")
    assert called_only.status_code == 404
    assert case_count() == 0


def test_the_applicant_can_be_corrected_from_step_two(browser_for):
    web = browser_for("window_clerk")
    web.get(NEW)
    resp = web.post(NEW, {**WANG, "back": "1"})
    text = web.text(resp)
    assert resp.status_code == 200 and 'value="41060219900101123X"' in text and "data-schema" not in text
    assert APPLICANT["name"] in text
