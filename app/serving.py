"""Several server processes (``APP_WORKERS`` > 1): gunicorn with gthread workers, the timer scheduler apart.

The process running ``run.py`` becomes the gunicorn master. It has migrated the
database and done the first-run set-up already, and it holds no database
connection and no thread when it forks: every worker builds its own app after
the fork (no preloading). The timer scheduler runs in neither the master nor a
worker but in one child process of the master, ``run.py --scheduler-only
--no-setup``, started once the master listens and stopped when it exits.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from config import BASE_DIR

from .extensions import db

log = logging.getLogger(__name__)

SCHEDULER_ARGS = ("--scheduler-only", "--no-setup")
PARENT_ENV = "BINGLIAN_SERVER_PID"
STOP_SECONDS = 15  # for the scheduler child to finish its current job
RESTART_SECONDS = (2, 10, 60)  # waits before restarting a scheduler that died, longer when it keeps dying
STEADY_SECONDS = 300  # a scheduler that ran this long before dying is restarted after the shortest wait


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class SchedulerChild:
    """The timer scheduler as a child process; ``enabled`` False makes every method a no-op.

    Only the process that started it stops or reaps it: the gunicorn workers are forks of
    the master and inherit this object."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.proc: subprocess.Popen | None = None
        self.owner: int | None = None
        self.stopping = False
        self.started_at = 0.0
        self.failures = 0  # deaths in a row, each but the first within STEADY_SECONDS of its start
        self.restart_at: float | None = None

    def start(self) -> None:
        if not self.enabled:
            return
        env = {**os.environ, PARENT_ENV: str(os.getpid())}  # the child stops when this process is gone
        self.proc = subprocess.Popen([sys.executable, str(BASE_DIR / "run.py"), *SCHEDULER_ARGS], cwd=BASE_DIR, env=env)
        self.owner, self.started_at, self.restart_at = os.getpid(), time.monotonic(), None
        log.info("timer scheduler process started (pid %s)", self.proc.pid)

    def restart_if_due(self) -> None:
        """Called by the master about once a second: start the scheduler again once its wait is over."""
        if self.restart_at is not None and not self.stopping and self.owner == os.getpid() \
                and time.monotonic() >= self.restart_at:
            self.start()

    def _running_here(self) -> bool:
        return self.proc is not None and self.owner == os.getpid() and self.proc.returncode is None

    def check(self) -> None:
        """Reap the child if it has exited, and say so unless it was asked to stop."""
        if not self._running_here():
            return
        code = self.proc.poll()
        if code is None or self.stopping:
            return
        quick = 0 if time.monotonic() - self.started_at >= STEADY_SECONDS else self.failures
        wait = RESTART_SECONDS[min(quick, len(RESTART_SECONDS) - 1)]
        self.failures = quick + 1
        self.restart_at = time.monotonic() + wait
        log.error("timer scheduler process (pid %s) died: %s; restarting it in %s s",
                  self.proc.pid, _exit_status(code), wait)
        print(f"定时器调度进程（pid {self.proc.pid}）意外退出（{_exit_status(code)}），{wait} 秒后重新启动；"
              "期间到期的定时器在重启后补发。", file=sys.stderr, flush=True)

    def stop(self) -> None:
        self.stopping = True
        if not self._running_here() or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("timer scheduler process (pid %s) did not stop in %s s; killing it",
                        self.proc.pid, STOP_SECONDS)
            self.proc.kill()
            self.proc.wait(5)


class _Arbiter(Arbiter):
    """gunicorn's master, which also watches the scheduler child.

    gunicorn reaps every child with ``waitpid(-1)``; the scheduler is reaped first, by its own pid,
    so that its death is noticed (and a stop asked for by a signal is not taken for a crash)."""

    def handle_chld(self):
        self.app.scheduler.check()
        super().handle_chld()

    def manage_workers(self):  # runs on every turn of the master's loop
        self.app.scheduler.restart_if_due()
        super().manage_workers()

    handle_cld = handle_chld  # gunicorn may name SIGCHLD by its alias

    def handle_term(self):
        self.app.scheduler.stopping = True
        super().handle_term()

    def handle_int(self):
        self.app.scheduler.stopping = True
        super().handle_int()

    def handle_quit(self):
        self.app.scheduler.stopping = True
        super().handle_quit()


class GunicornServer(BaseApplication):
    """gunicorn started from run.py, configured from the app's settings rather than a command line."""

    def __init__(self, options: dict, scheduler: SchedulerChild, banner: list[str]) -> None:
        self.options, self.scheduler, self.banner = options, scheduler, banner
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self._when_ready)
        self.cfg.set("on_exit", self._on_exit)

    def load(self) -> Flask:
        from . import create_app  # in each worker, after the fork
        from .runtime import prepare_for_serving
        app = create_app()
        prepare_for_serving(app)
        return app

    def _when_ready(self, _arbiter) -> None:
        """The master listens and handles signals; no worker is forked yet."""
        self.scheduler.start()
        for line in self.banner:
            print(line, flush=True)

    def _on_exit(self, _arbiter) -> None:
        self.scheduler.stop()

    def run(self) -> None:
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:
            print(f"服务启动失败：{exc}", file=sys.stderr, flush=True)
            sys.exit(1)


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict:
    return {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": threads,
            "preload_app": False,  # each worker creates its app (engine, pools, caches) after the fork
            "control_socket_disable": True,  # a thread in the master, and a socket file shared per user
            "proc_name": "binglian"}


def serve(app: Flask, workers: int, *, scheduler: bool, banner: list[str]) -> None:
    """Serve ``app``'s settings with ``workers`` gunicorn workers; returns when the master stops."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # no connection crosses the fork
    child = SchedulerChild(enabled=scheduler)
    cfg = app.config
    server = GunicornServer(gunicorn_options(cfg["HOST"], cfg["PORT"], workers, cfg["THREADS"]), child, banner)
    try:
        server.run()
    finally:
        child.stop()  # also when the master leaves another way than halt(); a no-op in the workers
