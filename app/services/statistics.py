"""The query planner's table statistics (SQLite's ANALYZE).

Without statistics SQLite's planner prefers any index with an equality on it: for "the
completed tasks of the cases received this month" it takes the index on ``state`` and reads
95 % of the tasks table (the dashboard's handling-time figure: 10 s at 1M tasks) instead of
starting from the month's cases (0.13 s once the statistics are there). PostgreSQL's
autovacuum keeps its statistics itself.

Small databases are left without: statistics taken on a near-empty table describe it as
tiny (ANALYZE skips empty tables, and says "every row has this case_id" of a table with a
few) and would mislead the planner while the hall's first weeks fill it; with none SQLite
assumes every equality is selective, which is right for this schema's indexes.
"""
from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..models import Task


MIN_TASKS = 10_000  # below this, no statistics (see above)


def needed(session: Session) -> bool:
    """Whether this database is SQLite (the only one where the app keeps them) and big enough."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    return session.execute(select(func.count()).select_from(
        select(Task.id).limit(MIN_TASKS).subquery())).scalar_one() >= MIN_TASKS


def missing(session: Session) -> bool:
    return session.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is None


def refresh(session: Session) -> None:
    """ANALYZE every table and index (about 1.5 s at 1M tasks, as one write transaction)."""
    session.execute(text("ANALYZE"))
