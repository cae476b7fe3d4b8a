"""One transaction per use case, committed at the edge.

Routes, jobs and CLI commands call :func:`run_use_case`; services only flush.
A use case that loses a race (a stale workflow version, or SQLite's busy
snapshot) is rolled back and run again from the start, a bounded number of
times, so two departments finishing parallel branches of one case both succeed.
"""
from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..errors import ConcurrentUpdate

T = TypeVar("T")
log = logging.getLogger(__name__)

_RETRYABLE_PG_CODES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in _RETRYABLE_PG_CODES
    return False


# SQLite allows one writer at a time. Writers queue for it: threads of this
# process on a lock, processes on the same database (several workers, the
# scheduler process) on an advisory file lock beside it. Both hand over at once,
# where SQLite's busy handler would poll with sleeps of up to 100 ms. The write
# transaction then takes SQLite's own lock at BEGIN IMMEDIATE, so a writer that
# does not queue here (a migration, a script) still excludes the others.
_sqlite_writer = threading.Lock()
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


class _FileLocks:
    """The open lock file of each database file. Called only under ``_sqlite_writer``, so no
    other thread of the process holds a lock when a file is opened or closed. A forked child
    starts afresh (see ``_after_fork``): a lock belongs to the open file, which it would share."""

    KEEP = 4  # a server uses one database; tests use one per test

    def __init__(self) -> None:
        self._files: dict[str, int | None] = {}  # database path -> fd (None: cannot be opened), latest last

    def fd(self, database: str) -> int | None:
        if database in self._files:
            fd = self._files.pop(database)
        else:
            fd = self._open(database)
            while len(self._files) >= self.KEEP:
                old = self._files.pop(next(iter(self._files)))
                if old is not None:
                    os.close(old)
        self._files[database] = fd
        return fd

    @staticmethod
    def _open(database: str) -> int | None:
        try:  # flock needs no write access: read-only also works on a file another user created
            return os.open(database + ".writer-lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.warning("no writers' lock file beside %s (%s): writers of other processes wait in "
                        "SQLite's busy handler instead", database, exc)
            return None

    def forget_inherited(self) -> None:
        for fd in self._files.values():
            if fd is not None:
                os.close(fd)  # the parent's lock stays: its own descriptor still refers to the file
        self._files = {}


_file_locks = _FileLocks()


def _after_fork() -> None:
    """In a forked child (a gunicorn worker): fresh locks; a thread of the parent may have held them."""
    global _sqlite_writer
    _sqlite_writer = threading.Lock()
    _file_locks.forget_inherited()


os.register_at_fork(after_in_child=_after_fork)


@contextmanager
def _across_processes(database: str | None) -> Iterator[None]:
    # in memory or a URI filename (file:…): no file of that name to put a lock beside
    fd = None if not database or database == ":memory:" or database.startswith("file:") \
        else _file_locks.fd(os.path.abspath(database))
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without holding the GIL
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def _writer(session: Session) -> Iterator[None]:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    token = write_intent.set(True)
    try:
        with _sqlite_writer, _across_processes(bind.url.database):
            yield
    finally:
        write_intent.reset(token)


_COMMIT_HOOKS = "binglian.after_commit"


def after_commit(session: Session, prepare: Callable[[], Callable[[], None] | None]) -> None:
    """Run something once this use case has committed (e.g. keep a live workflow for the next step).

    ``prepare`` is called after the last flush, before the commit, where the
    rows still hold what is being committed; what it returns runs after the
    commit. Nothing runs when the use case rolls back or is not run through
    :func:`run_use_case`.
    """
    session.info.setdefault(_COMMIT_HOOKS, []).append(prepare)


def _commit(session: Session) -> None:
    session.flush()
    prepared = [prepare() for prepare in session.info.pop(_COMMIT_HOOKS, [])]
    session.commit()
    for hook in prepared:
        if hook is None:
            continue
        try:
            hook()
        except Exception:  # the commit stands; a hook is an optimisation, never part of the use case
            log.exception("after-commit hook failed")


def run_use_case(session: Session, fn: Callable[[], T], retries: int = 20) -> T:
    """Run ``fn`` in a transaction: commit on success, roll back on any error."""
    for attempt in range(retries + 1):
        try:
            with _writer(session):
                session.rollback()  # end any read transaction, so the write one starts fresh
                session.info.pop(_COMMIT_HOOKS, None)
                try:
                    result = fn()
                    _commit(session)
                except BaseException:
                    session.info.pop(_COMMIT_HOOKS, None)
                    session.rollback()
                    raise
            return result
        except Exception as exc:
            if not _is_retryable(exc):
                raise
            if attempt == retries:
                log.warning("use case gave up after %s retries: %s", retries, exc)
                raise ConcurrentUpdate("系统繁忙，请稍后重试") from exc
            # a few milliseconds with jitter, so racing writers spread out
            time.sleep(random.uniform(0.001, 0.004) * (attempt + 1))
    raise AssertionError("unreachable")
