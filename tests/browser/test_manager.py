"""The manager in Chromium against run.py with the demo data: from a figure on the dashboard down to a red
case, 督办 on it, the 督办 in the case's timeline, and the 周通报 built on the page and downloaded as XLSX.

Two 企业开办 cases are set up through the server's API: G goes through every department at once (all on
time); R waits at 设立登记 (市场监管局). R is then moved a week into the past in the database (every
timestamp of the case and its tasks shifted by the same seven days, as if it had been received a week
ago), so its 设立登记 is overdue now: a red task. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as DbSession

from app.models import Case, Task

from ..api.helpers import WORKER, ready
from ..api.startup import TASK_DATA, start, upload_all
from ..conftest import ApiClient

WEEK = timedelta(days=7)  # shifting recorded moments into the past, not a deadline
REASON = "设立登记已超期，请今日内办结并说明原因"


class Users:
    """API clients of the live server, one sign-in per user (the login rate limit counts them)."""

    def __init__(self, base_url: str):
        self.base = ApiClient(base_url=base_url)
        self.clients: dict[str, ApiClient] = {}

    def __getitem__(self, username: str) -> ApiClient:
        if username not in self.clients:
            self.clients[username] = self.base.as_user(username)
        return self.clients[username]

    def case(self, case_no: str) -> dict:
        return self["window_clerk"].get(f"/api/v1/cases/{case_no}").body

    def complete(self, task: dict) -> None:
        resp = self[WORKER[task["department"]]].post(f"/api/v1/tasks/{task['id']}/complete",
                                                    json={"data": TASK_DATA.get(task["element_id"], {})})
        assert resp.status_code == 200, (task["element_id"], resp.body)


def _accepted(users: Users) -> str:
    clerk = users["window_clerk"]
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    users.complete(ready(users.case(case_no), "task_intake")[0])
    return case_no


def _move_into_the_past(database_url: str, case_no: str) -> None:
    engine = create_engine(database_url)
    with DbSession(engine) as session, session.begin():
        case = session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
        for name in ("created_at", "updated_at", "accepted_at", "deadline", "statutory_deadline"):
            if getattr(case, name) is not None:
                setattr(case, name, getattr(case, name) - WEEK)
        for task in session.execute(select(Task).where(Task.case_id == case.id)).scalars():
            for name in ("created_at", "due_at", "completed_at", "claimed_at"):
                if getattr(task, name) is not None:
                    setattr(task, name, getattr(task, name) - WEEK)
    engine.dispose()


@pytest.fixture(scope="module")
def scenario(demo_server):
    users = Users(demo_server.url)
    on_time, red = _accepted(users), _accepted(users)
    while open_tasks := ready(users.case(on_time)):
        for task in open_tasks:
            users.complete(task)
    done = users.case(on_time)
    assert done["status"] == "completed"
    # (department, on time?) of G's tasks with a deadline, as the server recorded them
    outcomes = [(t["department"], datetime.fromisoformat(t["completed_at"]) <= datetime.fromisoformat(t["due_at"]))
                for t in done["tasks"] if t["due_at"] and t["state"] == "completed"]
    case = users.case(red)
    assert [t["element_id"] for t in ready(case)] == ["task_register"]
    _move_into_the_past(demo_server.env["DATABASE_URL"], red)
    return {"G": on_time, "R": red, "outcomes": outcomes}


def _expected_ranking(outcomes) -> list[tuple]:
    """The 周通报's rule on this week's data: G's tasks on time or late, R's 设立登记 (市场监管局) overdue;
    ranked by on-time rate, then fewer overdue, then name (no ratings)."""
    counts: dict[str, list[int]] = {}
    for department, in_time in outcomes:
        counts.setdefault(department, [0, 0, 0])[0 if in_time else 1] += 1
    counts.setdefault("市场监管局", [0, 0, 0])[2] += 1
    rows = [(name, a / (a + b + c), a, b, c, b + c) for name, (a, b, c) in counts.items()]
    rows.sort(key=lambda r: (-r[1], r[5], r[0]))
    return [(rank, *row) for rank, row in enumerate(rows, 1)]


def _bar_position(page, chart_id: str, index: int) -> tuple[float, float]:
    """Where on the screen ECharts drew bar ``index`` of the first series of a chart (just inside its top)."""
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    return page.evaluate("""([id, index]) => {
        const el = document.getElementById(id);
        const chart = window.echarts.getInstanceByDom(el);
        const value = chart.getOption().series[0].data[index];
        const [x, y] = chart.convertToPixel({seriesIndex: 0}, [index, value]);
        const box = el.getBoundingClientRect();
        return [box.left + x, box.top + y + 6];
    }""", [chart_id, index])


def test_a_manager_drills_down_from_a_figure_to_a_red_case_and_issues_supervision(tab, scenario):
    manager = tab()
    manager.sign_in("manager")
    page = manager.open("/dashboard")
    page.wait_for_selector("#chart-ontime-department canvas", timeout=15000)
    assert page.inner_text("#red-count") == "1"
    red_list = page.inner_text("#red-list")
    assert scenario["R"] in red_list and scenario["G"] not in red_list and "设立登记" in red_list
    manager.shot("manager-dashboard")

    # the bar of 市场监管局 in 按时办结率（按部门）: 1 on time (G), 1 overdue (R) -> 50 %
    spec = page.evaluate("JSON.parse(document.getElementById('chart-ontime-department').dataset.chart)")
    index = spec["categories"].index("市场监管局")
    assert spec["series"][0]["data"][index] == 50.0
    x, y = _bar_position(page, "chart-ontime-department", index)
    with page.expect_navigation():
        page.mouse.click(x, y)
    page.wait_for_load_state("networkidle")
    assert "/dashboard/cases?" in page.url and "department=amr" in page.url
    assert "有超期任务的办件" in page.inner_text("h1")
    listed = page.locator("a.case-no").all_inner_texts()
    assert listed == [scenario["R"]] and page.inner_text("#drill-total") == "共 1 件"
    manager.shot("manager-drill-down")

    # the red card drills down to the same case; open it
    page = manager.open("/dashboard")
    page.click("a.red")
    page.wait_for_load_state("networkidle")
    assert page.locator("a.case-no").all_inner_texts() == [scenario["R"]]
    page.click(f"a.case-no:text-is('{scenario['R']}')")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/cases/{scenario['R']}") and "设立登记" in page.inner_text("main")
    page.go_back()
    page.wait_for_load_state("networkidle")

    # 督办 from the list, with a reason
    page.fill(f"#note-{scenario['R']}", REASON)
    page.click(f"form[action$='/{scenario['R']}/supervise'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert f"已对办件 {scenario['R']} 发起督办" in page.inner_text("main")
    assert "/dashboard/cases?" in page.url and "light=red" in page.url  # back on the same list
    manager.shot("manager-supervised")

    page = manager.open(f"/cases/{scenario['R']}")
    assert f"督办（{REASON}）" in page.inner_text("main")
    manager.shot("manager-case-timeline")


def test_the_weekly_report_is_built_on_the_page_and_its_xlsx_ranks_the_departments(tab, scenario):
    from openpyxl import load_workbook
    manager = tab()
    manager.sign_in("manager")
    page = manager.open("/dashboard/weekly")
    page.click("button:has-text('生成本周')")
    page.wait_for_load_state("networkidle")
    assert "效能监察周通报" in page.inner_text("h1")
    manager.shot("manager-weekly-report")
    with page.expect_download() as info:
        page.click("a:text-is('导出 XLSX')")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(open(download.path(), "rb").read()))

    rows = list(book["部门排名"].iter_rows(values_only=True))
    assert rows[0][:7] == ("名次", "部门", "按时办结率", "按时办结", "超期办结", "超期未办结", "超期合计")
    assert [tuple(r[:7]) for r in rows[1:]] == _expected_ranking(scenario["outcomes"]), rows

    overdue = list(book["超期办件"].iter_rows(values_only=True))
    late_g = [scenario["G"]] if not all(in_time for _, in_time in scenario["outcomes"]) else []
    assert overdue[0][0] == "统一受理号码" and sorted(r[0] for r in overdue[1:]) == sorted([scenario["R"], *late_g])
    red = next(r for r in overdue[1:] if r[0] == scenario["R"])
    assert red[1] == "企业开办一件事" and red[2] == "市场监管局" and red[4] == "办理中" and red[6] > 0
    assert red[5] and set(red[5].split("、")) <= {"人工督办", "超期未办结", "即将超期", "不及时受理"}
    assert all(r[5] != "超期未办结" for r in overdue[1:] if r[0] == scenario["G"])  # G finished: 超期办结
