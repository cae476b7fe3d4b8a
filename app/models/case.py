"""Cases, their workflow state, user tasks and the case-number counter."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .process import ProcessDefinition
from .types import UTCDateTime

CASE_STATUSES = ("running", "completed", "terminated")


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_warn", "status", "warn_at", "deadline"),)  # as ix_tasks_warn

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    process_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    process_key: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    applicant_name: Mapped[str] = mapped_column(String(128))
    applicant_id_number: Mapped[str] = mapped_column(String(32), index=True)
    applicant_phone: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON)
    end_event: Mapped[str | None] = mapped_column(String(128))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # 承诺时限 (else 法定)
    statutory_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())  # 法定时限
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # clock stopped since
    # the deadline's light turns yellow after this (deadlines.warn_at); empty: not worked out yet
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Art. 32: materials received (created_at) and the application accepted are kept apart
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acceptance: Mapped[str | None] = mapped_column(String(16))  # window | deemed (视为受理)
    query_code: Mapped[str | None] = mapped_column(String(16))  # given to the applicant with the case number
    waiting_messages: Mapped[list | None] = mapped_column(JSON)  # messages the diagram waits for (补齐材料 …)
    audit_head: Mapped[str | None] = mapped_column(String(64))  # hash of the newest audit event

    definition: Mapped[ProcessDefinition] = relationship(lazy="select")


class WorkflowState(db.Model):
    """Serialized engine state; ``version`` guards against lost updates."""

    __tablename__ = "workflow_states"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Task(db.Model):
    """A user task projected from the engine after every step."""

    __tablename__ = "tasks"
    __table_args__ = (
        # in the inbox's whole sort order, so a page reads only its own rows (no sort of every open task)
        Index("ix_tasks_inbox", "department_id", "state", "due_at", "created_at", "id"),
        Index("ix_tasks_case", "case_id", "created_at"),
        Index("ix_tasks_open", "state", "due_at", "created_at", "id"),  # lights and the managers' inbox
        # the supervision scan: open tasks past their yellow moment, and those without one yet
        Index("ix_tasks_warn", "state", "warn_at", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(128))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    form_key: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # yellow after this; as Case.warn_at
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict | None] = mapped_column(JSON)
    # who works it now (认领 / 转办 / 委派); empty: anyone of the department may take it
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # 委派: who it comes back to
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(lazy="raise")


class CaseCounter(db.Model):
    """Per-day sequence for unified case numbers (统一受理号码)."""

    __tablename__ = "case_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


class CaseRequest(db.Model):
    """A new-case request sent with an ``Idempotency-Key``: the same key from the same
    user returns this case again instead of starting a second one."""

    __tablename__ = "case_requests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# A deadline moved without its yellow moment loses the stale one: the light is then worked
# out when shown, and the scheduler stores it again (services/lights.py). Code that moves a
# deadline and sets the moment sets the deadline first.
@event.listens_for(Task.due_at, "set")
def _task_due_moved(target: Task, value, oldvalue, initiator) -> None:
    if value != oldvalue:
        target.warn_at = None


@event.listens_for(Case.deadline, "set")
def _case_deadline_moved(target: Case, value, oldvalue, initiator) -> None:
    if value != oldvalue:
        target.warn_at = None
