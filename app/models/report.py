"""周通报: the weekly report, one row per week, kept as history."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class WeeklyReport(db.Model):
    """The figures of one week (Monday to Sunday, Asia/Shanghai) as they were when it was built.

    Rebuilding a week replaces its figures; the XLSX export is generated from them on demand.
    """

    __tablename__ = "weekly_reports"
    __table_args__ = (UniqueConstraint("week_start", name="uq_weekly_reports_week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date)  # the Monday
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    built_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # empty: the Monday job
    figures: Mapped[dict] = mapped_column(JSON)
