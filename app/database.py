"""Engine set-up per dialect and schema migration at start."""
from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.engine import Engine

from .extensions import db
from .services.uow import write_intent


def engine_options(database_uri: str, options: dict) -> dict:
    """The engine options for ``database_uri``: a server's connections are pinged when taken
    from the pool (one that dropped while idle is replaced); a SQLite file's cannot drop, and
    the ping would be one more statement in every request."""
    if database_uri.startswith("sqlite"):
        return dict(options)
    return {"pool_pre_ping": True, **options}


def configure_engine(app: Flask) -> None:
    engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, app.config["SQLITE_SYNCHRONOUS"])


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError("APP_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # let SQLAlchemy, not pysqlite, decide when transactions begin
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # straight to the driver: every request begins at least once, and SQLAlchemy's
        # execution path costs more than the statement
        statement = "BEGIN IMMEDIATE" if write_intent.get() else "BEGIN"
        try:
            conn.connection.driver_connection.execute(statement)
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it (e.g. "database is locked" is retried)
            raise (OperationalError if isinstance(exc, sqlite3.OperationalError) else DBAPIError)(
                statement, None, exc) from exc

    engine.dispose()  # connections made before the listeners get the pragmas too


def upgrade_schema(app: Flask) -> None:
    """Apply Alembic migrations (creates the schema on an empty database)."""
    from flask_migrate import upgrade
    with app.app_context():
        upgrade(directory=str(app.config["MIGRATIONS_DIR"]))


def _sqlite_file(engine: Engine) -> str:
    if engine.dialect.name != "sqlite" or not engine.url.database:
        raise ValueError("backup/restore here is for SQLite; for PostgreSQL use pg_dump / pg_restore")
    return engine.url.database


def _copy_sqlite(source_path: str, target_path: str) -> None:
    """Copy one SQLite database into another through SQLite's online backup API."""
    import sqlite3
    source, target = sqlite3.connect(source_path), sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def sqlite_backup(engine: Engine, target) -> None:
    """Online, consistent copy while the app runs."""
    _copy_sqlite(_sqlite_file(engine), str(target))


def sqlite_restore(engine: Engine, backup) -> None:
    """Copy a backup over the database (the server must be stopped)."""
    import sqlite3
    check = sqlite3.connect(str(backup))
    try:
        ok = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        ok = False
    finally:
        check.close()
    if not ok:
        raise ValueError("the backup file fails SQLite's integrity check")
    engine.dispose()
    _copy_sqlite(str(backup), _sqlite_file(engine))
