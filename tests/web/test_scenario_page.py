"""The analysts' 模拟运行 page: from the process list to a service's scenario files, run one, read the result."""
from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, Notice, Task, Timer
from config import BASE_DIR

PAGE = "/processes/business_startup/test-run"


@pytest.fixture
def database_url(sqlite_template, tmp_path):
    """The page only reads the database (a test run stores nothing): SQLite is enough."""
    path = tmp_path / "page.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _counts():
    db.session.rollback()
    found = {t.__name__: db.session.execute(select(func.count()).select_from(t)).scalar_one()
             for t in (AuditEvent, Case, Notice, Task, Timer)}
    db.session.rollback()
    return found


def test_analyst_goes_from_the_process_list_to_a_run_and_reads_the_result(browser_for):
    web = browser_for("analyst")
    listing = web.text(web.get("/processes"))
    assert f'href="{PAGE}"' in listing
    page = web.text(web.get(PAGE))
    assert "模拟运行：企业开办一件事" in page and "01_plain.yaml" in page and "容缺受理，逾期未补齐，终止办理" in page
    assert len(re.findall(r'name="file" value="[^"]+\.yaml"', page)) == 8
    before = _counts()
    resp = web.post(PAGE, {"file": "03_deficiency_expired.yaml"})
    page = web.text(resp)
    assert resp.status_code == 200
    assert '<span class="light green" id="verdict">通过</span>' in page
    assert "已终止" in page and "<code>end_terminated</code>" in page
    path = re.findall(r"<li><code>(\w+)</code>", page)
    assert path.index("timer_deficiency") < path.index("svc_credit_deficiency") < path.index("end_terminated")
    assert "设立登记</td><td>市场监管局</td>" in page.replace("<code>task_register</code> ", "")
    assert "2025-10-30T17:00:00+08:00" in page  # 法定时限, through the National Day holiday
    assert "<code>revoke_certificates</code>" in page  # listed, not carried out
    assert "<script>" not in page and "onclick" not in page
    assert _counts() == before


def test_a_failing_scenario_shows_which_expectation_failed(app, browser_for, tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(BASE_DIR / "processes", folder)
    path = folder / "scenarios" / "business_startup" / "08_referred_rejected.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("end_event: end_rejected", "end_event: end_done"),
                    encoding="utf-8")
    app.config["PROCESSES_DIR"] = folder
    web = browser_for("admin", "admin-test-pw")
    web.get(PAGE)
    page = web.text(web.post(PAGE, {"file": "08_referred_rejected.yaml"}))
    assert '<span class="light red" id="verdict">未通过</span>' in page
    failed = re.search(r'<tr class="check failed"><td>([^<]+)</td>.*?<code>([^<]+)</code></td><td><code>([^<]+)</code>',
                       page, re.S)
    assert failed.groups() == ("结束事件", "end_done", "end_rejected")


def test_bad_requests_are_refused_in_chinese(browser_for):
    web = browser_for("analyst")
    web.get(PAGE)
    resp = web.post(PAGE, {"file": "../../config.py"})
    assert resp.status_code == 404 and "没有场景文件“../../config.py”" in web.text(resp)
    resp = web.post(PAGE, {})
    assert resp.status_code == 422 and "请选择一个场景文件" in web.text(resp)
    assert web.post(PAGE, {"file": "01_plain.yaml"}, csrf=False).status_code == 400
    resp = web.get("/processes/no_such/test-run")
    assert resp.status_code == 404 and "no_such" in web.text(resp)


def test_only_analysts_and_admins_may_run(browser_for):
    web = browser_for("tax_approver")
    assert web.get(PAGE).status_code == 403
    assert web.post(PAGE, {"file": "01_plain.yaml"}).status_code == 403
    assert browser_for(None).get(PAGE).status_code == 302  # to the sign-in page


def test_the_page_and_its_result_pass_the_accessibility_basics(browser_for):
    from .test_accessibility import _check, audit
    web = browser_for("analyst")
    _check(web, PAGE)
    result = audit(web.text(web.post(PAGE, {"file": "01_plain.yaml"})))
    assert result.problems() == [] and result.h1 == 1
