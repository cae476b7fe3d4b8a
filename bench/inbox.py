"""Measurement 5: inbox latency (GET /api/v1/tasks?state=ready as one approver) as the tasks table grows.

Synthetic rows go straight into the database with SQL (SQLAlchemy Core on the
app's own table definitions): one case per ~7 tasks, tasks spread evenly over
the departments, mostly completed (95 %), some cancelled (3 %), some ready (2 %).
Finished tasks are spread over two years; open ones are recent and due in the
next working weeks, as in a hall that keeps up (overdue ones would wake the
supervision scan, which is not what this measures). Open rows carry their yellow
moment (``warn_at``), worked out with the app's calendar, as the app writes it.
Levels are totals of the tasks table, rows already there included. Loading a
level stops after ``inbox_load_limit_s`` seconds; what was loaded is measured.
"""
from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from .client import Connection, Http
from .common import Scale, latency_summary, log, rnd

APPROVER = "tax_approver"
APPROVER_DEPT = "tax"
TASKS_PER_CASE = 7
BATCH = 5_000


def _state(rng: random.Random) -> str:
    roll = rng.random()
    return "ready" if roll < 0.02 else "cancelled" if roll < 0.05 else "completed"


class Loader:
    def __init__(self, database_url: str) -> None:
        from app.models import Case, Department, ProcessDefinition, Task, User
        from app.services import calendar, deadlines
        self.cases, self.tasks = Case.__table__, Task.__table__
        # a long busy timeout: the server's own jobs (timers, supervision scan) may hold SQLite's write lock
        options = {"connect_args": {"timeout": 120}} if database_url.startswith("sqlite") else {}
        self.engine = create_engine(database_url, **options)
        self.rng = random.Random(20260601)
        with self.engine.connect() as conn:
            self.departments = [(r.id, r.name) for r in conn.execute(
                select(Department.id, Department.name).order_by(Department.id))]
            self.definition = conn.execute(select(func.min(ProcessDefinition.id))).scalar()
            self.definition_key = conn.execute(select(ProcessDefinition.key).where(
                ProcessDefinition.id == self.definition)).scalar()
            self.user = conn.execute(select(User.id).where(User.username == APPROVER)).scalar()
            self.next_case = (conn.execute(select(func.max(self.cases.c.id))).scalar() or 0) + 1
            catalog = conn.execute(select(ProcessDefinition.catalog).where(
                ProcessDefinition.id == self.definition)).scalar()
        with Session(self.engine) as session:  # open rows get their yellow moment, as the app writes it
            cal, ratio = calendar.load(session), deadlines.warn_ratio(catalog)
        self.warn_at = lambda made, due: deadlines.warn_at(cal, made, due, ratio)
        if self.definition is None:
            raise RuntimeError("no process definition deployed; cases rows need one")
        self.now = datetime.now(timezone.utc)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.tasks)).scalar()

    def ready_in(self, dept_code: str) -> int:
        from app.models import Department
        with self.engine.connect() as conn:
            dept = conn.execute(select(Department.id).where(Department.code == dept_code)).scalar()
            return conn.execute(select(func.count()).select_from(self.tasks).where(
                self.tasks.c.department_id == dept, self.tasks.c.state == "ready")).scalar()

    def _batch(self, n_tasks: int) -> tuple[list[dict], list[dict]]:
        rng, now = self.rng, self.now
        cases, tasks = [], []
        while len(tasks) < n_tasks:
            case_id = self.next_case
            self.next_case += 1
            created = now - timedelta(minutes=rng.randint(10, 2 * 365 * 24 * 60))
            cases.append({"id": case_id, "case_no": f"BENCH{case_id:012d}", "process_definition_id": self.definition,
                          "process_key": self.definition_key, "status": "completed", "applicant_name": "合成申请人",
                          "applicant_id_number": f"4106{case_id:014d}", "applicant_phone": "13800000000",
                          "data": {}, "created_at": created, "updated_at": created})
            for k in range(min(TASKS_PER_CASE, n_tasks - len(tasks))):
                dept_id, dept_name = self.departments[rng.randrange(len(self.departments))]
                state = _state(rng)
                made = created + timedelta(minutes=k)
                if state == "ready":  # open work: recent, not yet due
                    cases[-1]["status"] = "running"
                    made = now - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
                due = made + timedelta(days=rng.randint(5, 20))
                warn = self.warn_at(made, due) if state == "ready" else None
                tasks.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "case_id": case_id,
                              "element_id": f"t{k}", "name": f"并联事项{k + 1}", "lane": dept_name,
                              "department_id": dept_id, "form_key": None, "state": state, "created_at": made,
                              "due_at": due, "warn_at": warn,
                              "completed_by_id": self.user if state == "completed" else None,
                              "completed_at": made + timedelta(hours=2) if state == "completed" else None,
                              "data": None})
        return cases, tasks

    def load_to(self, target: int, limit_s: float) -> dict:
        started = time.perf_counter()
        have = self.count()
        limited = False
        while have < target:
            if time.perf_counter() - started > limit_s:
                limited = True
                break
            cases, tasks = self._batch(min(BATCH * 10, target - have))
            with self.engine.begin() as conn:
                for i in range(0, len(cases), BATCH):
                    conn.execute(self.cases.insert(), cases[i:i + BATCH])
                for i in range(0, len(tasks), BATCH):
                    conn.execute(self.tasks.insert(), tasks[i:i + BATCH])
                if conn.dialect.name == "postgresql":  # explicit ids: move the sequence past them
                    conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                                         "(SELECT max(id) FROM cases))")
            have += len(tasks)
        if self.engine.dialect.name == "postgresql":
            # a bulk load this size would trigger autovacuum's ANALYZE in production; do it now so
            # the measurement sees steady-state statistics instead of racing the autovacuum worker
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE tasks")
                conn.exec_driver_sql("ANALYZE cases")
        return {"rows": have, "load_s": rnd(time.perf_counter() - started, 1), "load_limited": limited}

    def dispose(self) -> None:
        self.engine.dispose()


def inbox_statement(engine) -> tuple[str, object]:
    """The app's own inbox SQL for APPROVER (captured from app.services.tasks.inbox) and its parameters."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.models import User
    from app.services import tasks as task_service
    captured: list[tuple[str, object]] = []

    def grab(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    with Session(engine) as session:
        user = session.execute(select(User).where(User.username == APPROVER)).scalar_one()
        event.listen(engine, "before_cursor_execute", grab)
        try:
            task_service.inbox(session, user, state="ready")
        finally:
            event.remove(engine, "before_cursor_execute", grab)
    return captured[-1]


def explain(engine, repeats: int = 30) -> dict:
    """The database's plan for the inbox query, and its time without the web layer."""
    statement, parameters = inbox_statement(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        else:
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            conn.exec_driver_sql(statement, parameters).fetchall()
            times.append(time.perf_counter() - started)
    return {"plan": plan, "sql_only": latency_summary(times)}


def _measure(http: Http, token: str, requests: int) -> tuple[dict, int]:
    times, returned = [], 0
    for i in range(requests + 10):
        status, body, elapsed = http.call("GET", "/api/v1/tasks?state=ready", token)
        if status != 200:
            raise RuntimeError(f"inbox returned {status}: {str(body)[:200]}")
        if i >= 10:  # the first ten warm the caches
            times.append(elapsed)
            returned = len(body)
    return latency_summary(times), returned


def run(conn: Connection, database_url: str, scale: Scale, label: str = "sqlite") -> dict:
    http, token = conn.http, conn.tokens[APPROVER]
    loader = Loader(database_url)
    levels = []
    try:
        for target in scale.inbox_levels:
            try:
                loaded = loader.load_to(target, scale.inbox_load_limit_s)
            except Exception as exc:  # keep the levels already measured
                levels.append({"target_rows": target, "error": f"loading failed: {exc!r}"[:300]})
                log(f"inbox {label}: loading {target} rows failed: {exc!r}")
                break
            summary, returned = _measure(http, token, scale.inbox_requests)
            try:
                query = explain(loader.engine)
            except Exception as exc:  # the plan is a bonus; the latency above is the figure
                query = {"plan_error": repr(exc)[:300]}
            level = {"target_rows": target, **loaded, "ready_in_approver_dept": loader.ready_in(APPROVER_DEPT),
                     "rows_returned": returned, **summary, "query": query}
            levels.append(level)
            log(f"inbox {label}: {loaded['rows']} rows (loaded in {loaded['load_s']} s): "
                f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms; SQL alone p50 "
                f"{query.get('sql_only', {}).get('p50_ms')} ms")
            if loaded["load_limited"]:
                log(f"inbox {label}: loading stopped at {loaded['rows']} rows (limit {scale.inbox_load_limit_s} s)")
                break
    finally:
        loader.dispose()
    for target in scale.inbox_levels[len(levels):]:
        levels.append({"target_rows": target, "skipped": "not loaded: an earlier level stopped (time limit or error)"})
    return {"approver": APPROVER, "departments": len(loader.departments), "levels": levels}
