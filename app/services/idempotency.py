"""Starting a case once per ``Idempotency-Key``.

A window client that loses the answer to "start this case" (a dropped connection,
a worker killed after the commit) cannot know whether the case exists. Sent again
with the same key, the request returns the case the first one started; nothing is
written twice. Keys belong to the user who sent them and are kept with the case for
``IDEMPOTENCY_KEEP_DAYS`` (7 days by default; a scheduler job forgets older ones), after
which the same key starts a new case: a retry comes seconds or minutes later, never days.
A key sent again with a different application is refused (422), as the IETF
idempotency-key draft recommends.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Case, CaseRequest
from . import cases

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII: UUIDs, ULIDs, client counters


def parse_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    if not _KEY.fullmatch(key):
        raise InvalidInput(f"请求头 {HEADER} 须为 1–128 个可见 ASCII 字符（如 UUID）",
                           {HEADER: ["格式不正确"]})
    return key


def request_hash(payload: Any) -> str:
    """The application as sent, in a canonical form: the same request gives the same hash."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def forget_before(session: Session, cutoff: datetime) -> int:
    """Forget the keys sent before ``cutoff``; returns how many."""
    return session.execute(delete(CaseRequest).where(CaseRequest.created_at < cutoff)).rowcount


def _earlier(session: Session, user_id: int, key: str, digest: str) -> Case | None:
    row = session.get(CaseRequest, (user_id, key), populate_existing=True)
    if row is None:
        return None
    if row.request_hash != digest:
        raise InvalidInput(f"该 {HEADER} 已用于另一份申请；新的申请请使用新的键", {HEADER: ["已被另一份申请使用"]})
    return session.get(Case, row.case_id)


def start_case_once(session: Session, *, key: str | None, digest: str, user_id: int, now: datetime,
                    start: Callable[[], Case]) -> tuple[Case, bool]:
    """``start()`` at most once per (user, key), in the caller's transaction: (case, replayed)."""
    if key is None:
        return start(), False
    earlier = _earlier(session, user_id, key, digest)
    if earlier is not None:
        return earlier, True
    row = CaseRequest(user_id=user_id, key=key, request_hash=digest, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()  # on PostgreSQL a transaction holding the same key makes this wait, then fail
    except IntegrityError:
        earlier = _earlier(session, user_id, key, digest)  # that transaction has committed its case
        if earlier is None:
            raise
        return earlier, True
    case = start()
    row.case_id = case.id
    return case, False


def start_application(session: Session, *, key: str | None, request_body: Any, user_id: int, process_key: str,
                      applicant: dict, data: dict, region_code: str, now: datetime) -> tuple[Case, bool]:
    """A window's application (the API's and the desk page's): the case is started at most once
    per (user, key); ``request_body`` is the request as sent, whose hash tells a retry from a new one."""
    return start_case_once(session, key=key, digest=request_hash(request_body), user_id=user_id, now=now,
                           start=lambda: cases.start_case(session, process_key=process_key, applicant=applicant,
                                                          data=data, actor_id=user_id, region_code=region_code,
                                                          now=now))
