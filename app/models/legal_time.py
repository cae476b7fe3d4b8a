"""Clock suspensions (特别程序, Art. 45) and extensions (延期, Art. 42) of a case."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

SUSPENSION_KINDS = {
    "hearing": "听证",
    "testing": "检验检测鉴定",
    "expert_review": "专家评审",
    "correction": "补正",
    "site_survey": "现场勘验",
}


class Suspension(db.Model):
    __tablename__ = "suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    notice: Mapped[str] = mapped_column(Text, default="")  # written notice to the applicant
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paused_minutes: Mapped[int | None]  # office minutes the clock stood still


class Extension(db.Model):
    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    workdays: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SupervisionEvent(db.Model):
    """电子监察: 催办 (yellow), 督办 (red), 问责/升级 (still red N working days later)."""

    __tablename__ = "supervision_events"
    __table_args__ = (Index("ix_supervision_kind_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(16))  # remind | supervise | escalate
    reason: Mapped[str] = mapped_column(String(32))  # 即将超期 | 超期未办结 | 不及时受理
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    # automatic events fire once per task (or case) and kind; manual 督办 leave it empty
    dedupe_key: Mapped[str | None] = mapped_column(String(96), unique=True)
