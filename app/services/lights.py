"""The stored moments lights turn yellow (``warn_at`` of open tasks and running cases).

``warn_at`` is worked out from a deadline, the calendar and the catalog's warning ratio
(:func:`deadlines.warn_at`) whenever a deadline is set or moved. It is derived data, a
cache of the calendar's answer, so filling or forgetting it is no event of the case
and writes no audit event. A row without one has its light worked out when it is shown,
and gets one from the scheduler:

* after a calendar import, which forgets every open row's moment;
* when a scheduler process starts (office hours are read at start-up and may have changed);
* rows written before migration 0016.
"""
from __future__ import annotations

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from ..models import Case, CalendarYear, Task
from . import calendar, deadlines, processes

BATCH = 500  # rows per transaction: a short write lock, however many rows are missing
MAX_BATCHES = 200  # per scan


def past_yellow(warn_at, due, now) -> tuple:
    """The two conditions, each one index range of ix_tasks_warn / ix_cases_warn (an OR of them is
    not), under which a row may be yellow or red at ``now``: past its stored moment, or without one."""
    return warn_at < now, and_(warn_at.is_(None), due.is_not(None))


def forget(session: Session) -> None:
    """Open rows lose their moment; the scheduler works each out again."""
    session.execute(update(Task).where(Task.state == "ready", Task.warn_at.is_not(None))
                    .values(warn_at=None).execution_options(synchronize_session=False))
    session.execute(update(Case).where(Case.status == "running", Case.warn_at.is_not(None))
                    .values(warn_at=None).execution_options(synchronize_session=False))


def fill(session: Session, limit: int = BATCH) -> int:
    """Work out the moment of up to ``limit`` open tasks and cases that have none; how many were written."""
    stamp = session.execute(_NEWEST_IMPORT).scalar()
    cal = calendar.load(session, fresh=True)  # another process may have imported a year in the last seconds
    ratios: dict[int, float] = {}

    def ratio(definition_id: int) -> float:
        if definition_id not in ratios:
            ratios[definition_id] = deadlines.warn_ratio(processes.deployed(session, definition_id).catalog)
        return ratios[definition_id]

    tasks = session.execute(
        select(Task.id, Task.created_at, Task.due_at, Case.process_definition_id)
        .join(Case, Case.id == Task.case_id)
        .where(Task.state == "ready", Task.due_at.is_not(None), Task.warn_at.is_(None)).limit(limit)).all()
    if tasks:
        session.execute(_SET_TASK, [
            {"b_id": t.id, "b_due": t.due_at, "b_stamp": stamp,
             "b_warn": deadlines.warn_at(cal, t.created_at, t.due_at, ratio(t.process_definition_id))}
            for t in tasks])
    cases = session.execute(
        select(Case.id, Case.created_at, Case.deadline, Case.process_definition_id)
        .where(Case.status == "running", Case.deadline.is_not(None), Case.warn_at.is_(None))
        .limit(limit)).all()
    if cases:
        session.execute(_SET_CASE, [
            {"b_id": c.id, "b_due": c.deadline, "b_stamp": stamp,
             "b_warn": deadlines.warn_at(cal, c.created_at, c.deadline, ratio(c.process_definition_id))}
            for c in cases])
    return len(tasks) + len(cases)


# The newest calendar import: one committed after the calendar was read makes the moments
# worked out from it void (the import forgets them; these must not come back after it).
_NEWEST_IMPORT = select(func.max(CalendarYear.imported_at))
_SAME_CALENDAR = _NEWEST_IMPORT.scalar_subquery().is_not_distinct_from(
    bindparam("b_stamp", type_=CalendarYear.__table__.c.imported_at.type))
# only where the row still has no moment and the same deadline: a step that moved it meanwhile wins
_SET_TASK = (update(Task.__table__).where(Task.id == bindparam("b_id"), Task.warn_at.is_(None),
                                          Task.due_at == bindparam("b_due"), _SAME_CALENDAR)
             .values(warn_at=bindparam("b_warn")))
_SET_CASE = (update(Case.__table__).where(Case.id == bindparam("b_id"), Case.warn_at.is_(None),
                                          Case.deadline == bindparam("b_due"), _SAME_CALENDAR)
             .values(warn_at=bindparam("b_warn")))
