"""The case page: the 企业开办 front-desk path through pages, materials, 补正, notices, diagram, access."""
from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import AuditEvent, Case, Material, User
from app.services import clock
from app.services.clock import LOCAL_TZ, ManualClock

from ..api.helpers import ready
from ..api.startup import REQUIRED, case_of, complete, pdf, start, upload_all
from .test_desk import WANG, new_case

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def upload(web, case_no, code, content, filename="材料.pdf"):
    return web.post(f"/cases/{case_no}/materials", {"code": code, "file": (io.BytesIO(content), filename)},
                    content_type="multipart/form-data")


def materials_of(case_no) -> list[Material]:
    db.session.rollback()
    case_id = db.session.execute(select(Case.id).where(Case.case_no == case_no)).scalar_one()
    return list(db.session.execute(select(Material).where(Material.case_id == case_id)).scalars())


def events_of(case_no) -> list[str]:
    db.session.rollback()
    case_id = db.session.execute(select(Case.id).where(Case.case_no == case_no)).scalar_one()
    return list(db.session.execute(select(AuditEvent.action).where(AuditEvent.case_id == case_id)
                                   .order_by(AuditEvent.id)).scalars())


def status_cells(text) -> dict[str, str]:
    """Material name -> the status shown in its row of the checklist."""
    found = {}
    for name, status in re.findall(r'<td>([^<]+) <span class="muted">M\d+</span>.*?<span class="status-\w+">([^<]+)</span>',
                                   text, re.S):
        found[name] = status
    return found


@pytest.fixture
def clerk(browser_for):
    web = browser_for("window_clerk")
    web.get("/desk/")
    return web


def stored_files(app) -> list[Path]:
    return sorted(p for p in Path(app.config["INSTANCE_DIR"]).rglob("*") if p.is_file() and "materials" in p.parts)


def test_the_front_desk_path_through_pages(app, api, clerk):
    case_no = new_case(clerk)
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    assert status_cells(page) == {"公司登记（备案）申请书": "缺", "公司章程": "缺", "法定代表人身份证明": "缺",
                                  "住所使用证明": "缺", "营业执照": "缺"}
    assert page.count('enctype="multipart/form-data"') == 5 and '<label for="file-M001">' in page

    # a disguised file (a Windows program named .pdf) is refused in Chinese and nothing is stored
    before = events_of(case_no)
    resp = upload(clerk, case_no, "M001", EXE, "申请书.pdf")
    text = clerk.text(resp)
    assert resp.status_code == 422 and "文件类型不符合要求" in text and 'role="alert"' in text
    assert status_cells(text)["公司登记（备案）申请书"] == "缺"
    resp = upload(clerk, case_no, "M001", PNG, "申请书.pdf")  # a real picture under a PDF name
    assert resp.status_code == 422 and "文件内容与扩展名不一致" in clerk.text(resp)
    resp = upload(clerk, case_no, "M001", pdf(), "../申请书.pdf")
    assert resp.status_code == 422 and "文件名不合法" in clerk.text(resp)
    assert materials_of(case_no) == [] and events_of(case_no) == before and stored_files(app) == []

    for code in REQUIRED:
        resp = upload(clerk, case_no, code, pdf(code), f"{code}.pdf")
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{case_no}#materials")
    assert len(stored_files(app)) == len(REQUIRED)
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    shown = status_cells(page)
    assert shown.pop("营业执照") == "缺" and set(shown.values()) == {"已上传 v1"} and "已上传“住所使用证明”第 1 版" in page
    link = re.search(rf'href="(/cases/{case_no}/materials/\d+)">v1 M002.pdf', page).group(1)
    resp = clerk.client.get(link)
    assert resp.status_code == 200 and resp.data == pdf("M002") and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment") and resp.headers["X-Content-Type-Options"] == "nosniff"

    # the window's completeness check asks for a correction (一次性告知), through the API
    resp = complete(api, case_of(api, case_no), "task_intake",
                    {"intake_result": "correct", "correction_items": "公司章程缺少全体股东签字"})
    assert resp.status_code == 200, resp.body
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    notice = re.search(rf'href="(/cases/{case_no}/notices/(\d+)\.html)"', page)
    assert notice and "补正材料一次性告知书" in page and f"/cases/{case_no}/notices/{notice.group(2)}.pdf" in page
    printed = clerk.get(notice.group(1))
    assert printed.status_code == 200 and "一次性告知" in clerk.text(printed) and "公司章程缺少全体股东签字" in clerk.text(printed)
    assert "default-src 'none'" in printed.headers["Content-Security-Policy"]
    assert "确认申请人补交材料" in page and "申请人补正材料" in page and 'id="supplied-M002"' in page
    assert "补正材料一次性告知书（" in page  # the applicant was notified

    # bad confirmations change nothing
    before = events_of(case_no)
    resp = clerk.post(f"/cases/{case_no}/messages", {"name": "materials_supplied"})
    assert resp.status_code == 422 and "请勾选申请人已补交的材料" in clerk.text(resp)
    resp = clerk.post(f"/cases/{case_no}/messages", {"name": "materials_supplied", "materials": "M999"})
    assert resp.status_code == 422 and "M999" in clerk.text(resp)
    assert 'value="M999"' not in clerk.text(resp)  # only real materials are offered
    resp = clerk.post(f"/cases/{case_no}/messages", {"name": "deficiency_supplied", "materials": "M002"})
    assert resp.status_code == 409 and "没有等待" in clerk.text(resp)
    assert events_of(case_no) == before and case_of(api, case_no)["waiting_messages"] == ["materials_supplied"]

    # the applicant brings the corrected articles; the window uploads and confirms them
    assert upload(clerk, case_no, "M002", pdf("M002 v2"), "章程.pdf").status_code == 302
    resp = clerk.post(f"/cases/{case_no}/messages", {"name": "materials_supplied", "materials": "M002"})
    assert resp.status_code == 302
    case = case_of(api, case_no)
    assert case["waiting_messages"] == [] and ready(case, "task_intake")
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    intake = ready(case, "task_intake")[0]
    assert f'href="/tasks/{intake["id"]}"' in page and "去办理" in page
    assert "已上传 v2" in page and "确认申请人补交材料" not in page
    assert "收到补正材料（公司章程）" in page and "上传材料（公司章程 第 2 版）" in page


def _accepted_case(api) -> str:
    clerk_api = api.as_user("window_clerk")
    case_no = start(clerk_api, applicant=WANG)["case_no"]
    upload_all(clerk_api, case_no)
    resp = complete(api, case_of(api, case_no), "task_intake")
    assert resp.status_code == 200, resp.body
    return case_no


def test_the_diagram_shows_what_is_done_and_what_is_open(api, clerk):
    case_no = _accepted_case(api)
    resp = clerk.get(f"/cases/{case_no}/diagram.json")
    body = resp.get_json()
    assert resp.status_code == 200 and 'id="task_intake"' in body["xml"]
    assert {"start_apply", "task_intake", "svc_accept"} <= set(body["done"])
    assert body["active"] == ["task_register"] and body["overdue"] == []
    assert "task_register" not in body["done"] and "task_seal" not in body["done"] + body["active"]
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    assert 'data-url="/cases/%s/diagram.json"' % case_no in page and "bpmn-viewer.production.min.js" in page
    assert "已办环节" in page and "正在办理" in page and "已超期" in page  # the legend


def test_a_task_past_its_deadline_is_overdue_on_the_diagram(api, clerk):
    test_clock = ManualClock(datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ))
    clock.use(test_clock)
    try:
        case_no = _accepted_case(api)
        assert clerk.get(f"/cases/{case_no}/diagram.json").get_json()["overdue"] == []
        test_clock.set(datetime(2025, 9, 29, 10, 0, tzinfo=LOCAL_TZ))  # the 1-hour registration is long due
        body = clerk.get(f"/cases/{case_no}/diagram.json").get_json()
        assert body["overdue"] == ["task_register"] and "task_register" in body["active"]
    finally:
        clock.use(clock.SystemClock())


def test_the_correction_wait_is_shown_on_the_diagram(api, clerk):
    clerk_api = api.as_user("window_clerk")
    case_no = start(clerk_api)["case_no"]
    complete(api, case_of(api, case_no), "task_intake", {"intake_result": "correct", "correction_items": "缺章程"})
    body = clerk.get(f"/cases/{case_no}/diagram.json").get_json()
    assert body["active"] == ["wait_correction"] and {"task_intake", "svc_notice_correction"} <= set(body["done"])
    assert "wait_return" not in body["active"]


def test_departments_read_only_cases_they_work_and_see_masked_personal_data(api, browser_for):
    case_no = _accepted_case(api)
    tax = browser_for("tax_approver")
    for path in (f"/cases/{case_no}", f"/cases/{case_no}/diagram.json", f"/cases/{case_no}/receipt"):
        resp = tax.get(path)
        assert resp.status_code == 403 and "Traceback" not in tax.text(resp), path
    assert "无权查看该办件" in tax.text(tax.get(f"/cases/{case_no}"))
    clerk_page = browser_for("window_clerk").get(f"/cases/{case_no}").get_data(as_text=True)
    material = re.search(rf'href="/cases/{case_no}/materials/(\d+)"', clerk_page).group(1)
    notice = re.search(rf'href="/cases/{case_no}/notices/(\d+)\.html"', clerk_page).group(1)
    assert tax.get(f"/cases/{case_no}/materials/{material}").status_code == 403
    assert tax.get(f"/cases/{case_no}/notices/{notice}.html").status_code == 403

    amr = browser_for("amr_approver")  # 市场监管局 has the registration task
    resp = amr.get(f"/cases/{case_no}")
    text = amr.text(resp)
    assert resp.status_code == 200 and "4106**********123X" in text and WANG["id_number"] not in text
    assert "139****5678" in text and WANG["phone"] not in text
    assert "查询码" not in text and "打印受理回执" not in text and 'enctype="multipart/form-data"' not in text
    assert "去办理" in text  # its own registration task
    assert amr.get(f"/cases/{case_no}/receipt").status_code == 403
    assert amr.get(f"/cases/{case_no}/materials/{material}").status_code == 200
    assert upload(amr, case_no, "M001", pdf()).status_code == 403


def test_the_receipt_prints_number_code_and_deadlines(api, clerk):
    case_no = _accepted_case(api)
    case = case_of(api, case_no)
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    assert f"<strong>{case['query_code']}</strong>" in page and f'href="/cases/{case_no}/receipt"' in page
    resp = clerk.get(f"/cases/{case_no}/receipt")
    text = clerk.text(resp)
    assert resp.status_code == 200 and "受理回执" in text and case_no in text and case["query_code"] in text
    assert "企业开办一件事" in text and "承诺办结期限" in text and "@media print" in text and "js-print" in text
    created = clock.local(datetime.fromisoformat(case["created_at"])).strftime("%Y-%m-%d %H:%M")
    deadline = clock.local(datetime.fromisoformat(case["deadline"])).strftime("%Y-%m-%d %H:%M")
    assert created in text and deadline in text
    assert "公司章程（第 1 版）" in text


def test_the_timeline_speaks_chinese_and_names_who_did_it(api, clerk):
    case_no = _accepted_case(api)
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    names = dict(db.session.execute(select(User.username, User.name)).all())
    timeline = page[page.index("全程留痕"):]
    assert "收件登记" in timeline and "上传材料（公司登记（备案）申请书 第 1 版）" in timeline
    assert "办理完成（综合窗口受理审查）" in timeline and "受理（受字〔" in timeline
    assert "出具文书" not in timeline or "受理通知书" in timeline
    assert f"· {names['window_clerk']}" in timeline
    assert "case.started" not in timeline and "task.completed" not in timeline


def test_files_and_notices_belong_to_the_case_in_the_address(api, clerk):
    first, second = _accepted_case(api), _accepted_case(api)
    page = clerk.text(clerk.get(f"/cases/{first}"))
    material = re.search(rf'href="/cases/{first}/materials/(\d+)"', page).group(1)
    notice = re.search(rf'href="/cases/{first}/notices/(\d+)\.html"', page).group(1)
    assert clerk.get(f"/cases/{second}/materials/{material}").status_code == 404
    assert clerk.get(f"/cases/{second}/notices/{notice}.html").status_code == 404
    assert clerk.get(f"/cases/{first}/notices/999999.html").status_code == 404
    resp = clerk.client.get(f"/cases/{first}/notices/{notice}.pdf")  # binary
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF") and "attachment" in resp.headers["Content-Disposition"]
    assert clerk.get("/cases/410600000000000000").status_code == 404


def test_a_closed_case_offers_no_upload_and_refuses_one(api, clerk):
    from ..api.startup import run_back_office
    case_no = _accepted_case(api)
    case, _ = run_back_office(api, case_no)
    assert case["status"] == "completed"
    page = clerk.text(clerk.get(f"/cases/{case_no}"))
    assert 'enctype="multipart/form-data"' not in page and "营业执照" in page and "邮寄送达" in page
    before = len(materials_of(case_no))
    resp = upload(clerk, case_no, "M001", pdf("late"))
    assert resp.status_code == 409 and "不能再提交材料" in clerk.text(resp)
    assert len(materials_of(case_no)) == before
    count = db.session.execute(select(func.count()).select_from(Material)).scalar_one()
    assert count >= before


def test_a_service_that_calls_stages_shows_its_own_diagram_with_the_running_stage(api, clerk):
    from ..api.test_construction import _start as start_construction
    case_no = start_construction(api)
    body = clerk.get(f"/cases/{case_no}/diagram.json").get_json()
    assert 'calledElement="construction_stage_planning"' in body["xml"]  # the parent diagram
    assert body["active"] == ["call_stage_planning"]  # its stage's tasks are ready
    assert "task_intake" in body["done"] and "call_stage_works" not in body["done"] + body["active"]


def _queries(web, path) -> int:
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert web.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_the_page_reads_a_busy_case_in_as_many_queries_as_a_new_one(api, clerk):
    from ..api.startup import run_back_office
    case_no = _accepted_case(api)
    early = _queries(clerk, f"/cases/{case_no}")
    run_back_office(api, case_no)  # ten tasks, dozens of events, notices, a licence, a delivery
    late = _queries(clerk, f"/cases/{case_no}")
    assert late <= early + 1 and late <= 16, (early, late)
