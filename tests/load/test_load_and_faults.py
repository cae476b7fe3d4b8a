"""Load and faults against the production topology: gunicorn with 4 workers and a separate scheduler
process on PostgreSQL, driven over HTTP from 16 threads.

200 cases, each with three parallel department branches and a 2-second timer on a fourth branch.
During the load one gunicorn worker and the scheduler are killed with SIGKILL; the scheduler is
restarted (gunicorn's master forks a new worker by itself). Afterwards every completion that was
answered 200 is in the database, every case reached its end, the timers that came due while the
scheduler was down have fired, and every case's audit chain verifies.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from ..conftest import ADMIN_PASSWORD, DEMO_PASSWORD, _make_app
from .driver import BRANCHES, Driver
from .topology import Topology

CASES, THREADS = 200, 16
XML = (Path(__file__).parent / "load_parallel.bpmn").read_text().replace("WAIT_PLACEHOLDER", '"PT2S"')
USERS = ["window_clerk", "analyst", *BRANCHES.values()]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)  # timestamptz on PostgreSQL


@pytest.fixture
def pg_url(pg_databases):
    name = pg_databases.create(template=pg_databases.template)
    yield pg_databases.admin_url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + name
    pg_databases.drop(name)


@pytest.fixture
def topology(pg_url, tmp_path):
    topo = Topology(pg_url, tmp_path)
    try:
        topo.start_scheduler()  # first, as in the README: it migrates and sets up
        topo.start_web()
        yield topo
    finally:
        topo.stop()


def login(url: str, username: str) -> str:
    password = ADMIN_PASSWORD if username == "admin" else DEMO_PASSWORD
    resp = requests.post(url + "/api/v1/auth/login", json={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


class Faults:
    """Kills a worker after ``worker_at`` intakes and the scheduler after ``scheduler_at``; restarts it
    once timers have come due while it was down."""

    def __init__(self, topo: Topology, driver: Driver, engine, worker_at=40, scheduler_at=80) -> None:
        self.topo, self.driver, self.engine = topo, driver, engine
        self.worker_at, self.scheduler_at = worker_at, scheduler_at
        self.killed_worker: int | None = None
        self.down_at = self.up_at = None
        self.due_while_down: set[str] = set()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _wait_for(self, started: int) -> None:
        give_up = time.monotonic() + 120
        while self.driver.rec.started < started:
            if time.monotonic() > give_up:
                raise TimeoutError(f"only {self.driver.rec.started} cases started")
            time.sleep(0.05)

    def _unfired_due(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(text("SELECT id FROM timers WHERE fired_at IS NULL AND due_at < :t"),
                                    {"t": utcnow()}).scalars())

    def _run(self) -> None:
        try:
            self._wait_for(self.worker_at)
            self.killed_worker = self.topo.kill_worker()
            self._wait_for(self.scheduler_at)
            self.topo.kill_scheduler()
            self.down_at = utcnow()
            give_up = time.monotonic() + 20
            while time.monotonic() < give_up:  # down at least 3 s, and until some timer is overdue
                time.sleep(0.5)
                self.due_while_down = self._unfired_due()
                if self.due_while_down and (utcnow() - self.down_at).total_seconds() >= 3:
                    break
            self.up_at = utcnow()
            self.topo.start_scheduler()
        except BaseException as exc:  # reported by the test
            self.error = exc


def poll_issue(engine):
    def ready(case_nos: set[str]) -> set[str]:
        if not case_nos:
            return set()
        with engine.connect() as conn:
            return set(conn.execute(text(
                "SELECT c.case_no FROM tasks t JOIN cases c ON c.id = t.case_id "
                "WHERE t.element_id = 'issue' AND t.state = 'ready'")).scalars()) & case_nos
    return ready


def finish_orphans(driver: Driver, engine, deadline: float) -> list[str]:
    """Cases created on the server whose creation answer was lost (the worker died): finish them over HTTP."""
    with engine.connect() as conn:
        orphans = sorted(set(conn.execute(text("SELECT case_no FROM cases WHERE process_key = 'load_parallel'"))
                             .scalars()) - driver.rec.case_nos)
    users = {"intake": "window_clerk", "issue": "window_clerk", **BRANCHES}
    for case_no in orphans:
        while time.monotonic() < deadline:
            case = driver.case(case_no)
            if case["status"] != "running":
                break
            for task in [t for t in case["tasks"] if t["state"] == "ready"]:
                element = task["element_id"]
                driver.complete(task["id"], users[element], {f"{element}_done": True} if element in BRANCHES else {})
            time.sleep(0.2)
    return orphans


def test_200_cases_from_16_threads_survive_killed_worker_and_scheduler(topology, pg_url, capsys):
    began = time.monotonic()
    tokens = {u: login(topology.url, u) for u in USERS}
    resp = requests.post(topology.url + "/api/v1/processes", files={"file": ("load.bpmn", XML.encode())},
                         headers={"Authorization": f"Bearer {tokens['analyst']}"}, timeout=30)
    assert resp.status_code == 201, resp.text
    engine = create_engine(pg_url)
    driver = Driver(topology.url, tokens, threads=THREADS)
    faults = Faults(topology, driver, engine)
    faults.thread.start()
    try:
        driver.run(CASES, deadline=time.monotonic() + 150, poll_issue=poll_issue(engine))
        faults.thread.join(60)
        orphans = finish_orphans(driver, engine, deadline=time.monotonic() + 30)
        loaded = time.monotonic() - began
        rec = driver.rec
        assert faults.error is None, repr(faults.error)
        assert rec.server_errors == [], rec.server_errors[:5]
        assert rec.problems == [], rec.problems[:5]
        assert not [s for s in rec.statuses if s >= 500], rec.statuses
        assert len(rec.case_nos) == CASES and len(rec.finished) == CASES, (len(rec.case_nos), len(rec.finished))
        assert orphans == [], orphans  # every start carried an Idempotency-Key: a retry never made a second case
        check_database(engine, driver, faults, orphans)
        check_workers_replaced(topology, faults)
        assert verify_audit(pg_url, topology.folder) == []
        for name in ("gunicorn.log", "scheduler-1.log", "scheduler-2.log"):  # nothing went wrong unseen
            assert "Traceback" not in topology.log_text(name), topology.log_text(name)[-3000:]
    finally:
        engine.dispose()
    with capsys.disabled():
        print(f"\n[load] {CASES} cases, {THREADS} threads, {sum(rec.statuses.values())} answers {dict(rec.statuses)}, "
              f"{rec.connection_errors} connection errors retried, {len(rec.completed_409_after_retry)} completions "
              f"whose answer was lost, {len(orphans)} orphan cases, {len(faults.due_while_down)} timers due while "
              f"the scheduler was down; load {loaded:.1f} s")


def check_database(engine, driver: Driver, faults: Faults, orphans: list[str]) -> None:
    rec = driver.rec
    done = rec.completed_200 | rec.completed_409_after_retry
    with engine.connect() as conn:
        cases = conn.execute(text(
            "SELECT c.case_no, c.status, c.end_event, c.data, w.version, "
            "(SELECT count(*) FROM audit_events a WHERE a.case_id = c.id AND a.action = 'timer.fired') "
            "FROM cases c JOIN workflow_states w ON w.case_id = c.id WHERE c.process_key = 'load_parallel'")).all()
        states = dict(conn.execute(text("SELECT id, state FROM tasks")).all())
        events = dict(conn.execute(text("SELECT object_id, count(*) FROM audit_events "
                                        "WHERE action = 'task.completed' GROUP BY object_id")).all())
        fired_at = dict(conn.execute(text("SELECT id, fired_at FROM timers")).all())
    assert len(cases) == CASES + len(orphans)
    for case_no, status, end, data, version, timer_steps in cases:
        assert (status, end) == ("completed", "end"), (case_no, status, end)
        assert {k for k in data if k.endswith("_done")} == {f"{b}_done" for b in BRANCHES}, (case_no, data)
        # start, intake, three branches and the issue, plus the timer when the scheduler fired it (a
        # department completing after it came due runs it in that same step): none lost or doubled
        assert timer_steps <= 1 and version == 6 + timer_steps, (case_no, version, timer_steps)
    assert all(states.get(t) == "completed" for t in done), [t for t in done if states.get(t) != "completed"][:5]
    assert all(events.get(t) == 1 for t in done), [(t, events.get(t)) for t in done if events.get(t) != 1][:5]
    assert all(fired_at.values())  # a row left means a timer that never fired
    assert faults.due_while_down, "no timer came due while the scheduler was down"
    by_scheduler = [t for t in faults.due_while_down if t in fired_at]
    assert by_scheduler and all(fired_at[t] >= faults.up_at for t in by_scheduler), (by_scheduler, faults.up_at)


def check_workers_replaced(topology: Topology, faults: Faults) -> None:
    pids = topology.worker_pids()
    assert faults.killed_worker is not None and faults.killed_worker not in pids
    assert len(pids) == topology.workers  # the master forked a replacement


def verify_audit(pg_url: str, folder: Path) -> list:
    from app.extensions import db
    from app.services import audit
    app = _make_app(pg_url, folder)
    with app.app_context():
        try:
            return audit.verify(db.session)
        finally:
            db.session.remove()
            db.engine.dispose()

