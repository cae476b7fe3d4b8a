"""The same screen-reader checks as tests/web/test_accessibility.py, on the pages as Chromium shows them
after their scripts ran: the 一表申请 and task forms drawn by form-js, the case diagram drawn by bpmn-js,
the dashboard's charts. Keyboard: Tab from the top of the page reaches the skip link first, and the
application form's first field is reachable by keyboard alone."""
from __future__ import annotations

import pytest

from ..web.test_accessibility import audit
from .test_manager import Users, _accepted


@pytest.fixture(scope="module")
def accepted_case(demo_server):
    users = Users(demo_server.url)
    return users.case(_accepted(users))


def _drawn(session, path: str, selector: str):
    page = session.open(path)
    page.wait_for_selector(selector, timeout=30000)
    found = audit(page.content())
    assert found.problems() == [], (path, found.problems())
    return page, found


def test_forms_and_diagrams_drawn_by_scripts_are_labelled(tab, accepted_case):
    register = next(t for t in accepted_case["tasks"] if t["element_id"] == "task_register" and t["state"] == "ready")
    clerk = tab()
    clerk.sign_in("window_clerk")
    page = clerk.open("/desk/new/business_startup")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    # the applicant step by keyboard alone: each field is the next Tab stop after the one before
    page.focus("#applicant-name")
    page.keyboard.type("王五")
    for key, value in (("id_number", "41060219900101123X"), ("phone", "13912345678")):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == f"applicant-{key}"
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    page.wait_for_selector(".fjs-container input", timeout=30000)
    found = audit(page.content())
    assert found.problems() == [], found.problems()
    assert len(found.controls) >= 8  # the 一表申请 fields form-js drew
    _drawn(clerk, f"/cases/{accepted_case['case_no']}", ".djs-container svg .djs-element")

    amr = tab()
    amr.sign_in("amr_approver")
    _, found = _drawn(amr, f"/tasks/{register['id']}", ".fjs-container input")
    assert any("fjs" in c["attrs"].get("class", "") for c in found.controls)

    manager = tab()
    manager.sign_in("manager")
    _drawn(manager, "/dashboard", "#chart-status canvas")
