"""加签: approvers added before (前加签) or after (后加签) the one who holds a task."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

SIGN_KINDS = {"before": "前加签", "after": "后加签"}
SIGN_STATUSES = {"waiting": "排队中", "pending": "待审批", "approved": "同意", "rejected": "不同意",
                 "cancelled": "已撤销"}
OPEN_SIGN_STATUSES = ("waiting", "pending")


class TaskSign(db.Model):
    """One added approver of one round of 加签 on a task, in order (``position``).

    A round's first row is ``pending``, the later ones ``waiting`` until the one before
    approves. A 后加签 round keeps the requester's submitted form (``data``): the engine
    task is completed with it only when the last added approver has approved.
    """

    __tablename__ = "task_signs"
    __table_args__ = (Index("ix_task_signs_user", "user_id", "status"),
                      Index("ix_task_signs_task", "task_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    round_id: Mapped[int] = mapped_column(Integer)  # the id of the round's first row
    kind: Mapped[str] = mapped_column(String(16))  # before | after
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # the added approver
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    opinion: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(JSON)  # 后加签: the requester's form, held until the last approval
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
