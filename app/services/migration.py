"""Moving running cases of an older version of a service to its newest version (迁移).

A run previews first (nothing is written), then applies: each case moves in its
own transaction with its audit event (a case that fails rolls back alone and is
reported), and one more transaction records the run itself.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import engine
from ..errors import Conflict, DomainError, InvalidInput, NotFound
from ..models import Case, ProcessDefinition, Task, Timer
from . import audit, calendar, cases, deadlines, processes, projection
from .uow import run_use_case

log = logging.getLogger(__name__)


@dataclass
class CasePreview:
    case_no: str
    case_id: int
    tasks: list[str]  # names of the active elements, as people know them
    movable: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Preview:
    key: str
    name: str
    source_version: int
    target_version: int
    cases: list[CasePreview]


@dataclass
class RunResult:
    run_id: str
    key: str
    source_version: int
    target_version: int
    moved: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {case_no, reasons}
    failed: list[dict[str, Any]] = field(default_factory=list)  # {case_no, message}


def _versions(session: Session, key: str, from_version: Any) -> tuple[ProcessDefinition, ProcessDefinition]:
    if isinstance(from_version, bool) or not isinstance(from_version, int) or from_version < 1:
        raise InvalidInput("请选择要迁移的源版本（正整数）")
    target = processes.get_latest(session, key)
    source = session.execute(select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == from_version)).scalar_one_or_none()
    if source is None:
        raise NotFound(f"流程“{key}”没有版本 v{from_version}")
    if source.version >= target.version:
        raise InvalidInput(f"v{source.version} 已是最新版本，没有可迁移到的新版本")
    return source, target


def _check(session: Session, case: Case, state_json: str, source: ProcessDefinition,
           target: ProcessDefinition, now: datetime) -> engine.MigrationCheck:
    old, new = processes.runnable(session, source), processes.runnable(session, target)
    with calendar.engine_context(calendar.load(session), now):
        return engine.check_migration(old, new, state_json)


def preview(session: Session, *, key: str, from_version: Any, now: datetime) -> Preview:
    """Which running cases of ``from_version`` would move to the newest version, and why others cannot."""
    source, target = _versions(session, key, from_version)
    rows = session.execute(select(Case).where(Case.process_definition_id == source.id, Case.status == "running")
                           .order_by(Case.id)).scalars().all()
    found = []
    for case in rows:
        state = cases.state_of(session, case.id, for_update=False)
        try:
            outcome = _check(session, case, state.state, source, target, now)
        except engine.EngineError as exc:
            outcome = engine.MigrationCheck(movable=False, reasons=[f"迁移试运行失败：{exc.message}"])
        except Exception:  # one odd case must not hide the others
            log.exception("trial migration of case %s failed", case.case_no)
            outcome = engine.MigrationCheck(movable=False, reasons=["迁移试运行时发生内部错误，该办件不能迁移"])
        names = list(dict.fromkeys(a.name for a in outcome.active if a.kind in ("user_task", "timer", "message")))
        found.append(CasePreview(case.case_no, case.id, names, outcome.movable, outcome.reasons, outcome.notes))
    return Preview(key, target.name, source.version, target.version, found)


def _follow_tasks(session: Session, case: Case, result: engine.StepResult,
                  target: processes.Deployed, cal: calendar.WorkCalendar) -> None:
    """Ready task rows take the new version's name, form and department (a new department unclaims),
    and their lights its warning ratio."""
    lanes = projection.lane_departments(session, target)
    rows = {t.id: t for t in session.execute(select(Task).where(Task.case_id == case.id,
                                                                Task.state == "ready")).scalars()}
    ratio = deadlines.warn_ratio(target.catalog)
    for row in rows.values():
        if row.due_at is not None:
            row.warn_at = deadlines.warn_at(cal, row.created_at, row.due_at, ratio)
    for snap in result.tasks:
        row = rows.get(snap.task_id)
        if row is None or snap.state != "ready":
            continue
        row.name, row.form_key = snap.name, snap.form_key
        if snap.department:  # the department named per instance (会签) stays as it was given
            continue
        department_id = lanes.get(snap.lane or "")
        row.lane = snap.lane
        if department_id != row.department_id:
            row.department_id = department_id
            row.assignee_id = row.owner_id = row.claimed_at = None


def _mark_fired(session: Session, case: Case, result: engine.StepResult, now: datetime) -> None:
    """A timer row the moved state no longer waits for, and whose time had come, counts as fired."""
    waiting = {t.task_id for t in result.timers}
    for timer in session.execute(select(Timer).where(Timer.case_id == case.id, Timer.fired_at.is_(None))).scalars():
        if timer.id not in waiting and timer.due_at <= now:
            timer.fired_at = now


def migrate_case(session: Session, *, case_no: str, source_id: int, target_id: int, actor_id: int | None,
                 run_id: str, now: datetime) -> Case:
    """Move one case (one transaction): state, task rows, timers and the case's version, with its audit event."""
    case = cases.get_case(session, case_no)
    state_row = cases.state_of(session, case.id, for_update=True)
    case = session.get(Case, case.id, populate_existing=True)
    if case.status != "running" or case.process_definition_id != source_id:
        raise Conflict(f"办件“{case_no}”已不在源版本上运行")
    source, target = session.get(ProcessDefinition, source_id), session.get(ProcessDefinition, target_id)
    outcome = _check(session, case, state_row.state, source, target, now)
    if not outcome.movable or outcome.result is None:
        raise Conflict("；".join(outcome.reasons) or "无法迁移")
    result = outcome.result
    deployed = processes.deployed(session, target.id)
    audit.record(session, action="case.migrated", at=now, actor_id=actor_id, case=case,
                 object_type="case", object_id=case.case_no,
                 before={"process_definition_id": source.id, "version": source.version},
                 after={"process_definition_id": target.id, "version": target.version, "run": run_id,
                        "tasks": [a.element_id for a in outcome.active], "notes": outcome.notes})
    case.process_definition_id = target.id
    cal = calendar.load(session)
    _follow_tasks(session, case, result, deployed, cal)
    case.warn_at = deadlines.case_warn_at(cal, deployed.catalog, case)
    _mark_fired(session, case, result, now)
    projection.apply_step(session, case, result, state_row, deployed, now,
                          deadlines.due_function(cal, deployed.catalog), actor_id=actor_id)
    if not deployed.model.get("has_timers", True):
        projection.sync_timers(session, case, result)  # the old version's timers go with it
    session.flush()
    return case


def record_run(session: Session, outcome: RunResult, *, target_id: int, actor_id: int | None,
               now: datetime) -> None:
    audit.record(session, action="process.migration_run", at=now, actor_id=actor_id,
                 object_type="process_definition", object_id=target_id,
                 after={"run": outcome.run_id, "key": outcome.key, "from_version": outcome.source_version,
                        "to_version": outcome.target_version, "moved": outcome.moved,
                        "skipped": outcome.skipped, "failed": outcome.failed})
    session.flush()


def run(session: Session, *, key: str, from_version: Any, case_numbers: list[str] | None,
        actor_id: int | None, now: datetime) -> RunResult:
    """Preview, then move every movable case (or the listed ones): one transaction per case, one for the run.

    This is an orchestrating use case: it commits through :func:`run_use_case` itself.
    """
    seen = preview(session, key=key, from_version=from_version, now=now)
    session.rollback()  # the preview only read
    source, target = _versions(session, key, from_version)
    source_id, target_id = source.id, target.id
    outcome = RunResult(uuid.uuid4().hex[:12], key, seen.source_version, seen.target_version)
    chosen = seen.cases
    if case_numbers is not None:
        wanted = list(dict.fromkeys(case_numbers))
        known = {c.case_no for c in seen.cases}
        outcome.skipped += [{"case_no": no, "reasons": [f"不是 v{seen.source_version} 上运行中的办件"]}
                            for no in wanted if no not in known]
        chosen = [c for c in seen.cases if c.case_no in set(wanted)]
    for item in chosen:
        if not item.movable:
            outcome.skipped.append({"case_no": item.case_no, "reasons": item.reasons})
            continue
        try:
            run_use_case(session, lambda no=item.case_no: migrate_case(
                session, case_no=no, source_id=source_id, target_id=target_id, actor_id=actor_id,
                run_id=outcome.run_id, now=now))
        except DomainError as exc:
            outcome.failed.append({"case_no": item.case_no, "message": exc.message})
        except engine.EngineError as exc:
            outcome.failed.append({"case_no": item.case_no, "message": exc.message})
        except Exception:  # one broken case must not stop the others
            log.exception("migrating case %s failed", item.case_no)
            outcome.failed.append({"case_no": item.case_no, "message": "迁移时发生内部错误，该办件未改变"})
        else:
            outcome.moved.append(item.case_no)
    run_use_case(session, lambda: record_run(session, outcome, target_id=target_id, actor_id=actor_id, now=now))
    return outcome
