"""Calendar overrides imported from the State Council's yearly notice (or set by admins)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class CalendarDay(db.Model):
    """A date whose status differs from the library: a holiday, or a make-up working day (调休)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CalendarYear(db.Model):
    """A year whose official schedule has been imported (its deadlines are no longer estimates)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
