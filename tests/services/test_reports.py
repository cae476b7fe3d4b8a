"""电子监察 figures and the 周通报 on a handful of 企业开办 cases run through the API on a manual clock.

The scenario (Monday 3 Nov 2025; each case is accepted at once, so it has 3 office hours and
设立登记 one):

* A — received 09:00, every department done by 09:30: all on time; rated 非常满意 (5).
* B — received 09:00, no 税务 matter; 设立登记 done at 13:30 (late), the rest at once, so the case
  is completed after its 12:00 deadline; rated 非常不满意 (1), which opens a follow-up.
* C — received 09:00, 设立登记 still open at 14:40: red, and the case is late.
* D — received 13:50, 设立登记 due 14:50: yellow at 14:40.
"""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.extensions import db
from app.models import Case, Department, SupervisionEvent, WeeklyReport
from app.services import clock, ratings, reports, reports_figures, reports_weekly
from app.services.clock import LOCAL_TZ, ManualClock
from app.services.uow import run_use_case

from ..api.helpers import ready
from ..api.startup import ALL, TASK_DATA, case_of, complete, start, upload_all

NOW = datetime(2025, 11, 3, 14, 40, tzinfo=LOCAL_TZ)


def at(hour, minute=0, day=3):
    return datetime(2025, 11, day, hour, minute, tzinfo=LOCAL_TZ)


@pytest.fixture
def manual_clock(clock_at):
    return clock_at(at(9))


def _accepted_case(api, choices=None) -> str:
    clerk = api.as_user("window_clerk")
    case_no = start(clerk, choices=choices)["case_no"]
    upload_all(clerk, case_no)
    resp = complete(api, case_of(api, case_no), "task_intake")
    assert resp.status_code == 200, resp.body
    return case_no


def _finish(api, case_no: str, credit_digit: int) -> dict:
    """Complete every ready task at the clock's time (each company gets its own credit code)."""
    data = {**TASK_DATA, "task_register": {"credit_code": f"91410600MA9XXXXX{credit_digit}Y"}}
    while True:
        case = case_of(api, case_no)
        if not ready(case):
            return case
        for open_task in ready(case):
            resp = complete(api, case, open_task["element_id"], data.get(open_task["element_id"], {}))
            assert resp.status_code == 200, (open_task["element_id"], resp.body)
            case = case_of(api, case_no)


def _rate(case_no: str, level: int) -> None:
    def use_case():
        case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
        return ratings.rate(db.session, case=case, level=level, comment="办事慢" if level < 3 else "",
                            channel="window", actor_id=None, now=clock.now())
    run_use_case(db.session, use_case)


def build_scenario(api, app, manual_clock) -> dict[str, str]:
    """Cases A–D as described above; the clock is left at NOW with the supervision scan run."""
    from app.scheduler import scan_supervision
    manual_clock.set(at(9))
    a, b, c = _accepted_case(api), _accepted_case(api, {**ALL, "need_tax_ukey": False}), _accepted_case(api)
    manual_clock.set(at(9, 30))
    assert _finish(api, a, 1)["status"] == "completed"
    manual_clock.set(at(13, 30))
    assert _finish(api, b, 2)["status"] == "completed"
    manual_clock.set(at(13, 50))
    d = _accepted_case(api)
    manual_clock.set(NOW)
    _rate(a, 5)
    _rate(b, 1)
    assert scan_supervision(app) > 0
    db.session.rollback()
    return {"A": a, "B": b, "C": c, "D": d}


def _filters(**args):
    return reports.parse_filters(db.session, {"from": "2025-11-01", "to": "2025-11-03", **args}, clock.now())


def _drill(figure, **params):
    args = {"from": "2025-11-01", "to": "2025-11-03", "figure": figure, **params}
    f = reports.parse_filters(db.session, args, clock.now())
    title, total, rows = reports.drill_cases(db.session, f, args, limit=50, offset=0)
    assert total == len(rows)
    return {r.case_no for r in rows}


def _department_id(code):
    return db.session.execute(select(Department.id).where(Department.code == code)).scalar_one()


def test_figures_count_on_time_and_late_and_drill_down_to_exactly_those_cases(api, app, manual_clock):
    no = build_scenario(api, app, manual_clock)
    fig = reports_figures.dashboard(db.session, _filters())
    by_status = {(r["service"], r["status"]): r["count"] for r in fig["cases_by_status"]}
    assert by_status == {("business_startup", "completed"): 2, ("business_startup", "running"): 2}
    assert fig["totals"]["received"] == 4
    service = {r["service"]: r for r in fig["on_time_by_service"]}["business_startup"]
    assert (service["on_time"], service["late"], service["pending"]) == (1, 2, 1)  # A | B, C | D
    assert fig["totals"]["rate"] == pytest.approx(1 / 3)
    amr = {r["department_id"]: r for r in fig["on_time_by_department"]}[_department_id("amr")]
    assert (amr["on_time"], amr["late"], amr["pending"]) == (1, 2, 1)
    tax = {r["department_id"]: r for r in fig["on_time_by_department"]}[_department_id("tax")]
    assert (tax["on_time"], tax["late"], tax["rate"]) == (1, 0, 1.0)  # only A asked for 税务

    # handling time: A used 30 of 180 office minutes, B 210 of 180 (lunch is not office time)
    handling = {r["service"]: r for r in fig["handling_by_service"]}["business_startup"]
    assert handling["count"] == 2 and handling["over"] == 1
    assert handling["median"] == pytest.approx((30 / 180 + 210 / 180) / 2)
    assert handling["p90"] == pytest.approx(30 / 180 + (210 / 180 - 30 / 180) * 0.9)

    lights = fig["lights"]
    assert (lights["red_count"], lights["yellow_count"]) == (1, 1)
    assert [i["case_no"] for i in lights["red"]] == [no["C"]] and lights["red"][0]["over_minutes"] == 220
    assert [i["case_no"] for i in lights["yellow"]] == [no["D"]] and lights["yellow"][0]["left_minutes"] == 10
    assert fig["ratings"]["total"] == 2 and fig["ratings"]["bad"] == 1
    assert fig["ratings"]["follow_ups"] == {"open": 1, "done": 0, "overdue": 0}
    assert [r["case_no"] for r in fig["ratings"]["bad_list"]] == [no["B"]]
    events = {(e["kind"], e["reason"]): e["count"] for e in fig["events"]}
    assert events[("supervise", "超期未办结")] == 2  # C's 设立登记 and C itself
    assert events[("remind", "即将超期")] == 1  # D

    assert _drill("status", status="completed") == {no["A"], no["B"]}
    assert _drill("status") == set(no.values())
    assert _drill("ontime_service", outcome="late", service="business_startup") == {no["B"], no["C"]}
    assert _drill("ontime_service", outcome="on_time") == {no["A"]}
    assert _drill("ontime_department", outcome="late", department="amr") == {no["B"], no["C"]}
    assert _drill("ontime_department", outcome="pending", department="amr") == {no["D"]}
    assert _drill("ontime_department", outcome="late", department="tax") == set()
    assert _drill("handling_service", service="business_startup") == {no["A"], no["B"]}
    assert _drill("light", light="red") == {no["C"]}
    assert _drill("light", light="yellow") == {no["D"]}
    assert _drill("events", kind="supervise") == {no["C"]}
    assert _drill("events", kind="remind", reason="即将超期") == {no["D"]}
    assert _drill("rating", level="1") == {no["B"]} and _drill("rating", level="bad") == {no["B"]}
    assert _drill("followup", followup="open") == {no["B"]}
    assert _drill("followup", followup="done") == set()
    # a department filter narrows every figure to that department's work
    tax_only = reports_figures.dashboard(db.session, _filters(department="tax"))
    assert tax_only["totals"]["received"] == 1 and tax_only["lights"]["red_count"] == 0  # only A reached 税务
    # outside the range nothing is counted
    empty = reports_figures.dashboard(db.session, reports.parse_filters(
        db.session, {"from": "2025-10-01", "to": "2025-10-31"}, clock.now()))
    assert empty["totals"]["received"] == 0 and empty["on_time_by_department"] == []


def test_bad_filters_are_refused_in_chinese(app):
    now = datetime(2025, 11, 3, 12, tzinfo=LOCAL_TZ)
    for args, text in (({"from": "2025-13-01"}, "起始日期格式有误"), ({"from": "2025-11-05", "to": "2025-11-01"}, "不能晚于"),
                       ({"from": "2024-01-01", "to": "2025-11-01"}, "不能超过"), ({"service": "nope"}, "未知的事项"),
                       ({"department": "nope"}, "未知的部门")):
        with pytest.raises(InvalidInput, match=text):
            reports.parse_filters(db.session, args, now)
    f = reports.parse_filters(db.session, {}, now)
    assert (f.date_from, f.date_to) == (date(2025, 10, 5), date(2025, 11, 3))  # the last 30 days
    with pytest.raises(InvalidInput, match="未知的统计项"):
        reports.drill_cases(db.session, f, {"figure": "nope"}, limit=10, offset=0)


def test_the_weekly_report_ranks_departments_and_exports_them(api, app, manual_clock):
    from openpyxl import load_workbook

    from app.scheduler import build_weekly_report
    no = build_scenario(api, app, manual_clock)
    manual_clock.set(datetime(2025, 11, 10, 1, 0, tzinfo=LOCAL_TZ))  # the Monday job
    assert build_weekly_report(app) == date(2025, 11, 3)
    report = reports_weekly.get_weekly(db.session, date(2025, 11, 3))
    fig = report.figures
    assert fig["complete"] and report.built_by_id is None
    ranking = [(r["department"], r["rate"], r["overdue"], r["satisfaction"]) for r in fig["departments"]]
    # 100 % first, fewer overdue, then satisfaction: 税务局 only worked A (5); the others A and B (3)
    assert ranking[0] == ("税务局", 1.0, 0, 5.0)
    middle = ranking[1:5]
    assert {name for name, *_ in middle} == {"公安局", "银行", "人社局", "公积金中心"}
    assert [name for name, *_ in middle] == sorted(name for name, *_ in middle)
    assert all(rate == 1.0 and overdue == 0 and sat == 3.0 for _, rate, overdue, sat in middle)
    # 市场监管局: A on time, B late, C and D still open past their deadline at the week's end
    amr = fig["departments"][5]
    assert (amr["department"], amr["on_time"], amr["late_done"], amr["overdue_open"]) == ("市场监管局", 1, 1, 2)
    assert amr["rate"] == pytest.approx(0.25) and amr["rank"] == 6
    # the window's tasks have no deadline: rated, but without a rate it comes last
    assert ranking[6] == ("综合窗口", None, 0, 3.0) and len(ranking) == 7
    overdue = {c["case_no"]: c for c in fig["overdue_cases"]}
    assert set(overdue) == {no["B"], no["C"], no["D"]}
    assert overdue[no["B"]]["reasons"] == ["超期办结"]  # no event (finished late before the scan): derived
    assert "超期未办结" in overdue[no["C"]]["reasons"] and overdue[no["C"]]["departments"] == ["市场监管局"]
    assert overdue[no["D"]]["reasons"] == ["即将超期"]
    assert overdue[no["B"]]["overdue_hours"] == 2.5  # 设立登记 due 10:00, done 13:30 (lunch excluded)

    book = load_workbook(io.BytesIO(reports_weekly.xlsx(report)))
    assert book.sheetnames == ["部门排名", "超期办件"]
    rows = list(book["部门排名"].iter_rows(values_only=True))
    assert list(rows[0]) == reports_weekly.RANKING_HEADER and len(rows) == len(ranking) + 1
    assert rows[1][:3] == (1, "税务局", 1.0) and rows[6][:2] == (6, "市场监管局") and rows[6][2] == pytest.approx(0.25)
    assert rows[6][3:7] == (1, 1, 2, 3) and rows[7][1:3] == ("综合窗口", None)
    cases = list(book["超期办件"].iter_rows(values_only=True))
    assert list(cases[0]) == reports_weekly.OVERDUE_HEADER
    assert sorted(r[0] for r in cases[1:]) == sorted([no["B"], no["C"], no["D"]])

    # rebuilding the week replaces it: one row per week, kept as history
    manual_clock.set(datetime(2025, 11, 10, 9, 0, tzinfo=LOCAL_TZ))
    run_use_case(db.session, lambda: reports_weekly.build_weekly(
        db.session, week_start=date(2025, 11, 3), actor_id=None, now=clock.now()))
    assert db.session.execute(select(func.count()).select_from(WeeklyReport)).scalar_one() == 1
    assert [r["week_start"] for r in reports_weekly.history(db.session, limit=10, offset=0)] == [date(2025, 11, 3)]
    with pytest.raises(InvalidInput):
        reports_weekly.build_weekly(db.session, week_start=date(2025, 11, 17), actor_id=None, now=clock.now())
    assert db.session.execute(select(func.count()).select_from(SupervisionEvent)).scalar_one() > 0


def test_the_current_week_counts_up_to_now(api, app, manual_clock):
    no = build_scenario(api, app, manual_clock)
    report = run_use_case(db.session, lambda: reports_weekly.build_weekly(
        db.session, week_start=reports_weekly.current_week(clock.now()), actor_id=None, now=clock.now()))
    fig = report.figures
    assert not fig["complete"] and fig["week_start"] == "2025-11-03"
    amr = next(r for r in fig["departments"] if r["department"] == "市场监管局")
    assert (amr["on_time"], amr["late_done"], amr["overdue_open"]) == (1, 1, 1)  # D is not due yet at 14:40
    assert {c["case_no"] for c in fig["overdue_cases"]} == {no["B"], no["C"]}


def test_the_weekly_job_runs_every_monday_at_one_in_shanghai(app, monkeypatch):
    from apscheduler.schedulers.background import BackgroundScheduler

    from app.scheduler import build_weekly_report, init_scheduler
    monkeypatch.setattr(BackgroundScheduler, "start", lambda self, *args, **kwargs: None)  # no threads in a test
    job = init_scheduler(app).get_job("weekly_report")
    assert job.func is build_weekly_report
    wednesday = datetime(2025, 11, 5, 12, 0, tzinfo=LOCAL_TZ)
    assert job.trigger.get_next_fire_time(None, wednesday) == datetime(2025, 11, 10, 1, 0, tzinfo=LOCAL_TZ)
