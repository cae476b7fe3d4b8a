"""Measurement 4: six departments complete the six parallel branches of one case at the same instant.

Uses the six-way fan-out from tests/bpmn_factory, deployed by ``analyst``.
Each round: start a case, the window completes intake, then six threads wait
on a barrier and each completes its department's branch. Afterwards the case
must show exactly one ready ``issue`` task (the join fired once).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.bpmn_factory import SIX_DEPARTMENTS

from .bpmn import six_way
from .client import Connection
from .common import Scale, latency_summary, log, rnd


def run(conn: Connection, scale: Scale) -> dict:
    runner = conn.runner(six_way())
    departments = list(SIX_DEPARTMENTS)
    for dept in departments:
        runner.token_for(dept)
    barrier = threading.Barrier(len(departments))
    rounds: list[dict] = []
    all_times: list[float] = []

    def one_round(measured: bool) -> None:
        case = runner.start()
        intake = next(t for t in case["tasks"] if t["state"] == "ready")
        runner.complete(intake)
        case = runner.get(case["case_no"])
        branches = {t["department"]: t for t in case["tasks"] if t["state"] == "ready"}

        def complete(dept: str):
            task = branches[dept]
            token = runner.token_for(dept)
            barrier.wait(timeout=30)
            status, body, elapsed = runner.http.call("POST", f"/api/v1/tasks/{task['id']}/complete", token,
                                                     json={"data": {f"d_{departments.index(dept)}": 1}})
            return dept, status, elapsed, body

        results = list(pool.map(complete, departments))
        after = runner.get(case["case_no"])
        ready = [t["element_id"] for t in after["tasks"] if t["state"] == "ready"]
        completed = sum(1 for t in after["tasks"] if t["state"] == "completed")
        if not measured:
            return
        statuses = [r[1] for r in results]
        times = [r[2] for r in results]
        all_times.extend(times)
        rounds.append({"ok": statuses.count(200), "statuses": statuses,
                       "slowest_ms": rnd(max(times) * 1000, 1),
                       "join_ok": ready == ["issue"] and completed == 7,
                       "errors": [str(r[3])[:200] for r in results if r[1] != 200][:3]})

    with ThreadPoolExecutor(len(departments)) as pool:
        one_round(measured=False)  # warm-up: connections open, tokens fetched
        for _ in range(scale.concurrency_rounds):
            one_round(measured=True)
    total_ok = sum(r["ok"] for r in rounds)
    out = {
        "rounds": len(rounds), "branches_per_round": len(departments),
        "successes": total_ok, "attempts": len(rounds) * len(departments),
        "rounds_all_ok": sum(1 for r in rounds if r["ok"] == len(departments)),
        "rounds_join_ok": sum(1 for r in rounds if r["join_ok"]),
        "slowest_ms": rnd(max(all_times) * 1000, 1) if all_times else None,
        "slowest_per_round_p50_ms": rnd(sorted(r["slowest_ms"] for r in rounds)[len(rounds) // 2], 1) if rounds else None,
        "all_responses": latency_summary(all_times),
        "non_200": sorted({s for r in rounds for s in r["statuses"] if s != 200}),
        "error_samples": [e for r in rounds for e in r["errors"]][:5],
    }
    log(f"concurrency: {out['successes']}/{out['attempts']} ok, joins ok {out['rounds_join_ok']}/{out['rounds']}, "
        f"slowest {out['slowest_ms']} ms")
    return out
