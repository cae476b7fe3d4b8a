"""Where a complete-task request spends its time: pyinstrument, in process.

The app runs in this process on a fresh SQLite file (the same configuration as
``python run.py``, demo data loaded) and is called through Flask's test
client, so the profile covers Flask, the API layer, services, engine and
database but not waitress or the network. Only the complete-task calls are
profiled; their samples are summed.
"""
from __future__ import annotations

import io
import logging
import statistics
import time
from pathlib import Path

from .bpmn import BenchProcess
from .client import Connection, Http
from .common import ADMIN_PASSWORD, DEMO_PASSWORD, Scale, log, rnd

SQL_ORIGINS = ("<string>",)  # SQLAlchemy's generated code shows up as "<string>"


class TestClientHttp(Http):
    """The Http helper's interface over Flask's test client."""

    def __init__(self, client) -> None:
        super().__init__("")
        self.client = client

    def call(self, method, path, token=None, json=None, files=None, data=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs = {"json": json} if files is None else {
            "data": {**(data or {}), **{k: (io.BytesIO(v[1]), v[0]) for k, v in files.items()}},
            "content_type": "multipart/form-data"}
        started = time.perf_counter()
        resp = self.client.open(path, method=method, headers=headers, **kwargs)
        elapsed = time.perf_counter() - started
        body = resp.get_json(silent=True)
        if resp.status_code >= 500:
            self.errors.add(method, path, resp.status_code, body)
        return resp.status_code, body, elapsed


def _make_app(workdir: Path, database: Path | None = None):
    """The app in this process; on ``database`` (already migrated and seeded) or a fresh file."""
    from app import create_app
    from app.database import upgrade_schema
    from app.extensions import db
    from app.services import clock, seed
    from app.services.uow import run_use_case
    from config import Config
    workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database or workdir / 'profile.db'}",
                     INSTANCE_DIR=workdir, SCHEDULER_ENABLED=False)
    logging.getLogger().setLevel(logging.WARNING)
    if database is not None:
        return app
    upgrade_schema(app)
    with app.app_context():
        now = clock.now()
        run_use_case(db.session, lambda: seed.ensure_admin(db.session, ADMIN_PASSWORD, now))
        run_use_case(db.session, lambda: seed.load_demo(
            db.session, password=DEMO_PASSWORD, processes_dir=app.config["PROCESSES_DIR"],
            forms_dir=app.config["FORMS_DIR"], now=now))
        db.session.remove()
    return app


def _category(path: str, root: str, function: str = "") -> str:
    """Who owns a frame: a package, one of our layers, a stdlib module or a built-in."""
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(root + "/app/"):
        parts = path[len(root) + 1:].split("/")
        return "app." + parts[1].removesuffix(".py") if len(parts) > 2 else "app"
    if path.startswith(root + "/bench/"):
        return "bench (the harness)"
    if not path or path.startswith("<"):
        return "sqlalchemy (generated code)" if path in SQL_ORIGINS else f"built-in: {function or path or '?'}"
    return "stdlib: " + Path(path).stem


def _walk(frame, out_self: dict, out_incl: dict, seen: tuple[str, ...], root: str) -> None:
    path = frame.file_path or ""
    owner = _category(path, root, frame.function)
    out_self[owner] = out_self.get(owner, 0.0) + frame.total_self_time
    key = None
    if root in path and "/site-packages/" not in path and "/bench/" not in path:
        key = f"{path.replace(root, '').lstrip('/')}:{frame.function}"
        if key not in seen:
            out_incl[key] = out_incl.get(key, 0.0) + frame.time
    next_seen = seen + (key,) if key else seen
    for child in frame.children:
        if not child.is_synthetic:  # self-time frames are already in the parent's total_self_time
            _walk(child, out_self, out_incl, next_seen, root)


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite database (the backup API, safe with WAL)."""
    import sqlite3
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


class _SqlCounter:
    def __init__(self, engine) -> None:
        from sqlalchemy import event
        self.engine, self.event, self.count = engine, event, 0
        event.listen(engine, "before_cursor_execute", self._seen)

        self.recording: list[str] | None = None

    def _seen(self, _conn, _cursor, statement, *_args) -> None:
        self.count += 1
        if self.recording is not None:
            self.recording.append(" ".join(statement.split())[:90])

    def close(self) -> None:
        self.event.remove(self.engine, "before_cursor_execute", self._seen)


def _request_costs(runner, engine, rounds: int) -> dict:
    """In process, no profiler: time and SQL statements of each request a case makes."""
    counter = _SqlCounter(engine)
    seen: dict[str, list[tuple[float, int]]] = {"start case": [], "complete task": [], "read case": [],
                                                "inbox (tax_approver)": []}

    def measure(kind: str, fn):
        before, started = counter.count, time.perf_counter()
        result = fn()
        seen[kind].append((time.perf_counter() - started, counter.count - before))
        return result

    inbox_token = runner.tokens["tax_approver"]
    one_complete: list[str] = []
    try:
        for _ in range(rounds):
            case = measure("start case", runner.start)
            runner.upload_required(case["case_no"])
            done: set[str] = set()
            while case["status"] == "running":
                for task in [t for t in case["tasks"] if t["state"] == "ready" and t["id"] not in done]:
                    counter.recording = []
                    measure("complete task", lambda: runner.complete(task))
                    one_complete, counter.recording = counter.recording, None
                    done.add(task["id"])
                case = measure("read case", lambda: runner.get(case["case_no"]))
            measure("inbox (tax_approver)", lambda: runner.http.call("GET", "/api/v1/tasks?state=ready", inbox_token))
    finally:
        counter.close()
    costs = {kind: {"n": len(v), "median_ms": rnd(statistics.median(t for t, _ in v) * 1000, 2),
                    "sql_statements": rnd(statistics.fmean(c for _, c in v), 1)} for kind, v in seen.items() if v}
    return costs, one_complete


def _summary(profiler, requests: int, wall: float, root: str) -> dict:
    """Self time by owner, our functions by inclusive time, and pyinstrument's own text."""
    root_frame = profiler.last_session.root_frame()
    by_category: dict[str, float] = {}
    inclusive: dict[str, float] = {}
    _walk(root_frame, by_category, inclusive, (), root)
    total = root_frame.time or 1.0
    per = max(requests, 1)
    return {
        "requests": requests, "wall_ms_per_request": rnd(wall / per * 1000, 2), "sampled_s": rnd(total, 3),
        "self_time_by_category": [{"category": k, "percent": rnd(v / total * 100, 1),
                                   "ms_per_request": rnd(v / per * 1000, 2)}
                                  for k, v in sorted(by_category.items(), key=lambda kv: -kv[1]) if v > 0],
        "top_app_functions_inclusive": [{"function": k, "percent": rnd(v / total * 100, 1),
                                         "ms_per_request": rnd(v / per * 1000, 2)}
                                        for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])[:18]],
        "text": profiler.output_text(unicode=True, color=False, show_all=False),
    }


def _profile_inbox(conn: Connection, database_url: str, scale: Scale, root: str) -> dict:
    """The inbox with synthetic rows loaded (see bench/inbox.py), profiled the same way."""
    from pyinstrument import Profiler

    from .inbox import APPROVER, Loader
    rows = scale.inbox_levels[1]
    loader = Loader(database_url)
    try:
        loaded = loader.load_to(rows, scale.inbox_load_limit_s)
    finally:
        loader.dispose()
    token = conn.tokens[APPROVER]
    for _ in range(3):
        conn.http.call("GET", "/api/v1/tasks?state=ready", token)
    profiler, wall, returned, statuses = Profiler(interval=0.0005), 0.0, 0, set()
    requests = max(5, scale.inbox_requests // 4)
    for _ in range(requests):
        profiler.start()
        started = time.perf_counter()
        status, body, _ = conn.http.call("GET", "/api/v1/tasks?state=ready", token)
        wall += time.perf_counter() - started
        profiler.stop()
        statuses.add(status)
        returned = len(body) if status == 200 else 0
    out = _summary(profiler, requests, wall, root)
    log(f"profile: inbox with {loaded['rows']} tasks rows, {out['wall_ms_per_request']} ms each in process")
    return {"tasks_rows": loaded["rows"], "rows_returned": returned, "statuses": sorted(statuses), **out}


def run(proc: BenchProcess, scale: Scale, workdir: Path, database: Path | None = None) -> dict:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install -r requirements-dev.txt)"}
    from app.extensions import db
    from config import BASE_DIR
    app = _make_app(workdir, database)
    with app.app_context():
        engine = db.engine
    # requests are made outside any app context: each gets its own, and its own session, as on a server
    conn = Connection("", http=TestClientHttp(app.test_client()))
    runner = conn.runner(proc)
    runner.run_case()  # warm-up: parse cache, first connections
    profiler = Profiler(interval=0.0005)
    completes, wall = 0, 0.0
    for _ in range(scale.profile_cases):
        case = runner.start()
        runner.upload_required(case["case_no"])
        done: set[str] = set()
        while case["status"] == "running":
            for task in [t for t in case["tasks"] if t["state"] == "ready" and t["id"] not in done]:
                profiler.start()
                started = time.perf_counter()
                runner.complete(task)
                wall += time.perf_counter() - started
                profiler.stop()
                done.add(task["id"])
                completes += 1
            case = runner.get(case["case_no"])
    costs, one_complete = _request_costs(runner, engine, max(2, scale.profile_cases // 4))
    out = _summary(profiler, completes, wall, str(BASE_DIR))
    try:
        inbox_profile = _profile_inbox(conn, str(engine.url), scale, str(BASE_DIR))
    except Exception as exc:  # an extra; the complete-task profile is the figure
        inbox_profile = {"error": repr(exc)[:300]}
    engine.dispose()
    (workdir / "profile.txt").write_text(out["text"], encoding="utf-8")
    out.update({"request_costs_in_process": costs, "sql_of_one_complete_task": one_complete,
                "inbox": inbox_profile})
    out["text"] += "\n\n--- inbox ---\n\n" + inbox_profile.pop("text", "")
    log(f"profile: {completes} complete-task requests, {out['wall_ms_per_request']} ms each in process")
    return out
