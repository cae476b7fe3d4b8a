"""A small HTTP client for the benchmarks: one keep-alive session per thread, JSON in and out,
every response over 499 recorded, and whole cases run the way the departments would."""
from __future__ import annotations

import http.client
import itertools
import json as _json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .bpmn import APPLICANT, BenchProcess
from .common import DEMO_PASSWORD


_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n% "
_codes = itertools.count(int(time.time() * 1000) % 10**9)


def _multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    """A multipart/form-data body: ``fields`` as text parts, ``files`` as {name: (filename, bytes)}."""
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def demo_workers() -> dict[str, str]:
    """Lane (department name or code) -> the demo user who works it (app/services/seed.py)."""
    from app.services import seed
    codes = {code: name for code, name in seed.DEMO_DEPARTMENTS}
    workers = {}
    for user in seed.demo_users():
        code = user["department"]
        if code and {"approver", "clerk"} & set(user["roles"]):
            workers[code] = workers[codes[code]] = user["username"]
    return workers


class RequestFailed(Exception):
    def __init__(self, method: str, path: str, status: int, body) -> None:
        super().__init__(f"{method} {path} -> {status}: {str(body)[:300]}")
        self.status = status


@dataclass
class ServerErrors:
    """Responses with status >= 500 (or no response at all), kept for the report."""

    count: int = 0
    samples: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, status, body) -> None:
        with self.lock:
            self.count += 1
            if len(self.samples) < 10:
                self.samples.append({"request": f"{method} {path}", "status": status,
                                     "body": str(body)[:300]})


class Http:
    """JSON over HTTP/1.1 with one keep-alive connection per thread, on the standard library.

    ``http.client`` instead of ``requests``: the figures are the server's, and on
    this 2-core machine ``requests`` spent 2–3 ms of client CPU per call (bench/history.md),
    time that both lengthened every measured round trip and took CPU from the server.
    """

    def __init__(self, base_url: str, errors: ServerErrors | None = None, timeout: float = 60) -> None:
        self.base_url = base_url
        self.errors = errors or ServerErrors()
        self.timeout = timeout
        self._local = threading.local()
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname, parts.port

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = self._local.conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return conn

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """One request and its whole response. A kept-alive connection that the server closed
        while it was idle fails before any response: it is replaced and the request sent once
        more (the benchmarks kill no server process, so a request is never run twice)."""
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if attempt == 0 and reused:
                    continue
                self._connection(fresh=True)
                raise
            if resp.will_close:
                self._connection(fresh=True)
            return resp.status, data
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, token: str | None = None, json=None, files=None, data=None):
        """Returns (status, body, seconds); never raises for an HTTP status."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = None
        if files is not None:
            body, headers["Content-Type"] = _multipart(data or {}, files)
        elif json is not None:
            body, headers["Content-Type"] = _json.dumps(json).encode(), "application/json"
        started = time.perf_counter()
        try:
            status, content = self._exchange(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            elapsed = time.perf_counter() - started
            self.errors.add(method, path, "no response", repr(exc))
            return 0, {"message": repr(exc)}, elapsed
        elapsed = time.perf_counter() - started
        try:
            parsed = _json.loads(content) if content else None
        except ValueError:
            parsed = content[:300].decode(errors="replace")
        if status >= 500:
            self.errors.add(method, path, status, parsed)
        return status, parsed, elapsed

    def ok(self, method: str, path: str, token: str | None = None, json=None, files=None, expect=(200, 201),
           data=None):
        status, body, _ = self.call(method, path, token, json, files, data)
        if status not in expect:
            raise RequestFailed(method, path, status, body)
        return body

    def login(self, username: str, password: str = DEMO_PASSWORD) -> str:
        return self.ok("POST", "/api/v1/auth/login", json={"username": username, "password": password})["token"]

    def login_all(self, usernames, password: str = DEMO_PASSWORD) -> dict[str, str]:
        return {name: self.login(name, password) for name in sorted(set(usernames))}

    def deploy(self, token: str, xml: bytes, filename: str = "bench.bpmn") -> dict:
        return self.ok("POST", "/api/v1/processes", token, files={"file": (filename, xml)})


class Tokens:
    """Bearer tokens of the demo users, logged in on first use (a login costs an argon2 check)."""

    def __init__(self, http: Http, password: str = DEMO_PASSWORD) -> None:
        self.http, self.password = http, password
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def __getitem__(self, username: str) -> str:
        with self._lock:
            if username not in self._tokens:
                self._tokens[username] = self.http.login(username, self.password)
            return self._tokens[username]


class CaseRunner:
    """Runs whole cases over HTTP: the window starts it, each department completes its tasks."""

    def __init__(self, http: Http, proc: BenchProcess, tokens: Tokens, workers: dict[str, str]) -> None:
        self.http, self.proc, self.tokens, self.workers = http, proc, tokens, workers

    @property
    def clerk(self) -> str:
        return self.tokens["window_clerk"]

    def token_for(self, lane: str | None) -> str:
        user = self.workers.get(lane or "")
        if user is None:
            raise RuntimeError(f"no demo user works the lane {lane!r}")
        return self.tokens[user]

    def start(self, data: dict | None = None) -> dict:
        body = {"process_key": self.proc.key, "applicant": APPLICANT,
                "data": dict(self.proc.start_data if data is None else data)}
        return self.http.ok("POST", "/api/v1/cases", self.clerk, json=body, expect=(201,))

    def upload_required(self, case_no: str) -> int:
        """Upload a small PDF for each required material the checklist still misses (as the window does)."""
        status, checklist, _ = self.http.call("GET", f"/api/v1/cases/{case_no}/materials", self.clerk)
        if status != 200:
            return 1
        missing = [m["code"] for m in checklist if m.get("required") and m.get("status") == "missing"]
        for code in missing:
            self.http.ok("POST", f"/api/v1/cases/{case_no}/materials", self.clerk, data={"code": code},
                         files={"file": (f"{code}.pdf", _PDF + case_no.encode() + code.encode())}, expect=(201,))
        return 1 + len(missing)

    def complete(self, task: dict, data: dict | None = None) -> float:
        if data is None:
            data = self.proc.task_data.get(task.get("element_id"), {})
        if "credit_code" in data:  # every company has its own code; its licence is unique
            data = {**data, "credit_code": f"91410600{next(_codes):010d}"}
        path = f"/api/v1/tasks/{task['id']}/complete"
        status, body, elapsed = self.http.call("POST", path, self.token_for(task.get("department")),
                                               json={"data": data})
        if status != 200:
            raise RequestFailed("POST", path, status, body)
        return elapsed

    def get(self, case_no: str) -> dict:
        return self.http.ok("GET", f"/api/v1/cases/{case_no}", self.clerk)

    def run_case(self, on_complete=None) -> dict:
        """Start a case and complete every task until it is completed. Returns counts."""
        case = self.start()
        done: set[str] = set()
        requests_made = 1 + self.upload_required(case["case_no"])
        while case["status"] == "running":
            ready = [t for t in case["tasks"] if t["state"] == "ready" and t["id"] not in done]
            if not ready:
                raise RuntimeError(f"case {case['case_no']} is running with no ready task")
            for task in ready:
                elapsed = self.complete(task)
                done.add(task["id"])
                requests_made += 1
                if on_complete:
                    on_complete(elapsed)
            case = self.get(case["case_no"])
            requests_made += 1
        return {"case_no": case["case_no"], "tasks": len(done), "requests": requests_made,
                "end_event": case.get("end_event")}


class Connection:
    """One server as the benchmarks see it: an HTTP client and the demo users' tokens, shared."""

    def __init__(self, base_url: str, errors: ServerErrors | None = None, http: Http | None = None) -> None:
        self.http = http or Http(base_url, errors)
        self.tokens = Tokens(self.http)
        self.url = base_url
        self._deployed: set[str] = set()

    @property
    def errors(self) -> ServerErrors:
        return self.http.errors

    def runner(self, proc: BenchProcess) -> CaseRunner:
        """A case runner for ``proc``; deploys it (as ``analyst``) unless the demo seed did."""
        if not proc.deployed_by_seed and proc.key not in self._deployed:
            keys = {p["process_key"] for p in self.http.ok("GET", "/api/v1/processes", self.tokens["analyst"])}
            if proc.key not in keys:
                self.http.deploy(self.tokens["analyst"], proc.xml, f"{proc.key}.bpmn")
            self._deployed.add(proc.key)
        return CaseRunner(self.http, proc, self.tokens, demo_workers())
