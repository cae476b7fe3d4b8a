"""The manager's pages: the dashboard with its drill-down and 督办, and the 周通报 pages."""
from __future__ import annotations

import html
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, SupervisionEvent, User, WeeklyReport

from ..conftest import ADMIN_PASSWORD
from ..services.test_reports import build_scenario, manual_clock  # noqa: F401 (a fixture)

RANGE = "from=2025-11-01&to=2025-11-03"
CASE_LINK = re.compile(r'<a class="case-no" href="/cases/(\d+)">')


def _charts(text: str) -> dict[str, dict]:
    found = re.findall(r'id="(chart-[a-z-]+)" data-chart="([^"]+)"', text)
    return {chart_id: json.loads(html.unescape(spec)) for chart_id, spec in found}


def _listed(text: str) -> set[str]:
    return set(CASE_LINK.findall(text))


def _events(case_no: str) -> list[SupervisionEvent]:
    db.session.rollback()
    case_id = db.session.execute(select(Case.id).where(Case.case_no == case_no)).scalar_one()
    return list(db.session.execute(select(SupervisionEvent).where(
        SupervisionEvent.case_id == case_id, SupervisionEvent.reason == "人工督办")
        .order_by(SupervisionEvent.id)).scalars())


def test_only_managers_and_admins_open_the_manager_pages(browser_for):
    for path in ("/dashboard", f"/dashboard/cases?{RANGE}&figure=status", "/dashboard/weekly"):
        for username in ("tax_approver", "window_clerk", "analyst"):
            resp = browser_for(username).get(path)
            assert resp.status_code == 403 and "无权" in resp.get_data(as_text=True), (path, username)
        assert browser_for(None).get(path).status_code == 302  # to the login page
        assert browser_for("manager").get(path).status_code == 200
        assert browser_for("admin", ADMIN_PASSWORD).get(path).status_code == 200
    approver = browser_for("tax_approver")
    approver.get("/inbox/")
    assert approver.post("/dashboard/weekly").status_code == 403
    assert db.session.execute(select(WeeklyReport)).first() is None
    # the nav shows 监察 to a manager only
    assert ">监察</a>" in browser_for("manager").text(browser_for("manager").get("/cases"))
    assert ">监察</a>" not in approver.text(approver.get("/inbox/"))


def test_the_dashboard_draws_every_figure_and_each_drills_down_to_its_cases(api, app, manual_clock, browser_for):
    no = build_scenario(api, app, manual_clock)
    web = browser_for("manager")
    resp = web.get(f"/dashboard?{RANGE}")
    text = web.text(resp)
    assert resp.status_code == 200 and "电子监察" in text
    assert "vendor/echarts/echarts.min.js" in text and "js/dashboard.js" in text and "<script>" not in text
    assert re.search(r'id="total-received">4<', text) and re.search(r'id="red-count">1<', text)
    assert re.search(r'id="yellow-count">1<', text) and re.search(r'id="rate-overall">33.3%<', text)
    charts = _charts(text)
    assert set(charts) == {"chart-status", "chart-ontime-department", "chart-ontime-service", "chart-handling-service",
                           "chart-handling-department", "chart-events", "chart-ratings"}
    amr = charts["chart-ontime-department"]
    i = amr["categories"].index("市场监管局")
    rate = amr["series"][0]
    assert rate["name"] == "按时办结率" and rate["data"][i] == 33.3 and rate["percent"]
    # clicking the bar (or the number in the table) opens the department's late cases
    link = rate["links"][i]
    assert parse_qs(urlsplit(link).query)["department"] == ["amr"]
    drill = web.text(web.get(link))
    assert "部门办理时限" in drill and _listed(drill) == {no["B"], no["C"]} and "共 2 件" in drill
    assert f'href="{html.escape(link)}"' in text  # the same link in the data table
    status = charts["chart-status"]
    completed = next(s for s in status["series"] if s["name"] == "已办结")
    assert completed["data"] == [2]
    assert _listed(web.text(web.get(completed["links"][0]))) == {no["A"], no["B"]}
    ratings = charts["chart-ratings"]
    very_bad = ratings["categories"].index("非常不满意")
    assert ratings["series"][0]["data"][very_bad] == 1
    assert _listed(web.text(web.get(ratings["series"][0]["links"][very_bad]))) == {no["B"]}
    # the red and yellow lists, and the cards that open them
    red = re.search(r'<table id="red-list">(.*?)</table>', text, re.S).group(1)
    assert no["C"] in red and no["D"] not in red and "设立登记" in red and "3.7 工作小时" in red
    assert no["D"] in re.search(r'<table id="yellow-list">(.*?)</table>', text, re.S).group(1)
    assert _listed(web.text(web.get(f"/dashboard/cases?{RANGE}&figure=light&light=red"))) == {no["C"]}
    assert no["B"] in re.search(r'id="bad-title">.*?</table>', text, re.S).group(0)  # the bad rating
    # filters narrow every figure
    only_tax = web.text(web.get(f"/dashboard?{RANGE}&department=tax"))
    assert re.search(r'id="total-received">1<', only_tax) and 'value="tax" selected' in only_tax


def test_bad_filters_are_shown_again_with_the_message(browser_for):
    web = browser_for("manager")
    resp = web.get("/dashboard?from=2025-13-40&to=2025-11-03")
    text = web.text(resp)
    assert resp.status_code == 422 and "起始日期格式有误" in text and 'value="2025-13-40"' in text
    assert "data-chart" not in text and "Traceback" not in text
    resp = web.get(f"/dashboard/cases?{RANGE}&figure=nope")
    assert resp.status_code == 422 and "未知的统计项" in web.text(resp)


def test_a_manager_supervises_from_the_drill_down_and_again(api, app, manual_clock, browser_for):
    no = build_scenario(api, app, manual_clock)
    web = browser_for("manager")
    drill = f"/dashboard/cases?{RANGE}&figure=light&light=red"
    page = web.text(web.get(drill))
    assert _listed(page) == {no["C"]} and f'action="/dashboard/cases/{no["C"]}/supervise"' in page
    assert f'<label for="note-{no["C"]}"' in page
    back = html.unescape(re.search(r'name="back" value="([^"]*)"', page).group(1))
    # an empty note is refused, nothing is written, and the page comes back
    resp = web.post(f"/dashboard/cases/{no['C']}/supervise", {"note": "   ", "back": back})
    assert resp.status_code == 422 and "请填写督办意见" in web.text(resp) and _events(no["C"]) == []
    assert _listed(web.text(resp)) == {no["C"]}
    too_long = "催" * 1001
    resp = web.post(f"/dashboard/cases/{no['C']}/supervise", {"note": too_long, "back": back})
    assert resp.status_code == 422 and f'value="{too_long}"' in web.text(resp) and _events(no["C"]) == []

    resp = web.post(f"/dashboard/cases/{no['C']}/supervise", {"note": "请今日内办结设立登记", "back": back})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/dashboard/cases?")
    assert parse_qs(urlsplit(resp.headers["Location"]).query)["light"] == ["red"]
    assert "已对办件" in web.text(web.get(resp.headers["Location"]))
    resp = web.post(f"/dashboard/cases/{no['C']}/supervise", {"note": "再次督办", "back": back})
    assert resp.status_code == 302
    events = _events(no["C"])
    manager_id = db.session.execute(select(User.id).where(User.username == "manager")).scalar_one()
    assert [(e.kind, e.note, e.created_by_id) for e in events] == [
        ("supervise", "请今日内办结设立登记", manager_id), ("supervise", "再次督办", manager_id)]
    history = [e["action"] for e in api.as_user("manager").get(f"/api/v1/cases/{no['C']}/history").body]
    assert history.count("supervision.supervise") >= 3  # the scan's automatic one and the two manual ones
    # a finished case cannot be supervised; the page says so and nothing is written
    resp = web.post(f"/dashboard/cases/{no['A']}/supervise", {"note": "督办", "back": back})
    assert resp.status_code == 409 and "已办结" in web.text(resp) and _events(no["A"]) == []
    # an admin sees the list but may not supervise (as in the API)
    admin = browser_for("admin", ADMIN_PASSWORD)
    assert "/supervise" not in admin.text(admin.get(drill))
    assert admin.post(f"/dashboard/cases/{no['C']}/supervise", {"note": "x", "back": back}).status_code == 403
    assert len(_events(no["C"])) == 2


def test_weekly_report_pages_build_show_print_and_export(api, app, manual_clock, browser_for):
    from openpyxl import load_workbook
    no = build_scenario(api, app, manual_clock)
    web = browser_for("manager")
    listing = web.text(web.get("/dashboard/weekly"))
    assert "还没有周通报" in listing and "2025-11-03" in listing
    resp = web.post("/dashboard/weekly")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard/weekly/2025-11-03")
    page = web.text(web.get("/dashboard/weekly/2025-11-03"))
    assert "效能监察周通报" in page and "本周尚未结束" in page and "@media print" in page
    ranking = re.search(r'<table id="ranking">(.*?)</table>', page, re.S).group(1)
    names = re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", ranking)
    assert names[0] == "税务局" and names.index("市场监管局") == 5
    overdue = re.search(r'<table id="overdue">(.*?)</table>', page, re.S).group(1)
    assert no["B"] in overdue and no["C"] in overdue and no["D"] not in overdue and "超期未办结" in overdue
    listing = web.text(web.get("/dashboard/weekly"))
    assert "2025-11-03 至 2025-11-09" in listing and "/dashboard/weekly/2025-11-03.xlsx" in listing

    resp = web.client.get("/dashboard/weekly/2025-11-03.xlsx")  # binary: not read for a CSRF token
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in resp.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(resp.data))
    rows = list(book["部门排名"].iter_rows(values_only=True))
    assert rows[0][:3] == ("名次", "部门", "按时办结率") and [r[1] for r in rows[1:]] == names
    assert sorted(r[0] for r in list(book["超期办件"].iter_rows(values_only=True))[1:]) == sorted([no["B"], no["C"]])
    # weeks that do not exist, or are not Mondays, are a Chinese 404
    for path in ("/dashboard/weekly/2025-11-04", "/dashboard/weekly/2025-10-27", "/dashboard/weekly/nope",
                 "/dashboard/weekly/2025-10-27.xlsx"):
        resp = web.get(path)
        assert resp.status_code == 404 and "周通报" in web.text(resp), path


def test_every_number_on_the_dashboard_opens_its_cases_with_the_same_filters(api, app, manual_clock, browser_for):
    build_scenario(api, app, manual_clock)
    web = browser_for("manager")
    for query in (RANGE, f"{RANGE}&department=amr", f"{RANGE}&service=business_startup"):
        text = web.text(web.get(f"/dashboard?{query}"))
        links = {html.unescape(h) for h in re.findall(r'href="(/dashboard/cases\?[^"]+)"', text)}
        charts = _charts(text)
        links |= {link for chart in charts.values() for s in chart["series"] for link in s["links"]}
        assert len(links) > 20, query
        wanted = parse_qs(query)
        for link in sorted(links):
            args = parse_qs(urlsplit(link).query)
            assert all(args.get(k) == v for k, v in wanted.items()), (link, query)  # the filters go along
            resp = web.get(link)
            assert resp.status_code == 200 and re.search(r"共 \d+ 件", web.text(resp)), link
        # a count of cases and the list behind it agree
        for s in charts["chart-status"]["series"]:
            for value, link in zip(s["data"], s["links"]):
                assert f"共 {value} 件" in web.text(web.get(link)), (s["name"], link)
        total = re.search(r'id="total-received">(\d+)<', text).group(1)
        assert f"共 {total} 件" in web.text(web.get(f"/dashboard/cases?{query}&figure=status"))


def test_the_monday_job_builds_last_week_once_and_a_manager_may_rebuild_it(app, clock_at, browser_for):
    from datetime import datetime

    from app.models import AuditEvent
    from app.scheduler import build_weekly_report
    from app.services.clock import LOCAL_TZ

    def built() -> list[str]:
        db.session.rollback()
        return [e.object_id for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "report.weekly_built")).scalars()]

    clock_at(datetime(2025, 11, 4, 12, 0, tzinfo=LOCAL_TZ))  # a manager builds the running week on Tuesday
    web = browser_for("manager")
    web.get("/dashboard/weekly")
    assert web.post("/dashboard/weekly").status_code == 302
    assert built() == ["2025-11-03"]
    clock_at(datetime(2025, 11, 10, 1, 0, tzinfo=LOCAL_TZ))  # Monday: the job, then a second scheduler
    assert build_weekly_report(app).isoformat() == "2025-11-03"
    assert built() == ["2025-11-03", "2025-11-03"]  # the Tuesday report was not the whole week: rebuilt
    first = db.session.execute(select(WeeklyReport)).scalar_one()
    assert first.figures["complete"] and first.built_by_id is None
    assert build_weekly_report(app).isoformat() == "2025-11-03"
    assert built() == ["2025-11-03", "2025-11-03"]  # already there: nothing written
    # the page builds the running week (10 Nov) beside it: the history keeps both
    web = browser_for("manager")  # signed in again: the Tuesday session has expired
    web.get("/dashboard/weekly")
    assert web.post("/dashboard/weekly").status_code == 302
    listing = web.text(web.get("/dashboard/weekly"))
    assert listing.index("2025-11-10 至 2025-11-16") < listing.index("2025-11-03 至 2025-11-09")
    assert "系统定时生成" in listing and db.session.execute(
        select(func.count()).select_from(WeeklyReport)).scalar_one() == 2
