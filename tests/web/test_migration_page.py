"""The analyst's migration page: pick the source version, preview (who moves, why the others cannot), apply."""
from __future__ import annotations

import html
import re

from ..api.helpers import deploy
from ..services.test_migration import REMOVED, V1, V2, case_body, finish, snapshot, start_case

PAGE = "/processes/migration_demo/migrate"


def _setup(api):
    assert deploy(api, V1).status_code == 201
    movable = start_case(api)
    stuck = start_case(api, "migration_demo", "task_intake")
    assert deploy(api, V2).status_code == 201
    return movable, stuck


def _row(text: str, case_no: str) -> str:
    found = re.search(r"<tr>(?:(?!</tr>).)*" + case_no + r"(?:(?!</tr>).)*</tr>", text, re.S)
    assert found, case_no
    return html.unescape(found.group(0))


def test_the_preview_shows_each_case_with_its_tasks_and_reason(api, browser_for):
    movable, stuck = _setup(api)
    before = {no: snapshot(no) for no in (movable, stuck)}
    web = browser_for("analyst")
    resp = web.get(PAGE)
    text = web.text(resp)
    assert resp.status_code == 200
    assert "v1 → v2" in text and '<option value="1" selected' in text
    assert "可迁移" in _row(text, movable) and "受理" in _row(text, movable)
    assert f'name="case_no" value="{movable}"' in text
    assert REMOVED in _row(text, stuck) and f'name="case_no" value="{stuck}"' not in text
    assert {no: snapshot(no) for no in (movable, stuck)} == before  # looking writes nothing
    assert 'href="/processes/migration_demo/migrate"' in web.text(web.get("/processes"))  # the 迁移 link


def test_applying_moves_the_chosen_cases_and_shows_the_result(api, browser_for):
    movable, stuck = _setup(api)
    web = browser_for("analyst")
    web.get(PAGE)
    assert web.post(PAGE, {"from_version": "1", "case_no": movable}, csrf=False).status_code == 400  # no CSRF
    assert case_body(api, movable)["status"] == "running" and snapshot(movable)["events"] == 1
    resp = web.post(PAGE, {"from_version": "1", "case_no": [movable, stuck]})
    text = web.text(resp)
    assert resp.status_code == 200, text
    assert "已迁移 1 件，未迁移 1 件，失败 0 件" in text
    assert REMOVED in html.unescape(text)
    assert finish(api, movable) == ["task_intake", "task_a", "task_c", "task_check", "task_issue"]
    assert "v1 上没有运行中的办件" not in web.text(web.get(PAGE))  # the stuck case is still listed on v1
    assert stuck in web.text(web.get(PAGE))


def test_bad_choices_get_a_message_not_a_stack_trace(api, browser_for):
    movable, _ = _setup(api)
    web = browser_for("analyst")
    resp = web.get(PAGE + "?from_version=2")
    assert resp.status_code == 422 and "已是最新版本" in web.text(resp)
    web.get(PAGE)
    resp = web.post(PAGE, {"from_version": "1"})
    assert resp.status_code == 422 and "请至少选择一个办件" in web.text(resp)
    assert web.get("/processes/no_such/migrate").status_code == 404
    assert case_body(api, movable)["status"] == "running"


def test_only_analysts_and_admins_open_the_page(api, browser_for):
    _setup(api)
    for username in ("manager", "window_clerk", "tax_approver"):
        web = browser_for(username)
        assert web.get(PAGE).status_code == 403
        web.get("/")
        assert web.post(PAGE, {"from_version": "1"}).status_code == 403
    assert browser_for(None).get(PAGE).status_code == 302  # to the login page
