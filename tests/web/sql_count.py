"""Count the SQL statements a page sends (for the no-N+1 checks)."""
from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db


@contextmanager
def counting():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        # whether the sign-in token is read again depends on the token cache's second, not on the page
        if "FROM api_tokens" not in statement:
            statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
