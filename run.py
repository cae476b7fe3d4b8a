"""Start Binglian: migrate, first-run set-up, scheduler, and the WSGI server.

    python run.py                  web server + timer scheduler (the default)
    python run.py --no-scheduler   web server only (when schedulers run elsewhere)
    python run.py --scheduler-only timer scheduler only

APP_WORKERS (default ``auto``: one process per CPU, at most 4) says how many
server processes. With 1 the server is waitress in this process, the scheduler
a thread beside it. With N > 1 this process becomes the master of N gunicorn
(gthread) workers and starts the scheduler as a child process,
``run.py --scheduler-only --no-setup`` (see app/serving.py).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from app import create_app
from app.database import upgrade_schema
from app.errors import DomainError
from app.extensions import db
from app.services import clock, seed
from app.services.uow import run_use_case
from config import Config, ConfigError, worker_count


def _refused(what: str, exc: DomainError) -> str:
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    details = "；".join(str(m) for messages in errors.values() for m in (messages if isinstance(messages, list) else [messages]))
    return f"配置错误：{what}（{details or exc.message}）"


def first_run(app) -> None:
    """The admin account and, with APP_DEMO, the demo data; a bad password setting stops start-up with a message."""
    cfg = app.config
    with app.app_context():
        try:
            generated = run_use_case(db.session, lambda: seed.ensure_admin(db.session, cfg["ADMIN_PASSWORD"], clock.now()))
        except DomainError as exc:
            sys.exit(_refused("APP_ADMIN_PASSWORD 不能用作管理员密码", exc))
        if generated:
            print(f"管理员账号 admin，初始密码：{generated}（请登录后修改）", flush=True)
        if cfg["DEMO"]:
            try:
                run_use_case(db.session, lambda: seed.load_demo(
                    db.session, password=cfg["DEMO_PASSWORD"], processes_dir=cfg["PROCESSES_DIR"],
                    forms_dir=cfg["FORMS_DIR"], now=clock.now()))
            except DomainError as exc:
                sys.exit(_refused("演示数据无法载入（检查 APP_DEMO_PASSWORD）", exc))
            print("演示账号（密码均为 %s）：" % cfg["DEMO_PASSWORD"], flush=True)
            for user in seed.demo_users():
                print(f"  {user['username']:<24} {user['name']}", flush=True)
        db.session.remove()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Binglian 并联审批")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-scheduler", action="store_true", help="只启动网页服务，不启动定时器调度")
    group.add_argument("--scheduler-only", action="store_true", help="只启动定时器调度")
    # for the scheduler child of a multi-process server, whose parent has done the set-up already
    parser.add_argument("--no-setup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.no_setup and not args.scheduler_only:
        parser.error("--no-setup 只能与 --scheduler-only 一起使用")
    return args


def _workers() -> int:
    try:
        return worker_count(Config.WORKERS)
    except ConfigError as exc:
        sys.exit(f"配置错误：{exc}")


def _banner(app, workers: int) -> list[str]:
    host, port, threads = app.config["HOST"], app.config["PORT"], app.config["THREADS"]
    server = "waitress" if workers == 1 else "gunicorn gthread"
    return [f"Binglian 已启动：http://{host}:{port}/  （API 文档 /api/docs）",
            f"服务进程：{workers} 个（{server}，每个 {threads} 个线程）"]


def scheduler_only(app, child: bool = False) -> None:
    """The timer scheduler alone; as the child of a multi-process server (``child``), it also
    stops when that server's master is gone (e.g. killed), so no orphan keeps firing timers."""
    from app.scheduler import init_scheduler
    from app.serving import PARENT_ENV
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())  # the master's pid, even if it died meanwhile
    scheduler = init_scheduler(app)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("定时器调度进程已启动", flush=True)
    try:
        while not stop.wait(1.0):
            if child and os.getppid() != parent:
                print("服务主进程已退出，定时器调度进程随之停止", flush=True)
                break
    except KeyboardInterrupt:
        pass
    scheduler.shutdown()


def serve_waitress(app, scheduler: bool) -> None:
    if scheduler:
        from app.scheduler import init_scheduler
        init_scheduler(app)
    from waitress import serve
    from app.runtime import prepare_for_serving
    prepare_for_serving(app)
    print("\n".join(_banner(app, 1)), flush=True)
    serve(app, host=app.config["HOST"], port=app.config["PORT"], threads=app.config["THREADS"], ident="binglian")


def main() -> None:
    args = _arguments()
    workers = _workers()
    app = create_app()
    if not args.no_setup:
        upgrade_schema(app)
        first_run(app)
    if args.scheduler_only:
        scheduler_only(app, child=args.no_setup)
        return
    scheduler = app.config["SCHEDULER_ENABLED"] and not args.no_scheduler
    if workers == 1:
        serve_waitress(app, scheduler)
        return
    from app.serving import serve
    serve(app, workers, scheduler=scheduler, banner=_banner(app, workers))


if __name__ == "__main__":
    main()
