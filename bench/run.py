"""Run every benchmark once and write BENCHMARKS.md plus bench/results/<timestamp>.json.

    python -m bench.run                  the full run (8–11 minutes on 2 cores)
    python -m bench.run --smoke          tiny counts, a quick check that everything runs
    python -m bench.run --skip pg,inbox  leave sections out

Sections: engine, growth, profile, sqlite (latency, throughput, memory,
concurrency, all on one process; and throughput with run.py as started by default, APP_WORKERS=auto,
and with APP_THREADS=1), timers, inbox, pg
(PostgreSQL with run.py), gunicorn (PostgreSQL with gunicorn -w 4). Servers
listen on 127.0.0.1 and are stopped at the end.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from . import bpmn, concurrency, engine_bench, growth, http_bench, inbox, profile_request, report, timers
from .client import Connection
from .common import (FULL, RESULTS_DIR, ROOT, SMOKE, Scale, git_revision, load_average, log, machine_info,
                     use_snapshot)
from .server import AppServer, Postgres

SECTIONS = ("engine", "growth", "profile", "sqlite", "timers", "inbox", "pg", "gunicorn")
ENGINE_KEYS = ("engine.raw_memory", "engine.raw_serialized", "engine.wrapper")
PG_KEYS = ("throughput.pg_waitress", "concurrency.pg_waitress", "inbox.pg", "throughput.pg_gunicorn",
           "concurrency.pg_gunicorn")
SQLITE_KEYS = (("latency.sqlite", "sqlite"), ("throughput.sqlite", "sqlite"), ("concurrency.sqlite", "sqlite"),
               ("timers.sqlite", "timers"), ("inbox.sqlite", "inbox"), ("throughput.sqlite_default", "sqlite"),
               ("throughput.sqlite_threads1", "sqlite"))
# run.py configured otherwise, each on a fresh SQLite database of its own
SQLITE_VARIANTS = (
    # as users start it: APP_WORKERS=auto, a process per CPU (gunicorn gthread workers, a scheduler process)
    ("sqlite_default", {"APP_WORKERS": "auto"}),
    ("sqlite_threads1", {"APP_WORKERS": "1", "APP_THREADS": "1"}),  # one process, one request in the app at a time
)


def _guard(figures: dict, key: str, fn) -> dict | None:
    """Run one measurement; a failure is recorded under its key and the run goes on."""
    try:
        value = fn()
    except Exception as exc:
        traceback.print_exc()
        log(f"{key} FAILED: {exc!r}")
        figures[key] = {"error": repr(exc)[:500]}
        return None
    figures[key] = value
    return value


def _section(figures: dict, keys: tuple[str, ...], fn) -> None:
    """Run a group of measurements; if it breaks, every key it did not fill gets the error."""
    try:
        result = fn()
        if isinstance(result, dict):
            figures.update(result)
    except Exception as exc:
        traceback.print_exc()
        log(f"{', '.join(keys)} FAILED: {exc!r}")
        for key in keys:
            figures.setdefault(key, {"error": repr(exc)[:500]})


def _server_report(server: AppServer, conn: Connection, idle_rss: dict) -> dict:
    return {"responses_5xx_or_none": conn.errors.count, "samples": conn.errors.samples,
            "log_problems": server.log_problems(), "rss_idle_after_start_mib": idle_rss["total_mib"]}


def _sqlite_section(ctx: dict, scale: Scale, workdir: Path, skip: set[str]) -> None:
    figures, proc = ctx["figures"], ctx["process"]
    path = workdir / "sqlite" / "bench.db"
    url = f"sqlite:///{path}"
    profile_db = None
    with AppServer(url, workdir / "sqlite", label="sqlite-waitress") as server:
        idle = server.rss()
        conn = Connection(server.url)
        if "profile" not in skip:  # migrated and seeded: the profile starts from the same state
            profile_db = profile_request.copy_database(path, workdir / "profile" / "profile.db")
        if "sqlite" not in skip:
            runner = conn.runner(proc)
            _guard(figures, "latency.sqlite", lambda: http_bench.latency(runner, scale))
            _guard(figures, "throughput.sqlite", lambda: http_bench.throughput(
                runner, server, scale, ctx["baseline_1b"]))
            _guard(figures, "concurrency.sqlite", lambda: concurrency.run(conn, scale))
        if "timers" not in skip:
            _guard(figures, "timers.sqlite", lambda: timers.run(conn, url, scale))
        if "inbox" not in skip:
            conn.runner(proc)  # cases rows need a deployed process
            _guard(figures, "inbox.sqlite", lambda: inbox.run(conn, url, scale))
        ctx["servers"]["sqlite-waitress"] = _server_report(server, conn, idle)
    if "sqlite" not in skip:
        for label, env in SQLITE_VARIANTS:
            _sqlite_variant(ctx, scale, workdir, label, env)
    if profile_db is not None:  # in process, after the server has stopped
        _guard(figures, "profile", lambda: profile_request.run(proc, scale, workdir / "profile", profile_db))


def _sqlite_variant(ctx: dict, scale: Scale, workdir: Path, label: str, env: dict[str, str]) -> None:
    """Whole-case throughput of ``run.py`` with ``env`` on a fresh SQLite database of its own."""
    key = f"throughput.{label}"
    folder = workdir / label
    server = AppServer(f"sqlite:///{folder / 'bench.db'}", folder, label=label, extra_env=env)
    try:
        server.start()
    except Exception as exc:
        traceback.print_exc()
        ctx["figures"][key] = {"error": f"server did not start: {exc!r}"[:500]}
        return
    try:
        idle = server.rss()
        conn = Connection(server.url)
        runner = conn.runner(ctx["process"])
        result = _guard(ctx["figures"], key, lambda: http_bench.throughput(runner, server, scale, ctx["baseline_1b"]))
        if result is not None:
            from config import worker_count  # here, not at import: the run's code snapshot comes first
            result["app_workers"] = worker_count(env.get("APP_WORKERS", "1"))  # as run.py resolved it
        ctx["servers"][label] = _server_report(server, conn, idle)
    finally:
        server.stop()


def _pg_section(ctx: dict, scale: Scale, workdir: Path, skip: set[str]) -> None:
    figures, proc = ctx["figures"], ctx["process"]
    try:
        pg = Postgres()
    except Exception as exc:
        for key in PG_KEYS:
            figures[key] = {"skipped": f"PostgreSQL could not be started: {exc!r}"[:300]}
        return
    try:
        ctx["meta"]["postgresql"] = pg.version()
        configs = [("pg_waitress", "waitress")] if "pg" not in skip else []
        if "gunicorn" not in skip:
            configs.append(("pg_gunicorn", "gunicorn"))
        previous = None
        for label, kind in configs:
            # a smoke run lets gunicorn reuse the database run.py has just set up; a full run starts fresh
            reused = scale.name == "smoke" and previous is not None
            database = previous if reused else pg.database()
            previous = database
            server = AppServer(database, workdir / label, kind=kind, workers=scale.gunicorn_workers,
                               label=label, scheduler=kind == "waitress", prepared=reused)
            try:
                server.start()
            except Exception as exc:
                traceback.print_exc()
                keys = [f"throughput.{label}", f"concurrency.{label}"] + (["inbox.pg"] if kind == "waitress" else [])
                for key in keys:
                    figures[key] = {"error": f"server did not start: {exc!r}"[:500]}
                continue
            try:
                idle = server.rss()
                conn = Connection(server.url)
                runner = conn.runner(proc)
                _guard(figures, f"throughput.{label}", lambda: http_bench.throughput(
                    runner, server, scale, ctx["baseline_1b"]))
                _guard(figures, f"concurrency.{label}", lambda: concurrency.run(conn, scale))
                if kind == "waitress" and "inbox" not in skip:
                    _guard(figures, "inbox.pg", lambda: inbox.run(conn, database, scale, label="pg"))
                ctx["servers"][label] = _server_report(server, conn, idle)
            finally:
                server.stop()
    finally:
        pg.stop()


def run_all(scale: Scale = FULL, workdir: Path | None = None, skip: set[str] | frozenset = frozenset(),
            parallel_pg: bool = False, snapshot: bool = False) -> dict:
    """Every measurement once; returns the results (JSON-able).

    With ``snapshot`` the app is copied first and that copy is measured throughout.
    """
    skip = set(skip)
    own_dir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="binglian-bench-")) if own_dir else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    meta = {"date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"), "scale": scale.name,
            "machine": machine_info(), "git": git_revision(), "load_average_at_start": load_average()}
    figures: dict = {}
    ctx = {"meta": meta, "figures": figures, "servers": {}, "baseline_1b": None}
    try:
        if snapshot:
            meta["code_snapshot"] = use_snapshot(workdir / "code") is not None
        try:
            proc = bpmn.choose_process()
        except Exception as exc:  # the 企业开办 file exists but is unusable: say so, use the fan-out
            meta["process_problem"] = f"business_startup.bpmn could not be used: {exc!r}"[:500]
            proc = bpmn.six_way()
        ctx["process"] = proc
        meta["process"] = {"label": proc.label, "source": proc.source, "key": proc.key,
                           "user_tasks": proc.user_tasks, "lanes": list(proc.lanes),
                           "fallback_six_way": proc.key == "six_way", "start_data": proc.start_data}
        pg_thread = None
        run_pg = not {"pg", "gunicorn"} <= skip

        def pg_job() -> None:
            _section(figures, PG_KEYS, lambda: _pg_section(ctx, scale, workdir, skip))
        if parallel_pg and run_pg:
            pg_thread = threading.Thread(target=pg_job)
            pg_thread.start()
        if "engine" not in skip:
            _section(figures, ENGINE_KEYS, lambda: engine_bench.run(proc, scale))
            ctx["baseline_1b"] = (figures.get("engine.raw_serialized") or {}).get("cases_per_s")
        if "growth" not in skip:
            _section(figures, ("growth", "growth.raw"), lambda: growth.run(scale))
        if not {"sqlite", "timers", "inbox", "profile"} <= skip:
            keys = tuple(k for k, section in SQLITE_KEYS if section not in skip)
            _section(figures, keys, lambda: _sqlite_section(ctx, scale, workdir, skip))
        if "profile" not in skip and "profile" not in figures:  # the SQLite server did not start
            _guard(figures, "profile", lambda: profile_request.run(proc, scale, workdir / "profile"))
        if pg_thread is not None:
            pg_thread.join()
        elif run_pg:
            pg_job()
        figures["memory"] = {label: figures[f"throughput.{label}"]["memory"]
                             | {"rss_idle_after_start_mib": ctx["servers"].get(server, {}).get(
                                 "rss_idle_after_start_mib")}
                             for label, server in (("sqlite", "sqlite-waitress"),
                                                   ("sqlite_default", "sqlite_default"),
                                                   ("sqlite_threads1", "sqlite_threads1"),
                                                   ("pg_waitress", "pg_waitress"), ("pg_gunicorn", "pg_gunicorn"))
                             if "memory" in figures.get(f"throughput.{label}", {})}
    finally:
        meta["duration_s"] = round(time.perf_counter() - started, 1)
        meta["load_average_at_end"] = load_average()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    profile_text = (figures.get("profile") or {}).pop("text", None)
    return {"meta": meta, "figures": figures, "servers": ctx["servers"], "profile_text": profile_text}


def write_outputs(results: dict, results_dir: Path, markdown: Path | None) -> tuple[Path, Path | None]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    json_path = results_dir / f"{stamp}.json"
    profile_text = results.get("profile_text")
    if profile_text:
        (results_dir / f"{stamp}-profile.txt").write_text(profile_text, encoding="utf-8")
    data = {k: v for k, v in results.items() if k != "profile_text"}
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if markdown is not None:
        markdown.write_text(report.render(data, json_path), encoding="utf-8")
    return json_path, markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; BENCHMARKS.md is not written")
    parser.add_argument("--skip", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--markdown", type=Path, help="where to write the report (default: BENCHMARKS.md)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="only write the report again from an earlier results file")
    args = parser.parse_args(argv)
    if args.render:
        target = args.markdown or ROOT / "BENCHMARKS.md"
        target.write_text(report.render(json.loads(args.render.read_text(encoding="utf-8")), args.render.resolve()),
                          encoding="utf-8")
        log(f"wrote {target} from {args.render}")
        return 0
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    scale = SMOKE if args.smoke else FULL
    markdown = args.markdown or (None if args.smoke else ROOT / "BENCHMARKS.md")
    log(f"benchmark run ({scale.name}); sections skipped: {', '.join(sorted(skip)) or 'none'}")
    results = run_all(scale, skip=skip, parallel_pg=args.smoke, snapshot=True)
    json_path, md_path = write_outputs(results, args.results_dir, markdown)
    log(f"done in {results['meta']['duration_s']} s: {json_path}" + (f", {md_path}" if md_path else ""))
    failed = [k for k, v in results["figures"].items() if isinstance(v, dict) and "error" in v]
    if failed:
        log(f"measurements that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
