"""Run a prebuilt Core write statement on the driver connection, in the session's transaction.

Each engine step writes the same few rows: its workflow state, its case, the
completed task and one audit event. SQLAlchemy's execution path costs 0.07–0.13 ms
per statement on top of the driver's 0.015 ms (SQLite, measured in process; see
bench/history.md, session 7), several times what the statement itself costs. The
step's writes therefore go through :func:`execute`:

- the statement is compiled once per dialect and set of parameter names, by
  SQLAlchemy, and its parameters converted by the same bind processors SQLAlchemy
  would use (JSON, UTC datetimes), so what is stored is the same byte for byte;
- it runs in the session's transaction, on the connection the session holds;
- ``before_cursor_execute`` and ``after_cursor_execute`` listeners still see it, so
  statement counting and logging keep working;
- a driver error is raised as the SQLAlchemy error SQLAlchemy itself would raise
  (``OperationalError`` for SQLite's 'database is locked', ``IntegrityError``…), so
  the use case's retry and error mapping are unchanged.

Only plain statements qualify: no Python-side column defaults or ``onupdate``
values (they are not applied here), no ``RETURNING``, no expanding ``IN``.
:func:`execute` refuses a statement whose table has such defaults.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert, Update


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]  # the parameters in the order the SQL wants them
    positional: bool
    processors: tuple[Callable[[Any], Any] | None, ...]


# keyed by the dialect object itself: its bind processors follow that engine's settings (e.g. its JSON serializer)
_compiled: dict[tuple[int, object, tuple[str, ...]], tuple[Insert | Update, _Compiled]] = {}


def _has_python_defaults(stmt: Insert | Update) -> bool:
    return any(column.default is not None or column.onupdate is not None for column in stmt.table.columns)


def _compile(stmt: Insert | Update, dialect, keys: tuple[str, ...]) -> _Compiled:
    cache_key = (id(stmt), dialect, keys)
    hit = _compiled.get(cache_key)
    if hit is not None and hit[0] is stmt:
        return hit[1]
    if getattr(stmt, "_returning", ()) or _has_python_defaults(stmt):
        raise ValueError("direct.execute runs plain statements only: no RETURNING, no Python-side defaults")
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    if compiled.positional:
        names = tuple(compiled.positiontup)
    else:
        names = tuple(compiled.binds)
    processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    result = _Compiled(compiled.string, names, compiled.positional, processors)
    _compiled[cache_key] = (stmt, result)  # the statement is kept, so its id is never reused
    return result


def execute(session: Session, stmt: Insert | Update, params: Mapping[str, Any]) -> int:
    """Run ``stmt`` with ``params`` in the session's transaction; the number of rows it matched."""
    conn = session.connection()
    dialect = conn.dialect
    compiled = _compile(stmt, dialect, tuple(sorted(params)))
    values = [params[name] if process is None else process(params[name])
              for name, process in zip(compiled.names, compiled.processors)]
    args: Any = tuple(values) if compiled.positional else dict(zip(compiled.names, values))
    cursor = conn.connection.driver_connection.cursor()
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, args, None, False)
        try:
            cursor.execute(compiled.sql, args)
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(compiled.sql, args, exc, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from exc
        conn.dispatch.after_cursor_execute(conn, cursor, compiled.sql, args, None, False)
        return cursor.rowcount
    finally:
        cursor.close()
