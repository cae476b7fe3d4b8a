"""Parallel branches of one case completed at the same instant, against the real server."""
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from ..bpmn_factory import SIX_DEPARTMENTS, fan_out
from ..conftest import ApiClient
from .helpers import APPLICANT, WORKER, deploy, ready


def _start(live, n_cases):
    api = ApiClient(base_url=live.url)
    assert deploy(api, fan_out("six_way", SIX_DEPARTMENTS)).status_code == 201
    clerk = api.as_user("window_clerk")
    workers = {d: api.as_user(WORKER[d]) for d in SIX_DEPARTMENTS}
    case_nos = []
    for _ in range(n_cases):
        case = clerk.post("/api/v1/cases", json={"process_key": "six_way", "applicant": APPLICANT}).body
        intake = ready(case, "intake")[0]
        assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
        case_nos.append(case["case_no"])
    return clerk, workers, case_nos


def test_six_departments_complete_one_case_at_the_same_instant(live_server, database_url):
    clerk, workers, (case_no,) = _start(live_server, 1)
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    tasks = {t["department"]: t for t in ready(case) if t["department"] in workers}
    assert len(tasks) == 6
    barrier = threading.Barrier(6)

    def complete(dept):
        barrier.wait()
        return workers[dept].post(f"/api/v1/tasks/{tasks[dept]['id']}/complete", json={"data": {f"d_{SIX_DEPARTMENTS.index(dept)}": 1}})

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(complete, SIX_DEPARTMENTS))
    assert [r.status_code for r in results] == [200] * 6, [r.body for r in results]

    case = clerk.get(f"/api/v1/cases/{case_no}").body
    assert [t["element_id"] for t in ready(case)] == ["issue"]  # the join fired exactly once
    assert sum(1 for t in case["tasks"] if t["state"] == "completed") == 7
    assert sorted(case["data"]) == [f"d_{i}" for i in range(6)]  # every branch's data kept

    engine = create_engine(database_url)
    with engine.connect() as conn:
        completions = conn.execute(text(
            "SELECT count(*) FROM audit_events a JOIN cases c ON c.id = a.case_id "
            "WHERE c.case_no = :no AND a.action = 'task.completed'"), {"no": case_no}).scalar_one()
        version = conn.execute(text("SELECT w.version FROM workflow_states w JOIN cases c ON c.id = w.case_id "
                                    "WHERE c.case_no = :no"), {"no": case_no}).scalar_one()
    engine.dispose()
    assert completions == 7 and version == 8  # start + 7 completions, no lost or doubled step


def test_the_same_task_raced_by_two_clients_succeeds_once(live_server):
    clerk, workers, (case_no,) = _start(live_server, 1)
    task = next(t for t in ready(clerk.get(f"/api/v1/cases/{case_no}").body) if t["department"] == "税务局")
    other = ApiClient(base_url=live_server.url).as_user("tax_approver")
    barrier = threading.Barrier(2)

    def complete(client):
        barrier.wait()
        return client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(complete, [workers["税务局"], other]))
    assert codes == [200, 409]


def test_many_cases_completed_from_many_threads(live_server):
    clerk, workers, case_nos = _start(live_server, 8)
    jobs = []
    for no in case_nos:
        for t in ready(clerk.get(f"/api/v1/cases/{no}").body):
            jobs.append((t["department"], t["id"]))

    def complete(job):
        dept, task_id = job
        return workers[dept].post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(complete, jobs))
    assert codes == [200] * len(jobs)
    for no in case_nos:
        assert [t["element_id"] for t in ready(clerk.get(f"/api/v1/cases/{no}").body)] == ["issue"]
