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
import time
from pathlib import Path

from .bpmn import BenchProcess
from .client import Connection, Http
from .common import ADMIN_PASSWORD, DEMO_PASSWORD, Scale, log, rnd

CATEGORIES = (  # (label, substring of the frame's file path); first match wins
    ("SpiffWorkflow", "/SpiffWorkflow/"),
    ("app.engine (wrapper, sandbox, serializer)", "/app/engine/"),
    ("SQLAlchemy + DB driver", "/sqlalchemy/"),
    ("json", "/json/"),
    ("marshmallow / flask-smorest / webargs", ("/marshmallow/", "/flask_smorest/", "/webargs/", "/apispec/")),
    ("Flask / Werkzeug", ("/flask/", "/werkzeug/", "/flask_sqlalchemy/")),
    ("app.services", "/app/services/"),
    ("app.api / app.models / app other", "/app/"),
    ("other (stdlib, built-ins, harness)", ""),
)


class TestClientHttp(Http):
    """The Http helper's interface over Flask's test client."""

    def __init__(self, client) -> None:
        super().__init__("")
        self.client = client

    def call(self, method, path, token=None, json=None, files=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs = {"json": json} if files is None else {
            "data": {k: (io.BytesIO(v[1]), v[0]) for k, v in files.items()}, "content_type": "multipart/form-data"}
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


def _category(path: str) -> str:
    for label, needle in CATEGORIES:
        needles = needle if isinstance(needle, tuple) else (needle,)
        if any(n in path for n in needles):
            return label
    return CATEGORIES[-1][0]


def _walk(frame, out_self: dict, out_incl: dict, seen: tuple[str, ...], root: str) -> None:
    path = frame.file_path or ""
    out_self[_category(path)] = out_self.get(_category(path), 0.0) + frame.total_self_time
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


def run(proc: BenchProcess, scale: Scale, workdir: Path, database: Path | None = None) -> dict:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install -r requirements-dev.txt)"}
    from app.extensions import db
    from config import BASE_DIR
    app = _make_app(workdir, database)
    with app.app_context():
        runner = Connection("", http=TestClientHttp(app.test_client())).runner(proc)
        runner.run_case()  # warm-up: parse cache, first connections
        profiler = Profiler(interval=0.0005)
        completes, wall = 0, 0.0
        for _ in range(scale.profile_cases):
            case = runner.start()
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
        db.session.remove()
        db.engine.dispose()
    session = profiler.last_session
    root_frame = session.root_frame()
    by_category: dict[str, float] = {}
    inclusive: dict[str, float] = {}
    _walk(root_frame, by_category, inclusive, (), str(BASE_DIR))
    total = root_frame.time or 1.0
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    (workdir / "profile.txt").write_text(text, encoding="utf-8")
    out = {
        "requests": completes, "wall_ms_per_request": rnd(wall / completes * 1000, 2) if completes else None,
        "sampled_s": rnd(total, 3),
        "self_time_by_category": [{"category": k, "percent": rnd(v / total * 100, 1),
                                   "ms_per_request": rnd(v / completes * 1000, 2)}
                                  for k, v in sorted(by_category.items(), key=lambda kv: -kv[1]) if v > 0],
        "top_app_functions_inclusive": [{"function": k, "percent": rnd(v / total * 100, 1),
                                         "ms_per_request": rnd(v / completes * 1000, 2)}
                                        for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])[:18]],
        "text": text,
    }
    log(f"profile: {completes} complete-task requests, {out['wall_ms_per_request']} ms each in process")
    return out
