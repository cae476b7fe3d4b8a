"""The legal calendar page: each year's working days, and the import of the State Council notice."""
from __future__ import annotations

import calendar as monthly
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..errors import DomainError
from ..extensions import db
from ..services import calendar, clock
from ..services.clock import local
from ..services.uow import run_use_case
from .session import current_user, login_required

bp = Blueprint("calendar_page", __name__, url_prefix="/calendar")


def _year_arg() -> int:
    try:
        year = int(request.values.get("year", local(clock.now()).year))
    except ValueError:
        year = local(clock.now()).year
    return min(max(year, 2004), 2100)


def _months(cal: calendar.WorkCalendar, year: int) -> list[dict]:
    """Per month: weeks of (day, is_workday) with None for padding, Monday first."""
    months = []
    for month in range(1, 13):
        weeks = [[(d, cal.is_workday(d)) if d.month == month else None for d in week]
                 for week in monthly.Calendar().monthdatescalendar(year, month)]
        months.append({"month": month, "weeks": weeks})
    return months


def _page(year: int, form: dict | None = None, error: str | None = None, errors=None, status: int = 200):
    cal = calendar.load(db.session)
    return render_template("web/calendar.html", year=year, months=_months(cal, year),
                           estimated=cal.is_estimated(year), form=form or {}, error=error, errors=errors,
                           today=local(clock.now()).date()), status


@bp.get("/")
@login_required()
def index():
    """工作日历：法定节假日与调休上班日"""
    return _page(_year_arg())


@bp.post("/")
@login_required("admin")
def import_notice():
    """导入国务院办公厅当年的放假安排（全部放假日期与调休上班日期）"""
    year = _year_arg()
    form = {k: request.form.get(k, "") for k in ("holidays", "workdays", "source")}
    try:
        holidays_list = calendar.parse_date_list(form["holidays"])
        workdays_list = calendar.parse_date_list(form["workdays"])
        if not holidays_list:
            raise DomainError("请填写全部放假日期")
        run_use_case(db.session, lambda: calendar.import_year(
            db.session, year=year, holidays_list=holidays_list, workdays_list=workdays_list,
            source=form["source"].strip(), actor_id=current_user().id, now=clock.now()))
    except DomainError as exc:
        return _page(year, form, exc.message, exc.errors, 422)
    flash(f"{year} 年放假安排已导入：{len(holidays_list)} 个放假日，{len(workdays_list)} 个调休上班日", "success")
    return redirect(url_for("calendar_page.index", year=year))
