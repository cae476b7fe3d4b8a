"""电子监察 for managers: the dashboard, the cases behind each figure (with 督办), and the 周通报."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, quote, urlencode

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..errors import DomainError, InvalidInput
from ..extensions import db
from ..models import Department
from ..services import cases, clock, reports, reports_figures, reports_weekly, supervision
from ..services.uow import run_use_case
from .filters import local_time
from .pages import PAGE_SIZE
from .session import current_user, login_required

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
FILTER_KEYS = ("from", "to", "service", "department")
DRILL_KEYS = FILTER_KEYS + reports.FIGURE_PARAMS + ("page",)
MAX_NOTE = 1000


# -- charts: each a spec that dashboard.js draws with ECharts and the page repeats as a table ----------

def _link(f: reports.Filters, **params) -> str:
    return url_for("dashboard.cases_list", **{**f.args(), **{k: v for k, v in params.items() if v is not None}})


def _series(name, data, links, percent=False, chart=True) -> dict:
    return {"name": name, "data": data, "links": links, "percent": percent, "chart": chart}


def _pct(value):
    return round(value * 100, 1) if value is not None else None


def _status_chart(fig, f):
    keys = sorted({r["service"] for r in fig["cases_by_status"]})
    counts = {(r["service"], r["status"]): r["count"] for r in fig["cases_by_status"]}
    series = [_series(word, [counts.get((k, s), 0) for k in keys],
                      [_link(f, figure="status", status=s, service=k) for k in keys])
              for s, word in reports.STATUS_NAMES.items()]
    return {"id": "chart-status", "title": "办件状态（按事项，按收件时间）", "stacked": True,
            "categories": [fig["services"].get(k, k) for k in keys], "series": series}


def _on_time_chart(f, rows, figure, categories, extras, chart_id, title):
    def links(outcome):
        return [_link(f, figure=figure, outcome=outcome, **extra) for extra in extras]
    return {"id": chart_id, "title": title, "categories": categories, "series": [
        _series("按时办结率", [_pct(r["rate"]) for r in rows], links("late"), percent=True),
        _series("按时办结", [r["on_time"] for r in rows], links("on_time"), chart=False),
        _series("超期", [r["late"] for r in rows], links("late"), chart=False),
        _series("未到期", [r["pending"] for r in rows], links("pending"), chart=False)]}


def _handling_chart(f, rows, figure, categories, extras, chart_id, title):
    links = [_link(f, figure=figure, **extra) for extra in extras]
    return {"id": chart_id, "title": title, "categories": categories, "limit_line": 100, "series": [
        _series("中位数", [_pct(r["median"]) for r in rows], links, percent=True),
        _series("P90", [_pct(r["p90"]) for r in rows], links, percent=True),
        _series("办结数", [r["count"] for r in rows], links, chart=False),
        _series("超过时限", [r["over"] for r in rows], links, chart=False)]}


def _by_department(rows, fig):
    rows = sorted(rows, key=lambda r: r["department_id"])
    names = [fig["departments"].get(r["department_id"], {}).get("name", "") for r in rows]
    return rows, names, [fig["departments"].get(r["department_id"], {}).get("code") for r in rows]


def _events_chart(fig, f):
    kinds = list(supervision.KIND_NAMES)
    reasons = sorted({r["reason"] for r in fig["events"]})
    counts = {(r["kind"], r["reason"]): r["count"] for r in fig["events"]}
    series = [_series(reason, [counts.get((k, reason), 0) for k in kinds],
                      [_link(f, figure="events", kind=k, reason=reason) for k in kinds]) for reason in reasons]
    return {"id": "chart-events", "title": "监察事件（按督办时间）", "stacked": True,
            "categories": [supervision.KIND_NAMES[k] for k in kinds] if reasons else [], "series": series}


def _ratings_chart(fig, f):
    levels = fig["ratings"]["levels"]
    return {"id": "chart-ratings", "title": "好差评（按评价时间）", "categories": [r["name"] for r in levels],
            "series": [_series("评价数", [r["count"] for r in levels],
                               [_link(f, figure="rating", level=str(r["level"])) for r in levels])]}


def _charts(fig: dict, f: reports.Filters) -> list[dict]:
    services = sorted(fig["on_time_by_service"], key=lambda r: r["service"])
    handled = sorted(fig["handling_by_service"], key=lambda r: r["service"])
    departments, d_names, d_codes = _by_department(fig["on_time_by_department"], fig)
    d_handled, h_names, h_codes = _by_department(fig["handling_by_department"], fig)
    names = fig["services"]
    return [
        _status_chart(fig, f),
        _on_time_chart(f, departments, "ontime_department", d_names, [{"department": c} for c in d_codes],
                       "chart-ontime-department", "按时办结率（按部门，任务）"),
        _on_time_chart(f, services, "ontime_service", [names.get(r["service"], r["service"]) for r in services],
                       [{"service": r["service"]} for r in services], "chart-ontime-service",
                       "按时办结率（按事项，办件承诺时限）"),
        _handling_chart(f, handled, "handling_service", [names.get(r["service"], r["service"]) for r in handled],
                        [{"service": r["service"]} for r in handled], "chart-handling-service",
                        "办结用时占时限（按事项，%）"),
        _handling_chart(f, d_handled, "handling_department", h_names, [{"department": c} for c in h_codes],
                        "chart-handling-department", "办结用时占时限（按部门，%）"),
        _events_chart(fig, f),
        _ratings_chart(fig, f),
    ]


def _options():
    departments = db.session.execute(select(Department.code, Department.name).order_by(Department.id)).all()
    return {"services": sorted(reports.service_names(db.session).items()), "departments": departments}


@bp.get("")
@login_required("manager", "admin")
def index():
    """电子监察：办件、时限、监察事件与好差评"""
    typed = {k: request.args.get(k, "") for k in FILTER_KEYS}
    try:
        f = reports.parse_filters(db.session, request.args, clock.now())
    except InvalidInput as exc:
        return render_template("web/dashboard/index.html", form=typed, error=exc.message, fig=None,
                               charts=[], filters=None, **_options()), 422
    fig = reports_figures.dashboard(db.session, f)
    form = {**typed, **f.args()}
    return render_template("web/dashboard/index.html", form=form, error=None, fig=fig, charts=_charts(fig, f),
                           filters=f, link=lambda **kw: _link(f, **kw), **_options())


# -- drill-down and 督办 ---------------------------------------------------------------------------

def _drill_args(source) -> MultiDict:
    return MultiDict([(k, v) for k, v in source.items(multi=True) if k in DRILL_KEYS and v != ""])


def _drill_page(args: MultiDict, error: str | None = None, typed: dict | None = None, status: int = 200):
    f = reports.parse_filters(db.session, args, clock.now())
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    title, total, rows = reports.drill_cases(db.session, f, args, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    keep = {k: v for k, v in args.items() if k != "page"}
    return render_template(
        "web/dashboard/cases.html", title=title, total=total, rows=reports.case_rows(db.session, rows, f.now),
        filters=f, page=page, has_next=page * PAGE_SIZE < total, keep=keep,
        back=urlencode(list(args.items(multi=True))), error=error, typed=typed or {},
        service_name=reports.service_names(db.session).get(f.service or "", f.service),
        may_supervise=current_user().has_role("manager")), status


@bp.get("/cases")
@login_required("manager", "admin")
def cases_list():
    """统计数字背后的办件（可发起督办）"""
    return _drill_page(_drill_args(request.args))


@bp.post("/cases/<string:case_no>/supervise")
@login_required("manager")
def supervise(case_no):
    """对办件发起督办"""
    note = request.form.get("note", "")
    back = _drill_args(MultiDict(parse_qsl(request.form.get("back", ""), keep_blank_values=False)))
    text = note.strip()
    if not text or len(text) > MAX_NOTE:
        message = "请填写督办意见" if not text else f"督办意见不能超过 {MAX_NOTE} 字"
        return _drill_page(back, error=f"{case_no}：{message}", typed={case_no: note}, status=422)
    user = current_user()
    try:
        run_use_case(db.session, lambda: supervision.supervise_manually(
            db.session, case=cases.get_case(db.session, case_no), note=text, actor_id=user.id, now=clock.now()))
    except DomainError as exc:
        return _drill_page(back, error=f"{case_no}：{exc.message}", typed={case_no: note}, status=exc.status)
    flash(f"已对办件 {case_no} 发起督办", "success")
    return redirect(url_for("dashboard.cases_list", **back.to_dict()))


# -- 周通报 ----------------------------------------------------------------------------------------

@bp.get("/weekly")
@login_required("manager", "admin")
def weekly_list():
    """周通报：历史记录"""
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    rows = reports_weekly.history(db.session, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template("web/dashboard/weekly_list.html", rows=rows[:PAGE_SIZE], page=page,
                           has_next=len(rows) > PAGE_SIZE, current=reports_weekly.current_week(clock.now()))


@bp.post("/weekly")
@login_required("manager", "admin")
def weekly_build():
    """生成（或重新生成）本周的周通报"""
    now = clock.now()
    week = reports_weekly.current_week(now)
    user = current_user()
    run_use_case(db.session, lambda: reports_weekly.build_weekly(db.session, week_start=week, actor_id=user.id,
                                                                 now=now))
    flash(f"已生成 {week.isoformat()} 起一周的周通报", "success")
    return redirect(url_for("dashboard.weekly_show", week=week.isoformat()))


def _when(iso: str | None) -> str:
    return local_time(datetime.fromisoformat(iso)) if iso else ""


@bp.get("/weekly/<string:week>")
@login_required("manager", "admin")
def weekly_show(week):
    """周通报（可打印）"""
    report = reports_weekly.get_weekly(db.session, reports_weekly.parse_week(week))
    fig = report.figures
    overdue = [{**c, "deadline_text": _when(c["deadline"]),
                "status_word": reports_weekly.STATUS_WORDS.get(c["status"], c["status"])}
               for c in fig["overdue_cases"]]
    return render_template("web/dashboard/weekly.html", report=report, fig=fig, overdue=overdue,
                           cutoff=_when(fig["cutoff"]))


@bp.get("/weekly/<string:week>.xlsx")
@login_required("manager", "admin")
def weekly_xlsx(week):
    """周通报导出（XLSX）"""
    report = reports_weekly.get_weekly(db.session, reports_weekly.parse_week(week))
    name = f"周通报-{report.week_start.isoformat()}.xlsx"
    return Response(reports_weekly.xlsx(report),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=weekly-{report.week_start.isoformat()}.xlsx;"
                                                    f" filename*=UTF-8''{quote(name)}"})
