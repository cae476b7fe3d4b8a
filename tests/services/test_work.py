"""Work on tasks (认领, 转办, 委派/交回, 抄送, 评论, 中止计时): each rule, and that a refusal changes nothing."""
import pytest
from sqlalchemy import func, select

from app.api.cases import _may_read
from app.errors import Conflict, Forbidden, InvalidInput
from app.extensions import db
from app.models import AuditEvent, Case, Task, TaskComment, TaskCopy, User
from app.services import accounts, clock, tasks, work
from app.services.uow import run_use_case

from ..api.helpers import APPLICANT, DEMO_XML, deploy, ready


def run(fn):
    return run_use_case(db.session, fn)


def actor(username: str) -> accounts.Actor:
    return accounts.Actor.of(db.session.execute(select(User).where(User.username == username)).scalar_one())


def add_user(username: str, department: str | None, roles=("approver",)) -> accounts.Actor:
    run(lambda: accounts.create_user(db.session, username=username, password="Secret#123", name=f"{username}同志",
                                     department=department, roles=list(roles), actor_id=None, now=clock.now()))
    return actor(username)


@pytest.fixture
def case(api):
    """A running demo case whose tasks sit with 市场监管局, 税务局 and 公安局."""
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    body = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    intake = ready(body, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    db.session.rollback()
    return clerk.get(f"/api/v1/cases/{body['case_no']}").body


@pytest.fixture
def tax_task(case) -> str:
    return next(t["id"] for t in ready(case) if t["department"] == "税务局")


@pytest.fixture
def me():
    return actor("tax_approver")


@pytest.fixture
def mate():
    return add_user("tax_second", "tax")


def snapshot(task_id: str) -> tuple:
    """Everything an operation could change, to show that a refusal changed nothing."""
    db.session.rollback()
    task = db.session.get(Task, task_id, populate_existing=True)
    case = db.session.get(Case, task.case_id, populate_existing=True)
    count = lambda model: db.session.execute(select(func.count()).select_from(model)
                                             .where(model.case_id == case.id)).scalar_one()
    return (task.state, task.assignee_id, task.owner_id, task.claimed_at, case.audit_head, case.suspended_at,
            count(AuditEvent), count(TaskComment), count(TaskCopy),
            tuple(db.session.execute(select(TaskCopy.read_at).order_by(TaskCopy.id)).scalars()))


def refused(error, fn, task_id, match=None):
    before = snapshot(task_id)
    with pytest.raises(error, match=match):
        run(fn)
    assert snapshot(task_id) == before


def complete(task_id, user):
    return run(lambda: tasks.complete_task(db.session, task_id=task_id, user=user, data={}, now=clock.now()))


def last_action(task_id) -> str:
    db.session.rollback()
    return db.session.execute(select(AuditEvent.action).where(AuditEvent.object_id == task_id)
                              .order_by(AuditEvent.id.desc()).limit(1)).scalar_one()


def test_claim_lets_only_the_assignee_complete(app, tax_task, me, mate):
    run(lambda: work.claim(db.session, task_id=tax_task, user=me, now=clock.now()))
    assert db.session.get(Task, tax_task).assignee_id == me.id and last_action(tax_task) == "task.claimed"
    refused(Conflict, lambda: work.claim(db.session, task_id=tax_task, user=mate, now=clock.now()), tax_task,
            "已由他人认领")
    refused(Conflict, lambda: work.claim(db.session, task_id=tax_task, user=me, now=clock.now()), tax_task, "已认领")
    refused(Forbidden, lambda: work.claim(db.session, task_id=tax_task, user=actor("police_approver"),
                                          now=clock.now()), tax_task, "不属于您的部门")
    refused(Forbidden, lambda: tasks.complete_task(db.session, task_id=tax_task, user=mate, data={}, now=clock.now()),
            tax_task, "任务已由他人认领")
    complete(tax_task, me)
    assert db.session.get(Task, tax_task).state == "completed"
    refused(Conflict, lambda: work.claim(db.session, task_id=tax_task, user=mate, now=clock.now()), tax_task,
            "已办理")


def test_unclaim_by_the_assignee_or_a_manager_only(app, tax_task, me, mate):
    refused(Conflict, lambda: work.unclaim(db.session, task_id=tax_task, user=me, now=clock.now()), tax_task,
            "尚未被认领")
    run(lambda: work.claim(db.session, task_id=tax_task, user=me, now=clock.now()))
    refused(Forbidden, lambda: work.unclaim(db.session, task_id=tax_task, user=mate, now=clock.now()), tax_task,
            "只有认领人")
    refused(Forbidden, lambda: work.unclaim(db.session, task_id=tax_task, user=actor("bank_approver"),
                                            now=clock.now()), tax_task)
    run(lambda: work.unclaim(db.session, task_id=tax_task, user=actor("manager"), now=clock.now()))
    task = db.session.get(Task, tax_task)
    assert task.assignee_id is None and task.claimed_at is None and last_action(tax_task) == "task.unclaimed"
    run(lambda: work.claim(db.session, task_id=tax_task, user=mate, now=clock.now()))
    run(lambda: work.unclaim(db.session, task_id=tax_task, user=mate, now=clock.now()))
    complete(tax_task, me)  # back in the department's queue: anyone of it may complete


def test_reassign_within_the_department_only(app, tax_task, me, mate):
    police = actor("police_approver")
    refused(InvalidInput, lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=police.id,
                                                now=clock.now()), tax_task, "只能转办给本部门（税务局）的人员")
    refused(InvalidInput, lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=me.id,
                                                now=clock.now()), tax_task, "不能转办给自己")
    refused(InvalidInput, lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=999999,
                                                now=clock.now()), tax_task, "转办对象")
    watcher = add_user("tax_watcher", "tax", roles=("manager",))
    refused(InvalidInput, lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=watcher.id,
                                                now=clock.now()), tax_task, "不是审批人员或窗口人员")
    refused(Forbidden, lambda: work.reassign(db.session, task_id=tax_task, user=police, to_user_id=mate.id,
                                             now=clock.now()), tax_task)
    # unclaimed: anyone of the department may hand it over
    run(lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=mate.id, now=clock.now(),
                              note="请你办理"))
    assert db.session.get(Task, tax_task).assignee_id == mate.id and last_action(tax_task) == "task.reassigned"
    # now it is the colleague's: only they may hand it on, and only they may complete it
    refused(Forbidden, lambda: work.reassign(db.session, task_id=tax_task, user=me, to_user_id=mate.id,
                                             now=clock.now()), tax_task, "只有认领人可以转办")
    refused(Forbidden, lambda: tasks.complete_task(db.session, task_id=tax_task, user=me, data={}, now=clock.now()),
            tax_task, "任务已由他人认领")
    complete(tax_task, mate)


def test_delegate_then_resolve_then_the_owner_completes(app, tax_task, me, mate):
    refused(Forbidden, lambda: work.delegate(db.session, task_id=tax_task, user=me, to_user_id=mate.id,
                                             now=clock.now()), tax_task, "请先认领")
    run(lambda: work.claim(db.session, task_id=tax_task, user=me, now=clock.now()))
    refused(InvalidInput, lambda: work.delegate(db.session, task_id=tax_task, user=me,
                                                to_user_id=actor("bank_approver").id, now=clock.now()), tax_task,
            "只能委派给本部门")
    run(lambda: work.delegate(db.session, task_id=tax_task, user=me, to_user_id=mate.id, now=clock.now()))
    task = db.session.get(Task, tax_task)
    assert (task.owner_id, task.assignee_id) == (me.id, mate.id) and last_action(tax_task) == "task.delegated"

    refused(Forbidden, lambda: tasks.complete_task(db.session, task_id=tax_task, user=mate, data={}, now=clock.now()),
            tax_task, "交回")
    refused(Forbidden, lambda: tasks.complete_task(db.session, task_id=tax_task, user=me, data={}, now=clock.now()),
            tax_task, "交回后才能办结")
    refused(Conflict, lambda: work.unclaim(db.session, task_id=tax_task, user=me, now=clock.now()), tax_task, "委派中")
    refused(Conflict, lambda: work.reassign(db.session, task_id=tax_task, user=mate, to_user_id=me.id,
                                            now=clock.now()), tax_task, "委派中")
    refused(Conflict, lambda: work.delegate(db.session, task_id=tax_task, user=me, to_user_id=mate.id,
                                            now=clock.now()), tax_task, "已委派")
    refused(Forbidden, lambda: work.resolve(db.session, task_id=tax_task, user=me, comment="好", now=clock.now()),
            tax_task, "只有受委派人")
    refused(InvalidInput, lambda: work.resolve(db.session, task_id=tax_task, user=mate, comment="  ",
                                               now=clock.now()), tax_task, "办理意见")

    run(lambda: work.resolve(db.session, task_id=tax_task, user=mate, comment="已核对纳税人信息，无误",
                             now=clock.now()))
    task = db.session.get(Task, tax_task)
    assert (task.owner_id, task.assignee_id) == (None, me.id) and last_action(tax_task) == "task.resolved"
    assert [c["body"] for c in work.comments(db.session, tax_task)] == ["已核对纳税人信息，无误"]
    refused(Forbidden, lambda: tasks.complete_task(db.session, task_id=tax_task, user=mate, data={}, now=clock.now()),
            tax_task, "任务已由他人认领")
    complete(tax_task, me)


def test_copy_lets_the_recipient_read_the_case_and_reading_marks_it_read(app, case, tax_task, me):
    bank = actor("bank_approver")  # 银行 has no task in this case
    row = db.session.execute(select(Case).where(Case.case_no == case["case_no"])).scalar_one()
    with app.test_request_context():
        assert not _may_read(bank, row)
    with pytest.raises(Forbidden):
        work.access(db.session, bank, db.session.get(Task, tax_task))

    refused(InvalidInput, lambda: work.send_copies(db.session, task_id=tax_task, user=me, user_ids=[],
                                                   now=clock.now()), tax_task, "请选择抄送对象")
    refused(InvalidInput, lambda: work.send_copies(db.session, task_id=tax_task, user=me, user_ids=[me.id],
                                                   now=clock.now()), tax_task, "不能抄送给自己")
    refused(InvalidInput, lambda: work.send_copies(db.session, task_id=tax_task, user=me, user_ids=[bank.id, 999999],
                                                   now=clock.now()), tax_task, "不存在")
    refused(Forbidden, lambda: work.send_copies(db.session, task_id=tax_task, user=bank,
                                                user_ids=[actor("hpf_approver").id], now=clock.now()), tax_task)

    run(lambda: work.send_copies(db.session, task_id=tax_task, user=me, user_ids=[bank.id], note="请知悉",
                                 now=clock.now()))
    assert last_action(tax_task) == "task.copied"
    refused(Conflict, lambda: work.send_copies(db.session, task_id=tax_task, user=me, user_ids=[bank.id],
                                               now=clock.now()), tax_task, "已抄送")
    row = db.session.execute(select(Case).where(Case.case_no == case["case_no"])).scalar_one()
    with app.test_request_context():
        assert _may_read(bank, row)
    assert work.access(db.session, bank, db.session.get(Task, tax_task)) == "read"
    mine = work.copies_for(db.session, bank.id)
    assert [(c["task_id"], c["note"], c["read_at"]) for c in mine] == [(tax_task, "请知悉", None)]
    assert not work.may_complete(bank, db.session.get(Task, tax_task))

    assert run(lambda: work.mark_copies_read(db.session, task_id=tax_task, user=bank, now=clock.now())) == 1
    assert last_action(tax_task) == "task.copy_read"
    assert work.copies_for(db.session, bank.id)[0]["read_at"] is not None
    assert work.copies_for(db.session, bank.id, unread_only=True) == []
    before = snapshot(tax_task)
    assert run(lambda: work.mark_copies_read(db.session, task_id=tax_task, user=bank, now=clock.now())) == 0
    assert snapshot(tax_task) == before  # reading again records nothing


def test_comments_are_checked_and_listed_in_order(app, tax_task, me, mate):
    refused(InvalidInput, lambda: work.comment(db.session, task_id=tax_task, user=me, body=" ", now=clock.now()),
            tax_task, "请填写评论内容")
    refused(InvalidInput, lambda: work.comment(db.session, task_id=tax_task, user=me, body="长" * 2001,
                                               now=clock.now()), tax_task, "最多 2000 个字符")
    refused(Forbidden, lambda: work.comment(db.session, task_id=tax_task, user=actor("bank_approver"), body="插话",
                                            now=clock.now()), tax_task)
    run(lambda: work.comment(db.session, task_id=tax_task, user=me, body="第一条", now=clock.now()))
    run(lambda: work.comment(db.session, task_id=tax_task, user=mate, body="长" * 2000, now=clock.now()))
    listed = work.comments(db.session, tax_task)
    assert [(c["author_name"], len(c["body"])) for c in listed] == [("税务局审批人员", 3), ("tax_second同志", 2000)]
    assert last_action(tax_task) == "task.commented"


def test_suspension_from_a_task(app, case, tax_task, me):
    refused(InvalidInput, lambda: work.request_suspension(db.session, task_id=tax_task, user=me, kind="nap",
                                                          reason="x", notice="", now=clock.now()), tax_task, "类型无效")
    refused(InvalidInput, lambda: work.request_suspension(db.session, task_id=tax_task, user=me, kind="hearing",
                                                          reason="", notice="", now=clock.now()), tax_task, "理由")
    refused(Forbidden, lambda: work.request_suspension(db.session, task_id=tax_task, user=actor("bank_approver"),
                                                       kind="hearing", reason="x", notice="", now=clock.now()),
            tax_task)
    row = run(lambda: work.request_suspension(db.session, task_id=tax_task, user=me, kind="expert_review",
                                              reason="需组织专家评审", notice="专家评审期间不计入办理期限",
                                              now=clock.now()))
    assert row.kind == "expert_review"
    assert db.session.execute(select(Case.suspended_at).where(Case.case_no == case["case_no"])).scalar_one()
    refused(Conflict, lambda: work.request_suspension(db.session, task_id=tax_task, user=me, kind="hearing",
                                                      reason="又一次", notice="", now=clock.now()), tax_task,
            "已处于中止计时")


def test_department_tab_hides_tasks_others_took_and_mine_tab_lists_mine(app, case, tax_task, me, mate):
    def ids(user, view):
        return [t.id for t, *_ in tasks.inbox_rows(db.session, user, view=view)]
    assert ids(me, "department") == [tax_task] and ids(mate, "department") == [tax_task]
    assert ids(me, "mine") == []
    run(lambda: work.claim(db.session, task_id=tax_task, user=mate, now=clock.now()))
    assert ids(me, "department") == [] and ids(mate, "department") == [tax_task]
    assert ids(mate, "mine") == [tax_task] and ids(me, "mine") == []
    assert len(ids(actor("manager"), "department")) == 3  # the supervisor sees every department's open tasks
