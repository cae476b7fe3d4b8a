"""SQLite writers queue across processes on a file lock beside the database (uow._writer).

Each test asks another process whether it can take the lock right now, so no
test depends on timing.
"""
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import uow

_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held")
else:
    print("free")
"""


def _another_process_sees(lock_file: str) -> str:
    return subprocess.run([sys.executable, "-c", _PROBE, lock_file], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def test_a_use_case_on_sqlite_holds_the_lock_and_lets_go_after(app):
    with app.app_context():
        database = db.engine.url.database
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL writers lock rows, not the database")
        lock_file = os.path.abspath(database) + ".writer-lock"
        seen = uow.run_use_case(db.session, lambda: (db.session.execute(text("SELECT 1")),
                                                     _another_process_sees(lock_file))[1])
        assert seen == "held"
        assert _another_process_sees(lock_file) == "free"


def test_the_lock_is_released_when_the_use_case_fails(tmp_path):
    database = str(tmp_path / "x.db")
    with pytest.raises(RuntimeError):
        with uow._across_processes(database):
            assert _another_process_sees(database + ".writer-lock") == "held"
            raise RuntimeError("the use case failed")
    assert _another_process_sees(database + ".writer-lock") == "free"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_queues_on_a_lock_file_of_its_own(tmp_path):
    """gunicorn forks its workers: a lock opened before the fork must not be shared by them."""
    database = str(tmp_path / "y.db")
    inherited = uow._file_locks.fd(os.path.abspath(database))  # opened here, before the fork
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child takes the lock and holds it until told to stop
        try:
            with uow._across_processes(database):
                os.write(ready_w, b"1")
                os.read(done_r, 1)
        finally:
            os._exit(0)
    try:
        os.read(ready_r, 1)
        import fcntl
        with pytest.raises(BlockingIOError):  # the parent's own open file is excluded by the child's lock
            fcntl.flock(inherited, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.write(done_w, b"1")
        os.waitpid(pid, 0)
    assert _another_process_sees(database + ".writer-lock") == "free"


def _lock_files_here() -> set[str]:
    return {name for name in os.listdir(".") if name.endswith(".writer-lock")}


def test_no_lock_file_for_an_in_memory_database():
    before = _lock_files_here()
    for database in (":memory:", None, "file:x.db?mode=memory"):  # a URI filename names no file either
        with uow._across_processes(database):
            pass
    assert _lock_files_here() == before


def _target(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # the listing's own descriptor, closed by now
        return ""


def test_a_process_keeps_only_a_few_lock_files_open(tmp_path):
    """The test suite uses a database per test: the lock files of earlier ones are closed."""
    locks = uow._FileLocks()
    fds = [locks.fd(str(tmp_path / f"{i}.db")) for i in range(uow._FileLocks.KEEP + 3)]
    open_here = [target for target in map(_target, os.listdir("/proc/self/fd")) if target.startswith(str(tmp_path))]
    assert len(open_here) == uow._FileLocks.KEEP
    assert locks.fd(str(tmp_path / f"{uow._FileLocks.KEEP + 2}.db")) == fds[-1]  # the latest is kept


def test_without_a_lock_file_writers_fall_back_to_sqlites_own_lock(tmp_path, caplog):
    """A lock file that cannot be made (here: no such folder; elsewhere: no right to create it)
    must not stop writing: SQLite's BEGIN IMMEDIATE still excludes the other writers."""
    ran = []
    with uow._across_processes(str(tmp_path / "no-such-folder" / "x.db")):
        ran.append(True)
    assert ran == [True] and "no writers' lock file" in caplog.text


def test_a_database_locked_at_begin_is_retried_and_ends_in_a_clear_error(app):
    """BEGIN IMMEDIATE goes straight to the driver; its "database is locked" must still count as
    a retryable SQLAlchemy error, so the user sees 系统繁忙 and not a server error."""
    import sqlite3

    from sqlalchemy import event

    from app.errors import ConcurrentUpdate
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        db.session.remove()
        db.engine.dispose()

        def short_wait(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA busy_timeout=50")
        event.listen(db.engine, "connect", short_wait)
        outsider = sqlite3.connect(db.engine.url.database, isolation_level=None)  # takes no file lock
        outsider.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(ConcurrentUpdate, match="系统繁忙"):
                uow.run_use_case(db.session, lambda: db.session.execute(text("UPDATE users SET name = name")),
                                 retries=1)
        finally:
            outsider.rollback()
            outsider.close()
            event.remove(db.engine, "connect", short_wait)
            db.session.remove()
            db.engine.dispose()
