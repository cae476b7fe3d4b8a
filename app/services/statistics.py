"""The query planner's table statistics (SQLite's ANALYZE).

Without statistics SQLite's planner prefers any index with an equality on it: for "the
completed tasks of the cases received this month" it takes the index on ``state`` and reads
95 % of the tasks table (the dashboard's handling-time figure: 10 s at 1M tasks) instead of
starting from the month's cases (0.13 s once the statistics are there). PostgreSQL's
autovacuum keeps its statistics itself.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def needed(session: Session) -> bool:
    """Whether this database is SQLite (the only one where the app keeps them)."""
    return session.get_bind().dialect.name == "sqlite"


def missing(session: Session) -> bool:
    return session.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is None


def refresh(session: Session) -> None:
    """ANALYZE every table and index (about 1.5 s at 1M tasks, as one write transaction)."""
    session.execute(text("ANALYZE"))
