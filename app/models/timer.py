"""Due BPMN timers, polled by the scheduler."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class Timer(db.Model):
    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "fired_at", "due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # engine task id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))  # set: not retried
