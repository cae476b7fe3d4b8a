"""Work around tasks that the diagram does not model: claims, comments, copies (抄送),
delegation, and the service rating (好差评) with its follow-up."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}  # 国办发〔2019〕51号


class TaskComment(db.Model):
    __tablename__ = "task_comments"
    __table_args__ = (Index("ix_task_comments_case", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskCopy(db.Model):
    """抄送: a task shown, read-only, to a user of another department."""

    __tablename__ = "task_copies"
    __table_args__ = (Index("ix_task_copies_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sent_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Rating(db.Model):
    """好差评: one per case, five levels; 2 and 1 are bad and open a follow-up."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16))  # portal | window
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FollowUp(db.Model):
    """整改: a bad rating's follow-up for the responsible department, with a deadline."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_department", "department_id", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
