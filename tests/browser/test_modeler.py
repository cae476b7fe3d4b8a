"""The analyst's modeler in Chromium against run.py with the demo data: while a 企业开办 case is running on
version 1, open 企业开办, add a user task in the 税务局 lane, save, see the missing-form problem on that element,
pick a form in the properties panel, save clean, deploy version 2, see it in the processes list; the versions
page shows the diff; the migration page previews the running case as movable, moves it to version 2, and the
case carries on there through the new task. The form and catalog editors open and save.
Screenshots go to test-artifacts/screenshots/."""
import re

import pytest

from ..api.startup import CREDIT_CODE, TASK_DATA, case_of, complete, start, upload_all
from ..conftest import ApiClient

KEY = "business_startup"
NEW_TASK = "税务预审"


def diagram_point(page, x, y):
    """Where a point of the diagram is on the screen, at the modeler's current zoom."""
    return page.evaluate("""([x, y]) => {
        const canvas = window.BinglianModeler.get('canvas');
        const box = document.getElementById('modeler-canvas').getBoundingClientRect();
        const vb = canvas.viewbox();
        return [box.left + (x - vb.x) * vb.scale, box.top + (y - vb.y) * vb.scale];
    }""", [x, y])


def selected_id(page):
    return page.evaluate("() => window.BinglianModeler.get('selection').get().map(e => e.id)[0] || null")


def running_case(api: ApiClient) -> str:
    """A 企业开办 case accepted at the window (all materials), now at 设立登记 (市场监管局) on version 1."""
    clerk = api.as_user("window_clerk")
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    assert complete(api, case_of(api, case_no), "task_intake").status_code == 200
    case = case_of(api, case_no)
    assert case["process_version"] == 1 and case["status"] == "running"
    assert {t["element_id"] for t in case["tasks"] if t["state"] == "ready"} == {"task_register"}
    return case_no


def test_an_analyst_adds_a_task_deploys_version_2_and_migrates_a_running_case(tab, demo_server):
    api = ApiClient(base_url=demo_server.url)
    case_no = running_case(api)
    analyst = tab()
    analyst.sign_in("analyst")
    page, new_id = add_a_task(analyst)
    fix_its_form_and_deploy(analyst, page, new_id)
    migrate(analyst, case_no)
    carry_on_on_version_2(api, tab(), case_no, new_id)


def add_a_task(analyst):
    """The modeler: a new user task after 税务登记 (a step the running case has not reached), in the 税务局 lane."""
    page = analyst.open("/processes")
    page.click(f"a[href='/processes/{KEY}/model']")
    page.wait_for_selector("#modeler-canvas[data-ready=true]", timeout=20000)
    assert "流程图已加载" in page.inner_text("#modeler-status")
    analyst.shot("modeler-opened")

    # zoom in on the 税务局 lane, where task_tax's outgoing flow runs straight to the join
    page.evaluate("""() => { const canvas = window.BinglianModeler.get('canvas'); const outer = canvas.viewbox().outer;
        canvas.viewbox({x: 2150 - outer.width / 2, y: 1060 - outer.height / 2, width: outer.width, height: outer.height}); }""")
    page.click(".djs-palette .entry[data-action='create.task']")
    x, y = diagram_point(page, 2150, 1060)  # on flow_tax_done: the new task splits the flow
    page.mouse.move(x - 40, y - 30)
    page.mouse.move(x, y, steps=8)
    page.mouse.click(x, y)
    page.keyboard.press("Escape")  # leave the label editor bpmn-js opens on a new task
    new_id = selected_id(page)
    assert new_id and new_id.startswith("Activity_")

    # make it a user task (context pad, replace menu) and name it in the properties panel
    assert page.get_attribute(".djs-palette .entry[data-action='create.task']", "aria-label") == "任务"  # our zh-CN words
    page.click(".djs-context-pad .entry[data-action='replace']")
    assert "用户任务" in page.inner_text(".djs-popup")
    analyst.shot("modeler-replace-menu")
    page.click(".djs-popup [data-id='replace-with-user-task']")
    assert selected_id(page) == new_id
    page.wait_for_selector("#modeler-properties input[name=name]")
    page.fill("#modeler-properties input[name=name]", NEW_TASK)
    page.keyboard.press("Tab")
    lane = page.evaluate("""(id) => {
        const bo = window.BinglianModeler.get('elementRegistry').get(id).businessObject;
        return (bo.lanes || []).map(l => l.name);
    }""", new_id)
    assert lane == ["税务局"]
    return page, new_id


def fix_its_form_and_deploy(analyst, page, new_id: str) -> None:
    """Save: the missing form shows on the new task; pick one, save clean, deploy v2, see the diff."""
    page.click("#modeler-save")
    page.wait_for_function("() => /已保存草稿/.test(document.getElementById('modeler-status').textContent)")
    problems = page.locator("#modeler-problems li")
    texts = problems.all_inner_texts()
    assert len(texts) == 1 and "未设置表单" in texts[0] and NEW_TASK in texts[0], texts
    assert page.get_attribute("#modeler-problems li", "data-element-id") == new_id
    assert page.locator(f".problem-badge[data-element-id='{new_id}']").is_visible()
    assert page.locator(f".djs-element.has-problem[data-element-id='{new_id}']").count() == 1
    analyst.shot("modeler-problem-on-new-task")

    # fix it: the problem selects the element, the panel sets an existing form
    problems.first.click()
    assert selected_id(page) == new_id
    page.select_option("#modeler-properties select[name=form_key]", "business_startup_tax")
    # and shorten the 视为受理 timer with the working-day helper
    page.evaluate("() => { const m = window.BinglianModeler; m.get('canvas').scrollToElement("
                  "m.get('elementRegistry').get('timer_deemed')); }")
    page.click(".djs-element[data-element-id='timer_deemed']")
    assert selected_id(page) == "timer_deemed"
    assert page.input_value("#modeler-properties select[name=timer_helper]") == "workdays"
    assert page.input_value("#modeler-properties input[name=timer_amount]") == "5"
    page.fill("#modeler-properties input[name=timer_amount]", "3")
    page.keyboard.press("Tab")
    assert page.input_value("#modeler-properties input[name=timer_expression]") == "workdays(3)"
    page.click("#modeler-save")
    page.wait_for_function("() => /校验通过/.test(document.getElementById('modeler-status').textContent)")
    assert page.locator("#modeler-problems li").count() == 0
    assert page.locator(".problem-badge").count() == 0
    analyst.shot("modeler-saved-clean")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#modeler-deploy")
    page.wait_for_url(re.compile(r"/processes$"), timeout=20000)
    text = page.inner_text("main")
    assert "已部署为第 2 版" in text
    row = page.locator("tr", has=page.locator(f"code:text-is('{KEY}')"))
    assert "v2" in row.inner_text()
    analyst.shot("processes-version-2")

    page = analyst.open(f"/processes/{KEY}/versions?from=1&to=2")
    added = page.locator(f"tr.diff-added[data-element-id='{new_id}']")
    assert NEW_TASK in added.inner_text() and "用户任务" in added.inner_text()
    timer = page.locator("tr.diff-changed[data-element-id='timer_deemed']")
    assert "定时" in timer.inner_text() and "workdays(3)" in timer.inner_text()
    assert "流程分析员" in page.inner_text("main")
    analyst.shot("versions-diff")


def migrate(analyst, case_no: str) -> None:
    """From the processes list to the migration page: v1 picked, the case listed as movable; apply, see the result."""
    page = analyst.open("/processes")
    row = page.locator("tr", has=page.locator(f"code:text-is('{KEY}')"))
    assert "流程分析员" in row.locator("span.badge[data-version='2']").inner_text()  # who deployed v2
    row.locator("a", has_text="迁移").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/processes/{KEY}/migrate")
    page.select_option("#from_version", "1")
    page.click("button:text-is('预览')")
    page.wait_for_load_state("networkidle")
    assert "预览：v1 → v2" in page.inner_text("main")
    line = page.locator("tr", has=page.locator(f"td:text-is('{case_no}')"))  # no link: analysts do not read cases
    assert "可迁移" in line.inner_text() and "设立登记" in line.inner_text(), line.inner_text()
    box = page.locator(f"input[name=case_no][value='{case_no}']")
    assert box.is_checked()
    for other in page.locator("input[name=case_no]").all():  # only this case: the demo data's cases stay put
        if other.get_attribute("value") != case_no:
            other.uncheck()
    analyst.shot("migration-preview")
    page.click("button:has-text('迁移所选办件到 v2')")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("main")
    assert "迁移结果：v1 → v2" in text and "已迁移 1 件，未迁移 0 件，失败 0 件" in text, text
    assert "已迁移" in page.locator("tr", has=page.locator(f"td:text-is('{case_no}')")).inner_text()
    analyst.shot("migration-result")


def carry_on_on_version_2(api: ApiClient, clerk, case_no: str, new_id: str) -> None:
    """The case page says v2 with the migration in its timeline; 市场监管局 then 税务局 work on, into the new task."""
    clerk.sign_in("window_clerk")
    page = clerk.open(f"/cases/{case_no}")
    text = page.inner_text("main")
    assert "版本 v2" in text and "迁移到流程新版本（v2）" in text and "流程分析员" in text, text
    clerk.shot("case-after-migration")
    history = api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}/history").body
    migrated = [e for e in history if e["action"] == "case.migrated"]
    assert len(migrated) == 1
    assert complete(api, case_of(api, case_no), "task_register", {"credit_code": CREDIT_CODE}).status_code == 200
    case = case_of(api, case_no)
    assert case["process_version"] == 2 and case["status"] == "running"
    assert complete(api, case, "task_tax", TASK_DATA["task_tax"]).status_code == 200
    case = case_of(api, case_no)
    added = [t for t in case["tasks"] if t["element_id"] == new_id]
    assert [(t["name"], t["state"], t["department"]) for t in added] == [(NEW_TASK, "ready", "税务局")], case["tasks"]


def test_the_form_editor_and_the_catalog_editor_save_into_the_draft(tab):
    analyst = tab()
    analyst.sign_in("analyst")
    page = analyst.open(f"/processes/{KEY}/forms/business_startup_tax")
    page.wait_for_selector("#form-editor[data-ready=true]", timeout=20000)
    page.wait_for_selector("#form-editor .fjs-editor-container, #form-editor .fjs-container", timeout=20000)
    page.click("#form-save")
    page.wait_for_function("() => /已保存到草稿/.test(document.getElementById('form-result').textContent)")
    analyst.shot("form-editor")

    page = analyst.open(f"/processes/{KEY}/catalog")
    block = page.locator("fieldset[data-matter='410600-AMR-001']")
    row = block.locator("tr[data-material='M001']")
    row.locator("input[name=deficiency_allowed]").check()
    block.locator("tr[data-limit=promised] input[name=promised_amount]").fill("2")
    page.click("#catalog-save")
    page.wait_for_function("() => /事项目录已保存/.test(document.getElementById('catalog-result').textContent)")
    assert "amount: 2, unit: workhour" in page.input_value("#catalog-yaml-text")
    assert "# 法定时限（行政许可法第四十二条）" in page.input_value("#catalog-yaml-text")  # comments stay
    analyst.shot("catalog-editor-saved")
    # a unit the calendar does not know: kept, with the catalog service's message
    block.locator("tr[data-limit=promised] select[name=promised_unit]").select_option("")
    page.click("#catalog-save")
    page.wait_for_function("() => /个问题/.test(document.getElementById('catalog-result').textContent)")
    assert "unit 必须是" in page.inner_text("#catalog-result")
    analyst.shot("catalog-editor-problem")


@pytest.mark.parametrize("key", ["business_startup", "construction_project", "construction_stage_works",
                                 "property_registration"])
def test_every_bundled_diagram_comes_back_from_the_modeler_clean(tab, key):
    """Open, save unchanged: the XML bpmn-js writes keeps the Spiff/Camunda extensions and passes every check."""
    analyst = tab()
    analyst.sign_in("analyst")
    page = analyst.open(f"/processes/{key}/model")
    page.wait_for_selector("#modeler-canvas[data-ready=true]", timeout=20000)
    page.click("#modeler-save")
    page.wait_for_function("() => /已保存草稿/.test(document.getElementById('modeler-status').textContent)")
    assert "校验通过" in page.inner_text("#modeler-status"), page.locator("#modeler-problems li").all_inner_texts()
    draft = page.evaluate(f"async () => (await fetch('/processes/{key}/draft.json')).json()")
    assert draft["saved"] and draft["bpmn_problems"] == []
    assert "camunda:formKey=" in draft["bpmn_xml"]
    assert "<spiff:serviceTaskOperator" in draft["bpmn_xml"]
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#modeler-discard")
    page.wait_for_selector("#modeler-canvas[data-ready=true]", timeout=20000)
    assert "尚无草稿" in page.inner_text("#draft-state")
