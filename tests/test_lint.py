"""The diagram lint: clean over processes/, and it names the element of every broken rule in a fixture."""
import shutil

from config import BASE_DIR

from .conftest import DATA


def test_every_bundled_diagram_and_catalog_passes_the_lint(app):
    result = app.test_cli_runner().invoke(args=["processes", "lint", str(BASE_DIR / "processes")])
    assert result.exit_code == 0, result.output
    assert "未发现问题" in result.output


def test_a_broken_diagram_fails_naming_each_element(app, tmp_path):
    shutil.copy(DATA / "lint" / "broken_service.bpmn", tmp_path)
    result = app.test_cli_runner().invoke(args=["processes", "lint", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()

    def problem(element_id, words):
        return any(line.startswith(f"broken_service.bpmn: {element_id}: ") and words in line for line in lines)

    assert problem("lane_nowhere", "不是已登记的部门")          # a user task's lane is no department
    assert problem("gw_no_default", "默认流")                   # conditions without a default flow
    assert problem("timer_bad", "表达式无效")                   # a timer expression that does not parse
    assert problem("task_intake", "表单“no_such_form”不存在")   # a form that does not exist
    assert problem("task_intake", "中文")                       # English name
    assert problem("task_lost", "图形信息")                     # no diagram interchange


def test_a_broken_catalog_is_listed_with_its_line(app, tmp_path):
    for name in ("business_startup.bpmn", "business_startup.yaml"):
        shutil.copy(BASE_DIR / "processes" / name, tmp_path)
    catalog = tmp_path / "business_startup.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("task: task_tax", "task: task_taxes"),
                       encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["processes", "lint", str(tmp_path)])
    assert result.exit_code == 1 and "business_startup.yaml: -: 第" in result.output and "task_taxes" in result.output
