"""Start Binglian: migrate, first-run set-up, scheduler, and the WSGI server (waitress).

    python run.py                  web server + timer scheduler (the default)
    python run.py --no-scheduler   web server only (when schedulers run elsewhere)
    python run.py --scheduler-only timer scheduler only
"""
from __future__ import annotations

import argparse
import signal
import threading

from app import create_app
from app.database import upgrade_schema
from app.extensions import db
from app.services import clock, seed
from app.services.uow import run_use_case


def first_run(app) -> None:
    cfg = app.config
    with app.app_context():
        generated = run_use_case(db.session, lambda: seed.ensure_admin(db.session, cfg["ADMIN_PASSWORD"], clock.now()))
        if generated:
            print(f"管理员账号 admin，初始密码：{generated}（请登录后修改）", flush=True)
        if cfg["DEMO"]:
            run_use_case(db.session, lambda: seed.load_demo(
                db.session, password=cfg["DEMO_PASSWORD"], processes_dir=cfg["PROCESSES_DIR"],
                forms_dir=cfg["FORMS_DIR"], now=clock.now()))
            print("演示账号（密码均为 %s）：" % cfg["DEMO_PASSWORD"], flush=True)
            for user in seed.demo_users():
                print(f"  {user['username']:<24} {user['name']}", flush=True)
        db.session.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description="Binglian 并联审批")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-scheduler", action="store_true")
    group.add_argument("--scheduler-only", action="store_true")
    args = parser.parse_args()

    app = create_app()
    upgrade_schema(app)
    first_run(app)
    scheduler = None
    if args.scheduler_only or (app.config["SCHEDULER_ENABLED"] and not args.no_scheduler):
        from app.scheduler import init_scheduler
        scheduler = init_scheduler(app)
    if args.scheduler_only:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print("定时器调度进程已启动", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        scheduler.shutdown()
        return
    from waitress import serve
    host, port = app.config["HOST"], app.config["PORT"]
    print(f"Binglian 已启动：http://{host}:{port}/  （API 文档 /api/docs）", flush=True)
    serve(app, host=host, port=port, threads=app.config["THREADS"], ident="binglian")


if __name__ == "__main__":
    main()
