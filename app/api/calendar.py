"""The legal calendar: working-day arithmetic and the yearly import of the official schedule."""
from __future__ import annotations

from datetime import date, timedelta

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..errors import NotFound
from ..extensions import db
from ..services import calendar, clock
from ..services.uow import run_use_case
from .auth import auth_required

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/calendar", description="工作日历")


class AddWorkdaysArgs(Schema):
    start = fields.Date(required=True)
    days = fields.Integer(required=True, validate=validate.Range(min=0, max=3650))


class AddWorkdaysResult(Schema):
    date = fields.Date()
    estimated = fields.Boolean(metadata={"description": "结果所在年份的放假安排尚未公布（为推算值）"})


class BetweenArgs(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class DeadlineArgs(Schema):
    start = fields.AwareDateTime(required=True)
    amount = fields.Integer(required=True, validate=validate.Range(min=0, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(calendar.UNITS))


class BetweenResult(Schema):
    workdays = fields.Integer()


class DeadlineResult(Schema):
    deadline = fields.String()
    estimated = fields.Boolean()


class YearImport(Schema):
    class Meta:
        ordered = True

    holidays = fields.List(fields.Date(), required=True)
    workdays = fields.List(fields.Date(), required=True)
    source = fields.String(load_default="", validate=validate.Length(max=255))


class DaySchema(Schema):
    date = fields.Date()
    workday = fields.Boolean()


class YearSchema(Schema):
    year = fields.Integer()
    estimated = fields.Boolean()
    days = fields.List(fields.Nested(DaySchema))


def _calendar() -> calendar.WorkCalendar:
    return calendar.load(db.session)


YEARS = range(1900, 2201)  # a path year outside this has no calendar (and would overflow date())


def _year_view(year: int) -> dict:
    cal = _calendar()
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]
    return {"year": year, "estimated": cal.is_estimated(year),
            "days": [{"date": d, "workday": cal.is_workday(d)} for d in days]}


@blp.route("/add-workdays")
class AddWorkdays(MethodView):
    @auth_required()
    @blp.arguments(AddWorkdaysArgs(), location="query")
    @blp.response(200, AddWorkdaysResult)
    def get(self, args):
        """起始日之后第 N 个工作日（起始日当天不计）"""
        cal = _calendar()
        result = cal.add_workdays(args["start"], args["days"])
        return {"date": result, "estimated": cal.is_estimated(result.year)}


@blp.route("/workdays-between")
class WorkdaysBetween(MethodView):
    @auth_required()
    @blp.arguments(BetweenArgs(), location="query")
    @blp.response(200, BetweenResult)
    def get(self, args):
        """(start, end] 之间的工作日数"""
        return {"workdays": _calendar().workdays_between(args["start"], args["end"])}


@blp.route("/deadline")
class Deadline(MethodView):
    @auth_required()
    @blp.arguments(DeadlineArgs(), location="query")
    @blp.response(200, DeadlineResult)
    def get(self, args):
        """按工作日 / 工作小时 / 自然日计算期限"""
        cal = _calendar()
        due = cal.deadline(args["start"], args["amount"], args["unit"])
        return {"deadline": due.isoformat(), "estimated": cal.is_estimated(due.year)}


@blp.route("/years/<int:year>")
class Year(MethodView):
    @auth_required()
    @blp.response(200, YearSchema)
    def get(self, year):
        """某年每天是否为工作日"""
        if year not in YEARS:
            raise NotFound(f"没有 {year} 年的日历（支持 {YEARS.start}–{YEARS.stop - 1} 年）")
        return _year_view(year)

    @auth_required("admin")
    @blp.arguments(YearImport())
    @blp.response(200, YearSchema)
    def put(self, body, year):
        """导入国务院办公厅当年放假安排：全部假日与调休上班日"""
        if year not in YEARS:
            raise NotFound(f"没有 {year} 年的日历（支持 {YEARS.start}–{YEARS.stop - 1} 年）")
        run_use_case(db.session, lambda: calendar.import_year(
            db.session, year=year, holidays_list=body["holidays"], workdays_list=body["workdays"],
            source=body["source"], actor_id=g.user.id, now=clock.now()))
        return _year_view(year)
