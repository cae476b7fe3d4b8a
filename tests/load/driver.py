"""Drives many cases over HTTP from a pool of threads, recording every answer.

Jobs go through a priority queue, so threads prefer finishing cases already
started: the parallel branches of one case are picked up by different threads
at about the same moment. A request that fails with a connection error (its
worker was killed) is retried; anything answered is recorded as it came.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests

from ..api.helpers import APPLICANT

BRANCHES = {"task_a": "amr_approver", "task_b": "tax_approver", "task_c": "police_approver"}
ISSUE, START = 0, 2  # queue priorities: issue first, then branches (1), new cases last


@dataclass
class Record:
    """What the server answered, for the assertions afterwards."""

    statuses: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    connection_errors: int = 0
    completed_200: set = field(default_factory=set)   # task ids answered 200
    completed_409_after_retry: set = field(default_factory=set)  # first try lost, second said "done already"
    case_nos: set = field(default_factory=set)
    started: int = 0  # cases whose intake is done
    finished: set = field(default_factory=set)  # cases whose issue task was answered 200
    problems: list = field(default_factory=list)


class Driver:
    def __init__(self, base_url: str, tokens: dict[str, str], threads: int = 16) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.threads = threads
        self.rec = Record()
        self._lock = threading.Lock()
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._seq = itertools.count()
        self._outstanding = 0
        self._idle = threading.Event()
        self._branches_done: Counter = Counter()
        self.awaiting_issue: set[str] = set()  # all branches done, the timer not fired yet
        self.run_id = uuid.uuid4().hex[:8]  # Idempotency-Keys of this run's new cases

    # --- HTTP -------------------------------------------------------------------------------
    def call(self, method: str, path: str, user: str, json=None, headers=None) -> tuple[int, object, bool]:
        """One request, retried on connection errors; returns (status, body, retried)."""
        retried = False
        for _ in range(40):
            try:
                resp = requests.request(method, self.base_url + path, json=json, timeout=60,
                                        headers={"Authorization": f"Bearer {self.tokens[user]}", **(headers or {})})
            except requests.ConnectionError:
                with self._lock:
                    self.rec.connection_errors += 1
                retried = True
                time.sleep(0.25)
                continue
            body = resp.json() if resp.content else None
            with self._lock:
                self.rec.statuses[resp.status_code] += 1
                if resp.status_code >= 500:
                    self.rec.server_errors.append((method, path, resp.status_code, body))
            return resp.status_code, body, retried
        raise RuntimeError(f"{method} {path}: no answer after 40 tries")

    def complete(self, task_id: str, user: str, data: dict) -> bool:
        """True when the task is done: answered 200, or 409 on a retry after a lost answer."""
        status, body, retried = self.call("POST", f"/api/v1/tasks/{task_id}/complete", user, {"data": data})
        with self._lock:
            if status == 200:
                self.rec.completed_200.add(task_id)
                return True
            if status == 409 and retried:
                self.rec.completed_409_after_retry.add(task_id)
                return True
            self.rec.problems.append(("complete", task_id, status, body))
        return False

    def case(self, case_no: str) -> dict:
        status, body, _ = self.call("GET", f"/api/v1/cases/{case_no}", "window_clerk")
        assert status == 200, (case_no, status, body)
        return body

    # --- jobs -------------------------------------------------------------------------------
    def submit(self, priority: int, fn, *args) -> None:
        with self._lock:
            self._outstanding += 1
            self._idle.clear()
        self._queue.put((priority, next(self._seq), fn, args))

    def start_case(self, n: int) -> None:
        applicant = {**APPLICANT, "name": f"压测申请人{n}"}
        # the key makes a retry after a lost answer (a killed worker) return the case, not start a second
        status, body, _ = self.call("POST", "/api/v1/cases", "window_clerk",
                                    {"process_key": "load_parallel", "applicant": applicant},
                                    headers={"Idempotency-Key": f"load-{self.run_id}-{n}"})
        assert status == 201, (status, body)
        case_no = body["case_no"]
        with self._lock:
            self.rec.case_nos.add(case_no)
        intake = next(t for t in body["tasks"] if t["element_id"] == "intake")
        assert self.complete(intake["id"], "window_clerk", {}), intake
        with self._lock:
            self.rec.started += 1
        for task in self.case(case_no)["tasks"]:
            if task["state"] == "ready" and task["element_id"] in BRANCHES:
                self.submit(1, self.complete_branch, case_no, task)

    def complete_branch(self, case_no: str, task: dict) -> None:
        element = task["element_id"]
        if not self.complete(task["id"], BRANCHES[element], {f"{element}_done": True}):
            return
        with self._lock:
            self._branches_done[case_no] += 1
            last = self._branches_done[case_no] == len(BRANCHES)
        if last:
            self.look_for_issue(case_no)

    def look_for_issue(self, case_no: str) -> None:
        issue = [t for t in self.case(case_no)["tasks"] if t["element_id"] == "issue" and t["state"] == "ready"]
        with self._lock:
            if not issue:  # the join still waits for the timer
                self.awaiting_issue.add(case_no)
                return
            self.awaiting_issue.discard(case_no)
        self.submit(ISSUE, self.complete_issue, case_no, issue[0]["id"])

    def complete_issue(self, case_no: str, task_id: str) -> None:
        if self.complete(task_id, "window_clerk", {}):
            with self._lock:
                self.rec.finished.add(case_no)

    # --- running ----------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            _, _, fn, args = self._queue.get()
            if fn is None:
                return
            try:
                fn(*args)
            except Exception as exc:  # recorded, the load goes on
                with self._lock:
                    self.rec.problems.append((fn.__name__, args, repr(exc)))
            finally:
                with self._lock:
                    self._outstanding -= 1
                    if self._outstanding == 0:
                        self._idle.set()

    def run(self, cases: int, deadline: float, poll_issue) -> None:
        """Start ``cases`` cases and work them until none is left or ``deadline`` (monotonic) passes.

        ``poll_issue()`` returns the case numbers whose issue task is ready; it is asked twice
        a second for the cases that wait for their timer.
        """
        for n in range(cases):
            self.submit(START, self.start_case, n)
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        for t in threads:
            t.start()
        try:
            while time.monotonic() < deadline:
                if self._idle.wait(0.5) and not self.awaiting_issue:
                    break
                with self._lock:
                    waiting = set(self.awaiting_issue)
                for case_no in waiting & poll_issue(waiting):
                    with self._lock:
                        self.awaiting_issue.discard(case_no)
                    self.submit(ISSUE, self.look_for_issue, case_no)
        finally:
            for _ in threads:
                self._queue.put((99, next(self._seq), None, ()))
            for t in threads:
                t.join(30)
