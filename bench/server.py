"""Start and stop the real server (``python run.py`` or gunicorn), and read its RSS and CPU time.

Every server listens on 127.0.0.1 only, runs in its own session (process group)
so that it and its workers can be stopped together, and logs to a file.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from .common import ADMIN_PASSWORD, DEMO_PASSWORD, code_root, log

_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(entry.name))
    return kids


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


class AppServer:
    """``kind`` is ``waitress`` (``python run.py``, the documented start) or ``gunicorn``.

    ``extra_env`` is added to the server's environment last, e.g. ``{"APP_WORKERS": "2"}`` for
    ``python run.py`` with two gunicorn workers and a scheduler process (otherwise APP_WORKERS is 1).
    """

    def __init__(self, database_url: str, workdir: Path, *, kind: str = "waitress",
                 scheduler: bool = True, workers: int = 4, label: str = "", prepared: bool = False,
                 extra_env: dict[str, str] | None = None) -> None:
        self.kind, self.workers, self.prepared = kind, workers, prepared
        self.label = label or kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"server-{self.label}-{self.port}.log"
        self.env = {**os.environ, "DATABASE_URL": database_url, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "APP_INSTANCE_DIR": str(workdir), "APP_DEMO": "1", "APP_ADMIN_PASSWORD": ADMIN_PASSWORD,
                    "APP_DEMO_PASSWORD": DEMO_PASSWORD, "APP_SCHEDULER": "1" if scheduler else "0",
                    "APP_WORKERS": "1", **(extra_env or {})}
        self.proc: subprocess.Popen | None = None

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(args, cwd=code_root(), env=self.env, stdout=self.log_path.open("ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)

    def prepare(self, timeout: float = 90) -> None:
        """Migrations and demo data the way run.py does them (gunicorn does neither)."""
        proc = self._spawn([sys.executable, str(code_root() / "run.py"), "--scheduler-only"])
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if "定时器调度进程已启动" in self.log_path.read_text(errors="replace"):
                    return
                if proc.poll() is not None:
                    raise RuntimeError(f"set-up exited: {self.log_tail()}")
                time.sleep(0.1)
            raise RuntimeError("set-up (run.py --scheduler-only) did not finish in time")
        finally:
            _stop(proc)

    def start(self, timeout: float = 90) -> "AppServer":
        started = time.monotonic()
        self._start(timeout)
        log(f"server {self.label} up on {self.url} in {time.monotonic() - started:.1f} s")
        return self

    def _start(self, timeout: float) -> None:
        if self.kind == "gunicorn":
            if not self.prepared:
                self.prepare()
            args = [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                    "--timeout", "120", "app:create_app()"]
        else:
            args = [sys.executable, str(code_root() / "run.py")]
        self.proc = self._spawn(args)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    self._wait_workers(deadline)
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout} s: {self.log_tail()}")

    def _expected_children(self) -> int:
        """gunicorn's workers; for run.py with APP_WORKERS > 1 also its scheduler process."""
        if self.kind == "gunicorn":
            return self.workers
        from config import worker_count  # here, not at import: the run's code snapshot comes first
        workers = worker_count(self.env["APP_WORKERS"])
        if workers == 1:
            return 0  # waitress: threads, no processes
        return workers + (1 if self.env["APP_SCHEDULER"] == "1" else 0)

    def _wait_workers(self, deadline: float) -> None:
        while time.monotonic() < deadline and len(_children(self.proc.pid)) < self._expected_children():
            time.sleep(0.1)

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *_children(self.proc.pid)]

    def rss(self) -> dict:
        """VmRSS in MiB: the total of the server's processes, and each one."""
        per = {pid: rss_kib(pid) for pid in self.pids()}
        per = {pid: kib for pid, kib in per.items() if kib is not None}
        return {"total_mib": round(sum(per.values()) / 1024, 1), "processes": len(per),
                "per_process_mib": [round(k / 1024, 1) for k in per.values()]}

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_problems(self, limit: int = 20) -> list[str]:
        """Error records and the exception lines of tracebacks in the server log (distinct, in order)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        hits: list[str] = []
        for line in lines:
            text = line.strip()
            exception = bool(re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b.*", line)) and ":" in line
            if (" ERROR " in line or " CRITICAL " in line or exception) and text not in hits:
                hits.append(text)
        return hits[:limit]

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the process group we started; kill it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


class Postgres:
    """A throwaway PostgreSQL server (tests/pg.py), with one fresh database per call to ``database``."""

    def __init__(self) -> None:
        from tests.pg import Cluster, Databases
        self.cluster = Cluster().start()
        self.databases = Databases(self.cluster.url("postgres"))

    def database(self) -> str:
        name = self.databases.create()
        return self.cluster.url(name)

    def version(self) -> str | None:
        import psycopg
        with psycopg.connect(self.databases.admin_url) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def stop(self) -> None:
        self.cluster.stop()
