"""加签 (前加签 / 后加签) and 撤回 through the services, on the parallel demo: each rule, and that a
refusal changes nothing."""
import pytest
from sqlalchemy import func, select

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.models import AuditEvent, Case, Task, TaskSign, Timer
from app.services import clock, signing, tasks, withdraw, work

from .test_work import actor, case, complete, me, mate, run, tax_task  # noqa: F401  (fixtures)


def state_of(task_id: str) -> tuple:
    """Everything 加签 / 撤回 could change."""
    db.session.rollback()
    task = db.session.get(Task, task_id, populate_existing=True)
    case_row = db.session.get(Case, task.case_id, populate_existing=True)
    signs = tuple(db.session.execute(select(TaskSign.id, TaskSign.status, TaskSign.opinion)
                                     .where(TaskSign.task_id == task_id).order_by(TaskSign.id)).all())
    states = tuple(db.session.execute(select(Task.id, Task.state).where(Task.case_id == case_row.id)
                                      .order_by(Task.id)).all())
    events = db.session.execute(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.case_id == case_row.id)).scalar_one()
    return task.state, task.assignee_id, task.due_at, case_row.audit_head, signs, states, events


def refused(error, fn, task_id, match=None):
    before = state_of(task_id)
    with pytest.raises(error, match=match):
        run(fn)
    assert state_of(task_id) == before


def actions(task_id: str) -> list[str]:
    db.session.rollback()
    return list(db.session.execute(select(AuditEvent.action).where(AuditEvent.object_id == task_id)
                                   .order_by(AuditEvent.id)).scalars())


def claim(task_id, user):
    run(lambda: work.claim(db.session, task_id=task_id, user=user, now=clock.now()))


def before(task_id, user, people, note=""):
    return run(lambda: signing.add_before(db.session, task_id=task_id, user=user, user_ids=[p.id for p in people],
                                          now=clock.now(), note=note))


def decide(sign_id, user, approve=True, opinion="同意"):
    return run(lambda: signing.decide(db.session, sign_id=sign_id, user=user, approve=approve, opinion=opinion,
                                      now=clock.now()))


def signs(task_id):
    db.session.rollback()
    return [(s["user_name"], s["status"]) for s in signing.for_task(db.session, task_id)]


def test_before_sign_needs_the_added_approvers_in_order_then_comes_back(app, tax_task, me, mate):
    police = actor("police_approver")  # another department: 征求意见
    refused(Forbidden, lambda: signing.add_before(db.session, task_id=tax_task, user=me, user_ids=[police.id],
                                                  now=clock.now()), tax_task, "请先认领")
    claim(tax_task, me)
    due = db.session.get(Task, tax_task).due_at
    refused(InvalidInput, lambda: signing.add_before(db.session, task_id=tax_task, user=me, user_ids=[me.id],
                                                     now=clock.now()), tax_task, "不能给自己加签")
    refused(InvalidInput, lambda: signing.add_before(db.session, task_id=tax_task, user=me,
                                                     user_ids=[actor("manager").id], now=clock.now()),
            tax_task, "不是审批人员或窗口人员")
    refused(InvalidInput, lambda: signing.add_before(db.session, task_id=tax_task, user=me, user_ids=[],
                                                     now=clock.now()), tax_task, "请选择加签人")
    refused(Forbidden, lambda: signing.add_before(db.session, task_id=tax_task, user=mate, user_ids=[police.id],
                                                  now=clock.now()), tax_task, "只有认领人")
    rows = before(tax_task, me, [police, mate], note="请会商")
    assert signs(tax_task) == [(police.name, "pending"), (mate.name, "waiting")]
    # the task is held: nobody completes it, nobody starts a second round
    refused(Conflict, lambda: tasks.complete_task(db.session, task_id=tax_task, user=me, data={}, now=clock.now()),
            tax_task, "前加签中")
    refused(Conflict, lambda: signing.add_before(db.session, task_id=tax_task, user=me, user_ids=[mate.id],
                                                 now=clock.now()), tax_task, "已在加签中")
    first, second = rows[0].id, rows[1].id
    refused(Conflict, lambda: signing.decide(db.session, sign_id=second, user=mate, approve=True, opinion="好",
                                             now=clock.now()), tax_task, "还没轮到您")
    refused(Forbidden, lambda: signing.decide(db.session, sign_id=first, user=mate, approve=True, opinion="好",
                                              now=clock.now()), tax_task, "不是请您审批")
    refused(InvalidInput, lambda: signing.decide(db.session, sign_id=first, user=police, approve=True, opinion=" ",
                                                 now=clock.now()), tax_task, "请填写加签意见")
    assert [s["id"] for s in signing.inbox(db.session, police.id)] == [first]
    decide(first, police, opinion="公安局无意见")
    assert signs(tax_task) == [(police.name, "approved"), (mate.name, "pending")]
    assert signing.inbox(db.session, police.id) == [] and [s["id"] for s in signing.inbox(db.session, mate.id)] == [second]
    decide(second, mate)
    assert db.session.get(Task, tax_task).state == "ready"  # back to me: I decide
    complete(tax_task, me)
    task = db.session.get(Task, tax_task)
    assert task.state == "completed" and task.completed_by_id == me.id and task.due_at == due  # clock untouched
    assert actions(tax_task) == ["task.claimed", "task.sign_added", "task.sign_decided", "task.sign_decided",
                                 "task.completed"]


def test_a_before_sign_rejection_ends_the_round_and_the_holder_decides(app, tax_task, me, mate):
    police = actor("police_approver")
    claim(tax_task, me)
    rows = before(tax_task, me, [police, mate])
    decide(rows[0].id, police, approve=False, opinion="材料不符")
    assert signs(tax_task) == [(police.name, "rejected"), (mate.name, "cancelled")]
    refused(Conflict, lambda: signing.decide(db.session, sign_id=rows[1].id, user=mate, approve=True, opinion="好",
                                             now=clock.now()), tax_task, "已审批或已撤销")
    complete(tax_task, me)
    assert db.session.get(Task, tax_task).state == "completed"


def test_after_sign_completes_the_engine_task_only_after_the_last_approval(app, tax_task, me, mate):
    police = actor("police_approver")
    claim(tax_task, me)
    refused(InvalidInput, lambda: signing.submit_after(db.session, task_id=tax_task, user=me, user_ids=[police.id],
                                                       data={"_x": 1}, now=clock.now()), tax_task, "字段名无效")
    rows = run(lambda: signing.submit_after(db.session, task_id=tax_task, user=me, user_ids=[police.id, mate.id],
                                            data={"tax_ok": True}, now=clock.now()))
    assert db.session.get(Task, tax_task).state == "ready"
    refused(Conflict, lambda: tasks.complete_task(db.session, task_id=tax_task, user=me, data={}, now=clock.now()),
            tax_task, "后加签中")
    decide(rows[0].id, police)
    assert db.session.get(Task, tax_task).state == "ready"  # one approver still to go
    decide(rows[1].id, mate, opinion="同意办结")
    db.session.rollback()
    task = db.session.get(Task, tax_task, populate_existing=True)
    assert task.state == "completed" and task.completed_by_id == me.id and task.data == {"tax_ok": True}
    assert actions(tax_task)[-2:] == ["task.sign_decided", "task.completed"]


def test_after_sign_rejection_hands_the_task_back_and_cancel_is_the_requesters(app, tax_task, me, mate):
    police = actor("police_approver")
    claim(tax_task, me)
    rows = run(lambda: signing.submit_after(db.session, task_id=tax_task, user=me, user_ids=[police.id], data={},
                                            now=clock.now()))
    decide(rows[0].id, police, approve=False, opinion="请补充核实")
    assert db.session.get(Task, tax_task).state == "ready" and signs(tax_task) == [(police.name, "rejected")]
    before(tax_task, me, [mate])
    refused(Forbidden, lambda: signing.cancel(db.session, task_id=tax_task, user=mate, now=clock.now()), tax_task)
    run(lambda: signing.cancel(db.session, task_id=tax_task, user=me, now=clock.now()))
    assert signs(tax_task)[-1] == (mate.name, "cancelled") and actions(tax_task)[-1] == "task.sign_cancelled"
    refused(Conflict, lambda: signing.cancel(db.session, task_id=tax_task, user=me, now=clock.now()), tax_task,
            "没有进行中的加签")
    refused(NotFound, lambda: signing.decide(db.session, sign_id=999999, user=mate, approve=True, opinion="x",
                                             now=clock.now()), tax_task)
    complete(tax_task, me)


def _ready(case_no: str, element_id: str) -> Task:
    db.session.rollback()
    case_row = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    return db.session.execute(select(Task).where(Task.case_id == case_row.id, Task.element_id == element_id,
                                                 Task.state == "ready")).scalar_one()


def test_withdraw_a_parallel_branch_while_the_join_waits(app, case, tax_task, me, mate):
    police = actor("police_approver")
    refused(Conflict, lambda: withdraw.withdraw(db.session, task_id=tax_task, user=me, now=clock.now()), tax_task,
            "未办结")
    complete(tax_task, me)
    refused(Forbidden, lambda: withdraw.withdraw(db.session, task_id=tax_task, user=mate, now=clock.now()),
            tax_task, "只能撤回本人办结")
    refused(Forbidden, lambda: withdraw.withdraw(db.session, task_id=tax_task, user=police, now=clock.now()),
            tax_task, "不属于您的部门")
    run(lambda: withdraw.withdraw(db.session, task_id=tax_task, user=me, now=clock.now(), reason="填错了"))
    task = db.session.get(Task, tax_task)
    assert task.state == "ready" and task.assignee_id == me.id and task.completed_at is None
    assert actions(tax_task)[-1] == "task.withdrawn"
    refused(Conflict, lambda: withdraw.withdraw(db.session, task_id=tax_task, user=me, now=clock.now()), tax_task,
            "未办结")
    # the engine really has it ready again: completing it and the other branches reaches 出件
    complete(tax_task, me)
    complete(_ready(case["case_no"], "task_c").id, police)
    run(lambda: tasks.complete_task(db.session, task_id=_ready(case["case_no"], "task_a").id,
                                    user=actor("amr_approver"), data={"approved_a": True}, now=clock.now()))
    assert _ready(case["case_no"], "task_issue") is not None


def test_withdraw_the_intake_cancels_the_tasks_it_offered_unless_one_was_touched(app, api):
    from ..api.helpers import APPLICANT, DEMO_XML, deploy, ready
    assert deploy(api, DEMO_XML).status_code == 201
    clerk_api = api.as_user("window_clerk")
    body = clerk_api.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(body, "task_intake")[0]["id"]
    clerk = actor("window_clerk")
    complete(intake, clerk)
    offered = [t.id for t in db.session.execute(select(Task).where(Task.state == "ready", Task.case_id == db.session
               .get(Task, intake).case_id)).scalars()]
    assert len(offered) == 3
    claim(_ready(body["case_no"], "task_b").id, actor("tax_approver"))
    refused(Conflict, lambda: withdraw.withdraw(db.session, task_id=intake, user=clerk, now=clock.now()), intake,
            "已被认领")
    run(lambda: work.unclaim(db.session, task_id=_ready(body["case_no"], "task_b").id, user=actor("tax_approver"),
                             now=clock.now()))
    run(lambda: withdraw.withdraw(db.session, task_id=intake, user=clerk, now=clock.now()))
    db.session.rollback()
    assert db.session.get(Task, intake).state == "ready"
    assert {db.session.get(Task, i).state for i in offered} == {"cancelled"}
    assert db.session.execute(select(func.count()).select_from(Timer)).scalar_one() == 0
    complete(intake, clerk)  # offered afresh
    assert len(db.session.execute(select(Task).where(Task.state == "ready")).scalars().all()) == 3


def test_an_open_round_keeps_the_task_with_its_holder_and_ends_when_the_task_is_dropped(app, tax_task, me, mate):
    police = actor("police_approver")
    claim(tax_task, me)
    rows = before(tax_task, me, [police])
    for fn, word in ((lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=mate.id,
                                            now=clock.now()), "转办"),
                     (lambda: work.delegate(db.session, task_id=tax_task, user=me, to_user_id=mate.id,
                                            now=clock.now()), "委派"),
                     (lambda: work.unclaim(db.session, task_id=tax_task, user=me, now=clock.now()), "取消认领")):
        refused(Conflict, fn, tax_task, f"审批完成后才能{word}")
    # the engine drops the task (here: as a timer, an end event or another branch would); the round ends with it
    task = db.session.get(Task, tax_task)
    from app.engine import TaskSnapshot, StepResult
    from app.services import projection
    snapshot = TaskSnapshot(task_id=task.id, element_id=task.element_id, name=task.name, lane=task.lane,
                            form_key=task.form_key, state="cancelled")
    case_row = db.session.get(Case, task.case_id)
    run(lambda: projection.sync_tasks(db.session, case_row, StepResult(state={}, status="running",
                                                                      tasks=[snapshot]), {}, clock.now()))
    assert signs(tax_task) == [(police.name, "cancelled")]
    assert signing.inbox(db.session, police.id) == []
    assert rows[0].id not in [s["id"] for s in signing.inbox(db.session, police.id)]
