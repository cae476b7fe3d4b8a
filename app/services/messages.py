"""Messages from outside into a running case, keyed by its case number.

A diagram waits for a message with a receive task or a catch event
(e.g. ``materials_supplied`` after a 一次性告知, ``deficiency_supplied`` for
容缺 materials). The window, or later the applicant, sends it here.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, InvalidInput
from ..models import Case
from . import audit, calendar, cases, deadlines, materials, processes, projection


def deliver(session: Session, *, case_no: str, name: str, data: dict[str, Any],
            actor_id: int | None, now: datetime) -> Case:
    case = cases.get_case(session, case_no)
    state_row = cases.state_of(session, case.id, for_update=True)
    case = session.get(Case, case.id, populate_existing=True)
    if case.status != "running":
        raise Conflict("办件已办结或已终止，不能再补交材料")
    if name not in (case.waiting_messages or []):
        raise Conflict(f"办件当前没有等待“{name}”", {"waiting": case.waiting_messages or []})
    definition = processes.deployed(session, case.process_definition_id)
    codes = data.get("materials", [])
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise InvalidInput("materials 必须是材料编码列表")
    known = {m["code"]: m for m in materials.checklist(session, case, definition.catalog)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput(f"事项目录中没有材料：{'、'.join(unknown)}", {"materials": unknown})
    not_in = [known[c]["name"] for c in codes if known[c]["status"] == "missing"]
    if not_in:
        raise InvalidInput(f"以下材料尚未上传：{'、'.join(not_in)}", {"materials": not_in})
    parsed = processes.runnable(session, definition)
    cal = calendar.load(session)
    try:
        with calendar.engine_context(cal, now):
            result = engine.deliver_message(parsed, state_row.state, name, dict(data),
                                            projection.resume_key(session, case))
    except engine.NotWaiting:
        raise Conflict(f"办件当前没有等待“{name}”") from None
    except engine.EngineError as exc:
        raise InvalidInput(exc.message, {"element_id": exc.element_id}) from None
    audit.record(session, action="message.received", at=now, actor_id=actor_id, case=case,
                 object_type="message", object_id=name, after={"data": data})
    projection.apply_step(session, case, result, state_row, definition, now,
                          deadlines.due_function(cal, definition.catalog), actor_id=actor_id, parsed=parsed)
    session.flush()
    return case
