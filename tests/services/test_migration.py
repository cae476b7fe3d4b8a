"""Case migration v1 -> v2 on real cases: the preview says exactly which move and why the others cannot,
applying moves them (each with its audit event), the moved cases finish on v2, the others are untouched."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import AuditEvent, Case, ProcessDefinition, Task, Timer, User, WorkflowState
from app.scheduler import fire_due_timers
from app.services import audit, clock, migration
from app.services.clock import LOCAL_TZ, ManualClock

from ..api.helpers import APPLICANT, WORKER, deploy, ready
from ..conftest import DATA

V1 = (DATA / "migration_v1.bpmn").read_text()
V2 = (DATA / "migration_v2.bpmn").read_text()
REMOVED = "任务“税务审查”（task_b）在新版本中不存在"


def case_body(api, case_no):
    return api.as_user("window_clerk").get(f"/api/v1/cases/{case_no}").body


def work(api, case_no, element):
    task = ready(case_body(api, case_no), element)
    assert task, (element, case_body(api, case_no)["tasks"])
    resp = api.as_user(WORKER[task[0]["department"]]).post(f"/api/v1/tasks/{task[0]['id']}/complete",
                                                           json={"data": {}})
    assert resp.status_code == 200, resp.body


def start_case(api, key="migration_demo", *done):
    body = api.as_user("window_clerk").post("/api/v1/cases", json={"process_key": key, "applicant": APPLICANT})
    assert body.status_code == 201, body.body
    for element in done:
        work(api, body.body["case_no"], element)
    return body.body["case_no"]


def finish(api, case_no, limit=10) -> list[str]:
    """Work every ready task, in element order, until the case ends; returns the elements worked."""
    worked = []
    while case_body(api, case_no)["status"] == "running" and len(worked) < limit:
        element = sorted(t["element_id"] for t in ready(case_body(api, case_no)))[0]
        work(api, case_no, element)
        worked.append(element)
    return worked


def snapshot(case_no) -> dict:
    """Everything the database holds about a case's progress."""
    db.session.rollback()
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    state = db.session.get(WorkflowState, case.id)
    tasks = db.session.execute(select(Task).where(Task.case_id == case.id).order_by(Task.id)).scalars()
    timers = db.session.execute(select(Timer).where(Timer.case_id == case.id).order_by(Timer.id)).scalars()
    events = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.case_id == case.id)).scalar_one()
    return {"definition": case.process_definition_id, "status": case.status, "data": case.data,
            "audit_head": case.audit_head, "updated_at": case.updated_at, "state": state.state,
            "state_version": state.version, "events": events,
            "tasks": [(t.id, t.element_id, t.name, t.state, t.department_id, t.assignee_id) for t in tasks],
            "timers": [(t.id, t.element_id, t.due_at, t.fired_at) for t in timers]}


def definition_id(key, version):
    db.session.rollback()
    return db.session.execute(select(ProcessDefinition.id).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version)).scalar_one()


@pytest.fixture
def on_v1(api):
    """Five v1 cases at different points, then v2 deployed (税务审查 replaced by 公安审查, 复核 added)."""
    assert deploy(api, V1).status_code == 201
    cases = {
        "intake": start_case(api),                                              # at 受理
        "both": start_case(api, "migration_demo", "task_intake"),               # 市场监管 + 税务 open
        "tax_open": start_case(api, "migration_demo", "task_intake", "task_a"),  # only 税务 open
        "tax_done": start_case(api, "migration_demo", "task_intake", "task_b"),  # only 市场监管 open
        "issue": start_case(api, "migration_demo", "task_intake", "task_a", "task_b"),  # at 出件
    }
    assert deploy(api, V2).status_code == 201
    return cases


def test_preview_lists_who_moves_and_why_not_and_writes_nothing(api, on_v1):
    before = {name: snapshot(no) for name, no in on_v1.items()}
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    found = migration.preview(db.session, key="migration_demo", from_version=1, now=clock.now())
    assert (found.source_version, found.target_version) == (1, 2)
    by_no = {c.case_no: c for c in found.cases}
    assert set(by_no) == set(on_v1.values())
    assert {name: by_no[no].movable for name, no in on_v1.items()} == {
        "intake": True, "both": False, "tax_open": False, "tax_done": True, "issue": True}
    assert by_no[on_v1["both"]].reasons == [REMOVED]
    assert by_no[on_v1["tax_open"]].reasons == [REMOVED]
    assert by_no[on_v1["intake"]].tasks == ["受理"]
    assert by_no[on_v1["both"]].tasks == ["市场监管审查", "税务审查"]
    assert all(by_no[on_v1[n]].reasons == [] for n in ("intake", "tax_done", "issue"))
    assert {name: snapshot(no) for name, no in on_v1.items()} == before
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events


def test_apply_moves_the_movable_cases_which_then_finish_on_v2(api, on_v1):
    before = {name: snapshot(no) for name, no in on_v1.items()}
    analyst = db.session.execute(select(User.id).where(User.username == "analyst")).scalar_one()
    result = migration.run(db.session, key="migration_demo", from_version=1, case_numbers=None,
                           actor_id=analyst, now=clock.now())
    moved = {on_v1[n] for n in ("intake", "tax_done", "issue")}
    assert set(result.moved) == moved and result.failed == []
    assert sorted((s["case_no"], s["reasons"][0]) for s in result.skipped) == sorted(
        [(on_v1["both"], REMOVED), (on_v1["tax_open"], REMOVED)])

    v1, v2 = definition_id("migration_demo", 1), definition_id("migration_demo", 2)
    for name in ("both", "tax_open"):  # untouched, row for row
        assert snapshot(on_v1[name]) == before[name]
    for name in ("intake", "tax_done", "issue"):
        after = snapshot(on_v1[name])
        assert after["definition"] == v2 and before[name]["definition"] == v1
        # the same task rows (ids, states): nothing was redone or lost
        assert [t[:4] for t in after["tasks"]] == [t[:4] for t in before[name]["tasks"]]
        events = [e for e in audit.case_events(db.session, db.session.execute(
            select(Case.id).where(Case.case_no == on_v1[name])).scalar_one()) if e.action == "case.migrated"]
        assert len(events) == 1 and events[0].actor_id == analyst
        assert events[0].before["version"] == 1 and events[0].after["version"] == 2
        assert events[0].after["run"] == result.run_id
    runs = db.session.execute(select(AuditEvent).where(AuditEvent.action == "process.migration_run")).scalars().all()
    assert len(runs) == 1 and runs[0].after["run"] == result.run_id
    assert sorted(runs[0].after["moved"]) == sorted(moved)
    assert audit.verify(db.session) == []  # every case's hash chain still holds

    # the moved cases run on v2: 公安审查 and 复核 exist only there
    assert finish(api, on_v1["intake"]) == ["task_intake", "task_a", "task_c", "task_check", "task_issue"]
    assert finish(api, on_v1["tax_done"]) == ["task_a", "task_check", "task_issue"]
    assert finish(api, on_v1["issue"]) == ["task_issue"]
    # the unmoved ones still run on v1
    assert finish(api, on_v1["both"]) == ["task_a", "task_b", "task_issue"]
    assert finish(api, on_v1["tax_open"]) == ["task_b", "task_issue"]
    for name in on_v1:
        body = case_body(api, on_v1[name])
        assert body["status"] == "completed" and body["end_event"] == "end", name


def test_only_the_listed_cases_move_and_unknown_numbers_are_reported(api, on_v1):
    result = migration.run(db.session, key="migration_demo", from_version=1,
                           case_numbers=[on_v1["issue"], "410600000000000000"], actor_id=None, now=clock.now())
    assert result.moved == [on_v1["issue"]]
    assert result.skipped == [{"case_no": "410600000000000000", "reasons": ["不是 v1 上运行中的办件"]}]
    assert snapshot(on_v1["intake"])["definition"] == definition_id("migration_demo", 1)


def test_a_case_that_changed_since_the_preview_fails_alone(api, on_v1, monkeypatch):
    """One case breaking while it moves is rolled back and reported; the others still move."""
    real = migration.migrate_case
    before = snapshot(on_v1["issue"])

    def flaky(session, **kw):
        if kw["case_no"] == on_v1["issue"]:
            real(session, **kw)  # everything written ... then it fails
            raise RuntimeError("boom")
        return real(session, **kw)
    monkeypatch.setattr(migration, "migrate_case", flaky)
    result = migration.run(db.session, key="migration_demo", from_version=1, case_numbers=None, actor_id=None,
                           now=clock.now())
    assert sorted(result.moved) == sorted([on_v1["intake"], on_v1["tax_done"]])
    assert result.failed == [{"case_no": on_v1["issue"], "message": "迁移时发生内部错误，该办件未改变"}]
    assert snapshot(on_v1["issue"]) == before


@pytest.mark.parametrize("version,error", [(2, InvalidInput), (0, InvalidInput), (7, NotFound)])
def test_bad_source_versions_are_refused(api, on_v1, version, error):
    with pytest.raises(error):
        migration.preview(db.session, key="migration_demo", from_version=version, now=clock.now())


TIMER = (DATA / "timer_escalation.bpmn").read_text()


def test_waiting_timers_keep_their_rows_and_fire_times_and_fire_on_v2(api, app):
    manual = ManualClock(datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ))
    clock.use(manual)
    try:
        assert deploy(api, TIMER).status_code == 201
        case_no = start_case(api, "timer_escalation")
        before = snapshot(case_no)
        # v2 renames the reminder's follow-up task and gives the review task a new name
        v2 = TIMER.replace('name="税务审核"', 'name="税务审核（新）"').replace('name="催办"', 'name="催办（新）"')
        assert deploy(api, v2).status_code == 201
        result = migration.run(db.session, key="timer_escalation", from_version=1, case_numbers=None,
                               actor_id=None, now=clock.now())
        assert result.moved == [case_no]
        after = snapshot(case_no)
        assert after["timers"] == before["timers"] and len(after["timers"]) == 2  # same ids, same due times
        assert [t[2] for t in after["tasks"]] == ["税务审核（新）"]  # the ready task row follows the new name
        manual.set(datetime(2025, 9, 28, 17, 1, tzinfo=LOCAL_TZ))  # the reminder is due
        assert fire_due_timers(app) == 1
        body = case_body(api, case_no)
        assert {t["name"] for t in ready(body)} == {"税务审核（新）", "催办（新）"}  # the v2 path
    finally:
        clock.use(clock.SystemClock())


def test_a_case_inside_a_called_stage_with_a_countersign_moves_and_completes(api):
    """工程建设项目: the case sits in stage 2 (a call activity), at the 多图联审 countersign of three departments."""
    from app.services import processes
    from app.services.uow import run_use_case
    from config import BASE_DIR

    from ..api.test_construction import _start, _work_until
    case_no = _start(api)
    case, _ = _work_until(api, case_no, stop=lambda c: bool(ready(c, "task_drawing_review")))
    reviews = sorted((t["id"], t["department"]) for t in ready(case, "task_drawing_review"))
    assert len(reviews) == 3
    xml = (BASE_DIR / "processes" / "construction_project.bpmn").read_bytes().replace(
        'name="统一出件"'.encode(), 'name="统一出件（v2）"'.encode())
    catalog = (BASE_DIR / "processes" / "construction_project.yaml").read_text(encoding="utf-8")
    v2 = run_use_case(db.session, lambda: processes.deploy(db.session, xml, filename="construction_project.bpmn",
                                                           actor_id=None, now=clock.now(), catalog_text=catalog))
    found = migration.preview(db.session, key="construction_project", from_version=v2.version - 1, now=clock.now())
    row = next(c for c in found.cases if c.case_no == case_no)
    assert row.movable, row.reasons
    result = migration.run(db.session, key="construction_project", from_version=v2.version - 1,
                           case_numbers=[case_no], actor_id=None, now=clock.now())
    assert result.moved == [case_no], result
    case = case_body(api, case_no)
    # the same three countersign tasks, each still with its department
    assert sorted((t["id"], t["department"]) for t in ready(case, "task_drawing_review")) == reviews
    case, order = _work_until(api, case_no)
    assert case["status"] == "completed" and case["end_event"] == "end_done", (order, case["tasks"])
    assert order[-1] == ("task_issue", "综合窗口")
    assert [t["name"] for t in case["tasks"] if t["element_id"] == "task_issue"] == ["统一出件（v2）"]


def test_a_countersign_completes_after_the_worker_parsed_the_diagrams_again(api):
    """The same event wiring a migrated case needs: a restarted worker (fresh parse, empty caches)
    must still hear the 多图联审 instances complete (it did not before loader.connect_loops)."""
    from app.engine.cache import workflows
    from app.services import processes

    from ..api.test_construction import _start, _work_until
    case_no = _start(api)
    _work_until(api, case_no, stop=lambda c: bool(ready(c, "task_drawing_review")))
    processes._cache.clear()
    workflows.clear()
    case, order = _work_until(api, case_no)
    assert case["status"] == "completed", order


def test_a_finished_step_the_new_version_drops_is_cut_out_of_the_history(api):
    """Deployed the other way round: the case has done 复核 (task_check), which the newer version no longer has."""
    assert deploy(api, V2).status_code == 201
    case_no = start_case(api, "migration_demo", "task_intake", "task_a", "task_c", "task_check")
    before = snapshot(case_no)
    assert deploy(api, V1).status_code == 201
    found = migration.preview(db.session, key="migration_demo", from_version=1, now=clock.now())
    assert [(c.case_no, c.movable, c.tasks) for c in found.cases] == [(case_no, True, ["出件"])]
    result = migration.run(db.session, key="migration_demo", from_version=1, case_numbers=None, actor_id=None,
                           now=clock.now())
    assert result.moved == [case_no]
    assert [t[:4] for t in snapshot(case_no)["tasks"]] == [t[:4] for t in before["tasks"]]  # task rows kept
    assert finish(api, case_no) == ["task_issue"]
    assert case_body(api, case_no)["status"] == "completed"


def test_a_finished_step_inside_the_kept_history_is_cut_out(api, monkeypatch):
    """v2 drops 受理 (start goes straight to the split); a case past it, at the parallel reviews, moves."""
    from app.engine import migration as moving
    cut = []
    real_cut = moving._cut_out
    monkeypatch.setattr(moving, "_cut_out", lambda wf, task: (cut.append(task.task_spec.name), real_cut(wf, task)))
    assert deploy(api, V1).status_code == 201
    case_no = start_case(api, "migration_demo", "task_intake")
    without_intake = V1.replace('<bpmn:flowNodeRef>task_intake</bpmn:flowNodeRef>', '') \
        .replace('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task_intake"/>', '') \
        .replace('<bpmn:userTask id="task_intake" name="受理"/>', '') \
        .replace('sourceRef="task_intake" targetRef="split"', 'sourceRef="start" targetRef="split"')
    assert deploy(api, without_intake).status_code == 201
    result = migration.run(db.session, key="migration_demo", from_version=1, case_numbers=None, actor_id=None,
                           now=clock.now())
    assert result.moved == [case_no], result
    assert cut == ["task_intake", "task_intake"]  # in the preview's trial, then in the move itself
    assert finish(api, case_no) == ["task_a", "task_b", "task_issue"]
    assert case_body(api, case_no)["status"] == "completed"
