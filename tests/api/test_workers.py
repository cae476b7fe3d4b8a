"""run.py with APP_WORKERS=2: a gunicorn master, two gthread workers and one timer-scheduler child process.

Which worker answered is read from /proc, not from the app: a worker that has served a
request keeps a database connection in its pool (the SQLite file open, or a TCP socket
to PostgreSQL), and the master, which forks them, holds none.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import config
from config import BASE_DIR, ConfigError, worker_count

from ..conftest import DATA, ApiClient, LiveServer
from .helpers import APPLICANT, DEMO_XML, WORKER, deploy, ready

WORKERS = 2
MULTI = {"APP_WORKERS": str(WORKERS), "APP_SCHEDULER": "1"}
SCHEDULER_DIED = "定时器调度进程（pid {pid}）意外退出"


# --- processes, from /proc ---------------------------------------------------------------------------------------

def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by whoever inherited it, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _open_targets(pid: int) -> set[str]:
    folder = Path(f"/proc/{pid}/fd")
    targets = set()
    for fd in folder.iterdir():
        try:
            targets.add(os.readlink(fd))
        except OSError:
            pass
    return targets


def _sockets_to_port(port: int) -> set[str]:
    """``socket:[inode]`` of every established TCP connection to ``port`` on this host."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                found.add(f"socket:[{fields[9]}]")
    return found


def _holds_database(pid: int, database_url: str) -> bool:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = os.path.realpath(url.database)
        # the file, its -wal and -shm; not the writers' lock file beside it (uow._writer), which holds no data
        return any(target.startswith(path) and not target.endswith(".writer-lock") for target in _open_targets(pid))
    return bool(_open_targets(pid) & _sockets_to_port(url.port))


@dataclass
class Tree:
    master: int
    workers: list[int]
    scheduler: list[int]

    def all(self) -> list[int]:
        return [self.master, *self.workers, *self.scheduler]


def _tree(server: LiveServer, children: int = WORKERS + 1, timeout: float = 60) -> Tree:
    """The master's children once all are there: workers are forks of run.py, the scheduler runs run.py again.

    The master starts the scheduler before it forks the first worker."""
    deadline = time.monotonic() + timeout
    while len(server.children()) < children and time.monotonic() < deadline:
        time.sleep(0.1)
    kids = server.children()
    scheduler = [pid for pid in kids if "--scheduler-only" in _cmdline(pid)]
    return Tree(server.proc.pid, [pid for pid in kids if pid not in scheduler], scheduler)


@contextmanager
def _serving(database_url: str, tmp_path: Path, env: dict = MULTI, children: int = WORKERS + 1):
    """run.py started with ``env``, and its process tree once every child is there; afterwards
    whatever the test left running is stopped."""
    server = LiveServer(database_url, tmp_path, env)
    tree = None
    try:
        tree = _tree(server.start(), children=children)
        yield server, tree
    finally:
        _kill_leftovers(tree, server)


def _kill_leftovers(tree: Tree | None, server: LiveServer) -> None:
    """Whatever a failed test left running: the master, then any child of it still alive."""
    pids = set(tree.all() if tree else []) | set(server.children())
    server.stop()
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


# --- what the server does over HTTP ------------------------------------------------------------------------------

def _whole_case(api: ApiClient) -> dict:
    """Deploy the parallel demo and take one case through it: intake, three departments, issue."""
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    data = {"task_a": {"approved_a": True}}
    for element in ("task_a", "task_b", "task_c"):
        task = ready(clerk.get(f"/api/v1/cases/{case['case_no']}").body, element)[0]
        worker = api.as_user(WORKER[task["department"]])
        resp = worker.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data.get(element, {})})
        assert resp.status_code == 200, resp.body
    issue = ready(clerk.get(f"/api/v1/cases/{case['case_no']}").body, "task_issue")[0]
    assert clerk.post(f"/api/v1/tasks/{issue['id']}/complete", json={"data": {}}).status_code == 200
    return clerk.get(f"/api/v1/cases/{case['case_no']}").body


def _case_with_timer_due(api: ApiClient, seconds: float) -> None:
    due = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()
    xml = (DATA / "timer_escalation.bpmn").read_text().replace("workdays(1)", f'"{due}"') \
        .replace("workdays(3)", '"2099-01-01T00:00:00+00:00"')
    assert deploy(api, xml).status_code == 201
    clerk = api.as_user("window_clerk")
    assert clerk.post("/api/v1/cases", json={"process_key": "timer_escalation",
                                             "applicant": APPLICANT}).status_code == 201


def _fired_timers(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM timers WHERE element_id = 'timer_remind' "
                                     "AND fired_at IS NOT NULL")).scalar_one()
    finally:
        engine.dispose()


def _wait_fired(database_url: str, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    fired = _fired_timers(database_url)
    while fired < count and time.monotonic() < deadline:
        time.sleep(0.5)
        fired = _fired_timers(database_url)
    return fired


def _workers_answering(server: LiveServer, tree: Tree, database_url: str, timeout: float = 30) -> list[int]:
    """Bursts of simultaneous requests, each on a new connection, until every worker has answered one."""
    deadline = time.monotonic() + timeout
    answered: list[int] = []
    with ThreadPoolExecutor(16) as pool:
        while len(answered) < WORKERS and time.monotonic() < deadline:
            statuses = set(pool.map(lambda _: requests.get(server.url + "/healthz", timeout=30).status_code,
                                    range(48)))
            assert statuses == {200}
            answered = [pid for pid in tree.workers if _holds_database(pid, database_url)]
    return answered


def _stop_and_find_nothing_left(server: LiveServer, sig: int, pids: list[int]) -> None:
    """``sig`` to run.py: it exits with 0, and none of ``pids`` is left running."""
    server.proc.send_signal(sig)
    assert server.proc.wait(30) == 0
    deadline = time.monotonic() + 10
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if _alive(pid)] == []


# --- the tests ---------------------------------------------------------------------------------------------------

def test_two_workers_serve_a_case_fire_timers_and_stop_with_nothing_left(database_url, tmp_path):
    with _serving(database_url, tmp_path) as (server, tree):
        # the master forked two workers and started one scheduler, and has no thread and no connection itself
        assert len(tree.workers) == WORKERS and len(tree.scheduler) == 1, (tree, server.log.read_text()[-2000:])
        assert all(_cmdline(pid) == _cmdline(tree.master) for pid in tree.workers)
        assert _cmdline(tree.scheduler[0])[-2:] == ["--scheduler-only", "--no-setup"]
        assert _threads(tree.master) == 1
        assert not _holds_database(tree.master, database_url)
        log = server.log.read_text()
        assert "Binglian 已启动：http://" in log and "服务进程：2 个（gunicorn gthread" in log

        assert sorted(_workers_answering(server, tree, database_url)) == sorted(tree.workers)

        final = _whole_case(ApiClient(base_url=server.url))
        assert final["status"] == "completed" and final["data"]["approved_a"] is True

        _case_with_timer_due(ApiClient(base_url=server.url), seconds=2)
        assert _wait_fired(database_url, 1, timeout=30) == 1  # by the scheduler child: nothing else runs one
        assert not _holds_database(tree.master, database_url)

        _stop_and_find_nothing_left(server, signal.SIGTERM, tree.all())
        assert SCHEDULER_DIED.format(pid=tree.scheduler[0]) not in server.log.read_text()  # stopped, not died


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_dead_scheduler_child_is_reported_and_restarted_and_fires_the_timers(database_url, tmp_path):
    with _serving(database_url, tmp_path) as (server, tree):
        assert len(tree.scheduler) == 1
        _case_with_timer_due(ApiClient(base_url=server.url), seconds=3)  # due while no scheduler runs
        os.kill(tree.scheduler[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        message = SCHEDULER_DIED.format(pid=tree.scheduler[0])
        while message not in server.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert message in server.log.read_text()
        assert _alive(tree.master) and requests.get(server.url + "/healthz", timeout=10).status_code == 200

        deadline = time.monotonic() + 30
        again = []
        while not again and time.monotonic() < deadline:
            again = [pid for pid in server.children() if pid != tree.scheduler[0] and pid not in tree.workers
                     and "--scheduler-only" in _cmdline(pid)]
            time.sleep(0.2)
        assert len(again) == 1, server.log.read_text()[-2000:]
        assert _wait_fired(database_url, 1, timeout=30) == 1  # the new scheduler fired what came due

        _stop_and_find_nothing_left(server, signal.SIGINT, tree.all() + again)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_killed_master_leaves_no_scheduler_or_worker_behind(database_url, tmp_path):
    with _serving(database_url, tmp_path) as (server, tree):
        os.kill(tree.master, signal.SIGKILL)  # the OOM killer, or a service manager killing only the master
        server.proc.wait(10)
        deadline = time.monotonic() + 20
        while any(map(_alive, tree.workers + tree.scheduler)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [(pid, _cmdline(pid)) for pid in tree.workers + tree.scheduler if _alive(pid)] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_scheduler_with_workers_starts_only_the_workers(database_url, tmp_path):
    with _serving(database_url, tmp_path, {**MULTI, "APP_SCHEDULER": "0"}, children=WORKERS) as (server, tree):
        assert len(tree.workers) == WORKERS and tree.scheduler == []
        assert "定时器调度进程已启动" not in server.log.read_text()
        _case_with_timer_due(ApiClient(base_url=server.url), seconds=1)
        time.sleep(4)  # three polls of a scheduler, had a worker started one
        assert _fired_timers(database_url) == 0


@pytest.mark.parametrize("raw, expected", [("1", 1), ("2", 2), (" 4 ", 4), ("08", 8), (3, 3)])
def test_worker_count_accepts_a_positive_integer(raw, expected):
    assert worker_count(raw) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "", "abc", "1.5", "２", "²", "2 workers", "automatic"])
def test_worker_count_refuses_anything_else_in_chinese(raw):
    with pytest.raises(ConfigError, match="APP_WORKERS 必须是 auto 或不小于 1 的整数"):
        worker_count(raw)


@pytest.mark.parametrize("cpus, expected", [(1, 1), (2, 2), (3, 3), (4, 4), (16, 4)])
def test_auto_is_one_process_per_cpu_and_at_most_four(monkeypatch, cpus, expected):
    monkeypatch.setattr(config, "available_cpus", lambda: cpus)
    assert worker_count("auto") == worker_count(" AUTO ") == expected


def test_auto_is_one_process_where_none_can_be_forked(monkeypatch):
    monkeypatch.setattr(config, "available_cpus", lambda: 8)
    monkeypatch.delattr(os, "fork")
    assert worker_count("auto") == 1


def test_the_cpus_are_those_this_process_may_run_on():
    assert config.available_cpus() == len(os.sched_getaffinity(0))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to restrict the process to one")
def test_auto_follows_the_cpu_affinity_not_the_machines_count():
    """A process allowed on one CPU (taskset, a pinned service) gets one server process."""
    probe = "import os, config; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); print(config.worker_count('auto'))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=BASE_DIR, capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "1"


@pytest.mark.skipif(config.available_cpus() < 2, reason="one CPU: the default is one process")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_run_py_without_app_workers_starts_a_process_per_cpu(database_url, tmp_path):
    """What `make run` starts: APP_WORKERS unset is auto, and the start message says how many."""
    workers = min(config.available_cpus(), config.AUTO_WORKERS_MAX)
    env = {"APP_WORKERS": None, "APP_SCHEDULER": "1", "APP_THREADS": "8"}
    with _serving(database_url, tmp_path, env, children=workers + 1) as (server, tree):
        assert len(tree.workers) == workers and len(tree.scheduler) == 1, server.log.read_text()[-2000:]
        assert f"服务进程：{workers} 个（gunicorn gthread，每个 8 个线程）" in server.log.read_text()
        final = _whole_case(ApiClient(base_url=server.url))
        assert final["status"] == "completed"
        _stop_and_find_nothing_left(server, signal.SIGTERM, tree.all())


@pytest.mark.parametrize("raw", ["0", "many"])
def test_run_py_with_a_bad_app_workers_stops_with_a_message_not_a_traceback(raw, tmp_path):
    env = {**os.environ, "APP_WORKERS": raw, "APP_INSTANCE_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"}
    done = subprocess.run([sys.executable, str(BASE_DIR / "run.py")], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"配置错误：APP_WORKERS 必须是 auto 或不小于 1 的整数（当前为“{raw}”）" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "never.db").exists()  # refused before touching the database


@pytest.mark.parametrize("variable", ["APP_ADMIN_PASSWORD", "APP_DEMO_PASSWORD"])
def test_run_py_with_a_too_short_password_setting_stops_with_a_message_not_a_traceback(variable, tmp_path):
    env = {**os.environ, "APP_INSTANCE_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
           "APP_DEMO": "1", "APP_ADMIN_PASSWORD": "admin-password-ok", "APP_DEMO_PASSWORD": "Demo@2026",
           variable: "x"}
    done = subprocess.run([sys.executable, str(BASE_DIR / "run.py")], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "配置错误：" in done.stderr and "密码至少" in done.stderr
    assert "Traceback" not in done.stderr
