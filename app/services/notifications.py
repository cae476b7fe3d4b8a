"""Notifications to applicants, through pluggable channels.

A channel is anything with a ``name`` and ``deliver(notification)``. The default
channel, ``outbox``, only keeps the message in the notifications table, where
staff can read what applicants were told. SMS or e-mail providers register a
channel of their own with :func:`register_channel` and are picked with
``APP_NOTIFY_CHANNEL``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, Notification


class Channel(Protocol):
    name: str

    def deliver(self, notification: Notification) -> bool:
        """Send it; True when the provider took it. Must not raise for a refused message."""


class OutboxChannel:
    """Keeps messages in the outbox table for staff to read (no provider)."""

    name = "outbox"

    def deliver(self, notification: Notification) -> bool:
        return False  # stays queued in the outbox


_channels: dict[str, Channel] = {"outbox": OutboxChannel()}
_active = "outbox"


def register_channel(channel: Channel) -> None:
    _channels[channel.name] = channel


def configure(name: str | None) -> None:
    global _active
    name = name or "outbox"
    if name not in _channels:
        raise ValueError(f"unknown notification channel {name!r}; known: {', '.join(sorted(_channels))}")
    _active = name


def notify_applicant(session: Session, case: Case, *, subject: str, body: str, now: datetime) -> Notification:
    channel = _channels[_active]
    row = Notification(case_id=case.id, channel=channel.name, recipient=case.applicant_phone,
                       subject=subject[:255], body=body, status="queued", created_at=now)
    session.add(row)
    if channel.deliver(row):
        row.status, row.sent_at = "sent", now
    return row


def for_case(session: Session, case_id: int) -> list[Notification]:
    return list(session.execute(select(Notification).where(Notification.case_id == case_id)
                                .order_by(Notification.id)).scalars())


def outbox(session: Session, *, limit: int = 100, offset: int = 0) -> list[Notification]:
    return list(session.execute(select(Notification).order_by(Notification.id.desc())
                                .limit(limit).offset(offset)).scalars())
