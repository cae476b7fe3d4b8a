"""End to end over the API: deploy, start, work the parallel branches in every order, audit."""
import itertools

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Task, WorkflowState

from .helpers import APPLICANT, DEMO_XML, WORKER, deploy, ready


def start_demo_case(api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    resp = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT, "data": {}})
    assert resp.status_code == 201, resp.body
    return clerk, resp.body


def test_deploy_returns_key_and_version_and_lists_it(api):
    first = deploy(api, DEMO_XML)
    assert first.status_code == 201, first.body
    assert first.body["process_key"] == "parallel_demo" and first.body["version"] == 1
    second = deploy(api, DEMO_XML.replace("审查A", "审查A（新）"))
    assert second.body["version"] == 2
    listed = api.as_user("clerk" if False else "analyst").get("/api/v1/processes").body
    row = next(p for p in listed if p["process_key"] == "parallel_demo")
    assert row["version"] == 2 and row["name"] == "并联测试"


@pytest.mark.parametrize("order", list(itertools.permutations(["task_a", "task_b", "task_c"])))
def test_parallel_branches_complete_in_any_order(api, order):
    clerk, case = start_demo_case(api)
    case_no = case["case_no"]
    assert case["status"] == "running"
    intake = ready(case, "task_intake")[0]
    assert intake["department"] == "综合窗口"
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200

    for element in order:
        case = clerk.get(f"/api/v1/cases/{case_no}").body
        task = ready(case, element)[0]
        worker = api.as_user(WORKER[task["department"]])
        inbox = worker.get("/api/v1/tasks?state=ready").body
        assert [t["id"] for t in inbox] == [task["id"]]  # only their own department's task
        data = {"approved_a": True} if element == "task_a" else {}
        resp = worker.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
        assert resp.status_code == 200, resp.body
        assert resp.body["state"] == "completed"

    case = clerk.get(f"/api/v1/cases/{case_no}").body
    issue = ready(case, "task_issue")[0]
    assert clerk.post(f"/api/v1/tasks/{issue['id']}/complete", json={"data": {}}).status_code == 200
    case = clerk.get(f"/api/v1/cases/{case_no}").body
    assert case["status"] == "completed" and case["end_event"] == "end_ok"
    assert case["data"]["approved_a"] is True

    # the task table says exactly what happened, in the order it happened
    rows = db.session.execute(select(Task).where(Task.case_id == case["id"])).scalars().all()
    assert sorted(t.element_id for t in rows) == sorted(["task_intake", *order, "task_issue"])
    assert all(t.state == "completed" and t.completed_by_id for t in rows)
    # the audit log has one completion per task, in completion order
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.after).where(
        AuditEvent.case_id == case["id"]).order_by(AuditEvent.id)).all()
    completed = [after["element_id"] for action, after in actions if action == "task.completed"]
    assert completed == ["task_intake", *order, "task_issue"]
    assert actions[0][0] == "case.started"
    history = clerk.get(f"/api/v1/cases/{case_no}/history").body
    assert [h["action"] for h in history] == [a for a, _ in actions]


def test_state_version_counts_every_step(api):
    clerk, case = start_demo_case(api)
    intake = ready(case, "task_intake")[0]
    clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}})
    version = db.session.execute(select(WorkflowState.version).where(WorkflowState.case_id == case["id"])).scalar_one()
    assert version == 2
    assert db.session.execute(select(func.count()).select_from(Task)).scalar_one() == 4


def test_a_branch_completion_reads_its_rows_once_and_writes_each_changed_row_once(api):
    """The step's hot path: one read of task, case, state and the case's task states (on SQLite); one
    UPDATE per changed row (task, case, workflow state) and the audit INSERT, nothing else.
    A regression here (an extra query, a row written twice) shows in the count, not in a timing."""
    from ..web.sql_count import counting
    clerk, case = start_demo_case(api)
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    task = ready(clerk.get(f"/api/v1/cases/{case['case_no']}").body, "task_b")[0]
    worker = api.as_user(WORKER[task["department"]])
    assert worker.get("/api/v1/tasks").status_code == 200  # its token is resolved before counting
    db.session.rollback()
    with counting() as statements:
        assert worker.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    # the working calendar is read again when its few-seconds cache has lapsed: not the step's own reads
    statements = [s for s in statements if "calendar_" not in s]
    kinds = [s.split()[0].upper() for s in statements]
    # PostgreSQL reads the task, locks the case's state row, then reads the task again under the lock
    reads = 1 if db.engine.dialect.name == "sqlite" else 3
    assert kinds.count("SELECT") == reads, "\n".join(s[:150] for s in statements)
    assert sorted(s.split()[0:3] == ["UPDATE", "tasks", "SET"] for s in statements).count(True) == 1, statements
    assert sorted(k for k in kinds if k != "SELECT") == ["INSERT", "UPDATE", "UPDATE", "UPDATE"], statements
