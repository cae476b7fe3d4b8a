"""Audit events (全程留痕), written in the caller's transaction so they roll back with it.

Events of a case form a hash chain: each event's hash covers its content and the
previous event's hash, and the case keeps the newest hash. Changing, removing or
re-ordering any event, including the last, breaks the chain (see :func:`verify`).
Callers hold the case's workflow-state row lock while recording, so two
writers never fork a chain.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, Case
from . import direct


def _digest(prev: str | None, event) -> str:
    """The hash of an event (anything with the event's attributes) after ``prev``."""
    body = json.dumps({
        "prev": prev, "at": event.at.astimezone(timezone.utc).isoformat(), "actor": event.actor_id, "action": event.action,
        "case": event.case_id, "type": event.object_type, "object": event.object_id,
        "before": event.before, "after": event.after,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class _NewEvent:
    at: datetime
    actor_id: int | None
    action: str
    case_id: int | None
    object_type: str | None
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str | None = None
    hash: str | None = None


def record(session: Session, *, action: str, at: datetime, actor_id: int | None,
           case: Case | None = None, object_type: str | None = None,
           object_id: str | int | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> None:
    """Append an event; a case event extends the case's chain.

    The caller must hold the case's workflow-state lock (every case use case takes it
    first) and have the case freshly loaded, so the head it extends is current.
    The event is inserted at once, in the caller's transaction, so events keep the
    order they were recorded in (the chain is read back by id).
    """
    if case is not None and case.id is None:
        raise ValueError("audit.record needs a stored case: flush the new case first")
    event = _NewEvent(at=at, actor_id=actor_id, action=action, case_id=case.id if case else None,
                      object_type=object_type, object_id=str(object_id) if object_id is not None else None,
                      before=before, after=after, prev_hash=case.audit_head if case is not None else None)
    event.hash = _digest(event.prev_hash, event)
    if case is not None:
        case.audit_head = event.hash
    # a plain INSERT, not the unit of work: every use case writes at least one event
    direct.execute(session, _INSERT_EVENT, vars(event))


_INSERT_EVENT = insert(AuditEvent.__table__)


def case_events(session: Session, case_id: int) -> list[AuditEvent]:
    return list(session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)).scalars())


@dataclass(frozen=True)
class ChainProblem:
    case_no: str
    event_id: int | None
    problem: str


def verify(session: Session) -> list[ChainProblem]:
    """Recompute every case's chain; list each changed, removed or re-ordered event."""
    problems: list[ChainProblem] = []
    for case in session.execute(select(Case).order_by(Case.id)).scalars():
        prev = None
        for event in case_events(session, case.id):
            if event.prev_hash != prev:
                problems.append(ChainProblem(case.case_no, event.id, "前一条记录缺失或顺序被改动"))
            if event.hash is None:
                problems.append(ChainProblem(case.case_no, event.id, "记录缺少校验值"))
            elif event.hash != _digest(event.prev_hash, event):
                problems.append(ChainProblem(case.case_no, event.id, "记录内容被改动"))
            prev = event.hash
        if case.audit_head != prev:
            problems.append(ChainProblem(case.case_no, None, "最新的记录缺失"))
    return problems
