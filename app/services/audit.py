"""Audit events, written in the caller's transaction (so they roll back with it)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AuditEvent


def record(session: Session, *, action: str, at: datetime, actor_id: int | None,
           case_id: int | None = None, object_type: str | None = None,
           object_id: str | int | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(action=action, at=at, actor_id=actor_id, case_id=case_id,
                       object_type=object_type,
                       object_id=str(object_id) if object_id is not None else None,
                       before=before, after=after)
    session.add(event)
    return event


def case_events(session: Session, case_id: int) -> list[AuditEvent]:
    return list(session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)).scalars())
