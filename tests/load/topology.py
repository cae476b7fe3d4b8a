"""The production topology on loopback: gunicorn (4 workers) and a `run.py --scheduler-only` on PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from config import BASE_DIR

from ..conftest import ADMIN_PASSWORD, free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")


class Topology:
    """Starts, kills and restarts the processes; each writes its own log in ``folder``."""

    def __init__(self, database_url: str, folder: Path, workers: int = 4) -> None:
        self.folder = folder
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": database_url, "APP_INSTANCE_DIR": str(folder),
                    "APP_DEMO": "0", "APP_ADMIN_PASSWORD": ADMIN_PASSWORD}
        self.web: subprocess.Popen | None = None
        self.scheduler: subprocess.Popen | None = None
        self._scheduler_starts = 0

    def _log(self, name: str):
        return (self.folder / name).open("ab")

    def log_text(self, name: str) -> str:
        path = self.folder / name
        return path.read_text(errors="replace") if path.exists() else ""

    def start_scheduler(self) -> None:
        """``run.py --scheduler-only``: migrations, first-run set-up, then timers; waits until it says so."""
        self._scheduler_starts += 1
        name = f"scheduler-{self._scheduler_starts}.log"
        self.scheduler = subprocess.Popen([sys.executable, str(BASE_DIR / "run.py"), "--scheduler-only"],
                                          cwd=BASE_DIR, env=self.env, stdout=self._log(name),
                                          stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "定时器调度进程已启动" not in self.log_text(name):
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"scheduler did not start: {self.log_text(name)[-2000:]}")
            time.sleep(0.1)

    def start_web(self) -> None:
        """Exactly the README's command: ``gunicorn -w 4 -b 127.0.0.1:PORT 'app:create_app()'``."""
        self.web = subprocess.Popen([str(GUNICORN), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                                     "app:create_app()"], cwd=BASE_DIR, env=self.env,
                                    stdout=self._log("gunicorn.log"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while len(self.worker_pids()) < self.workers or not self._healthy():
            if self.web.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {self.log_text('gunicorn.log')[-2000:]}")
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def worker_pids(self) -> list[int]:
        """The gunicorn master's children (its workers), from /proc."""
        if self.web is None:
            return []
        path = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            return []

    def kill_worker(self) -> int:
        """SIGKILL one gunicorn worker (whatever it is doing); the master forks a new one."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_scheduler(self) -> None:
        self.scheduler.kill()  # SIGKILL: no shutdown hooks run
        self.scheduler.wait(10)

    def stop(self) -> None:
        for proc in (self.web, self.scheduler):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self.web, self.scheduler):
            if proc is None:
                continue
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
