"""The inbox: tabs, soonest deadline first, filters, claim buttons, paging, and one query for the rows."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Task, User
from app.services import accounts, clock, tasks
from app.services.uow import run_use_case
from app.web import inbox as inbox_module

from ..api.helpers import APPLICANT, DEMO_XML, deploy, ready

OTHER = {"name": "李四", "id_number": "410602198803031234", "phone": "13700000000"}


def new_case(api, applicant=APPLICANT) -> dict:
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": applicant}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return clerk.get(f"/api/v1/cases/{case['case_no']}").body


def tax_task(case) -> str:
    return next(t["id"] for t in ready(case) if t["department"] == "税务局")


@pytest.fixture
def three(api):
    """Three cases with 税务局 tasks: due in 3 days, no deadline, overdue (李四's)."""
    assert deploy(api, DEMO_XML).status_code == 201
    cases = [new_case(api), new_case(api), new_case(api, OTHER)]
    now = clock.now()
    for case, due in zip(cases, (now + timedelta(days=3), None, now - timedelta(hours=2))):
        db.session.get(Task, tax_task(case)).due_at = due
    db.session.commit()
    run_use_case(db.session, lambda: accounts.create_user(
        db.session, username="tax_second", password="Secret#123", name="税务局二号", department="tax",
        roles=["approver"], actor_id=None, now=clock.now()))
    return [c["case_no"] for c in cases], [tax_task(c) for c in cases]


def order_in(text: str, needles: list[str]) -> list[str]:
    found = [n for n in needles if n in text]
    return sorted(found, key=text.index)


def test_rows_come_soonest_deadline_first_with_their_lights(browser_for, three):
    numbers, _ = three
    web = browser_for("tax_approver")
    text = web.text(web.get("/inbox/"))
    assert order_in(text, numbers) == [numbers[2], numbers[0], numbers[1]]  # overdue, in 3 days, none last
    rows = text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert "超期" in rows[0] and "正常" in rows[1] and "无期限" in rows[2]
    assert "李四" in rows[0] and "并联测试" in rows[0] and "审查B" in rows[0]
    assert ">认领</button>" in rows[0] and 'name="csrf_token"' in rows[0]


def test_filters_service_overdue_and_search(browser_for, three):
    numbers, _ = three
    web = browser_for("tax_approver")
    assert order_in(web.text(web.get("/inbox/?overdue=1")), numbers) == [numbers[2]]
    assert order_in(web.text(web.get(f"/inbox/?q={numbers[1]}")), numbers) == [numbers[1]]
    assert order_in(web.text(web.get(f"/inbox/?q={numbers[0][:-3]}")), numbers) == [numbers[2], numbers[0], numbers[1]]
    assert order_in(web.text(web.get("/inbox/?q=李四")), numbers) == [numbers[2]]
    assert order_in(web.text(web.get("/inbox/?q=%25")), numbers) == []  # a wildcard is a plain character
    assert len(order_in(web.text(web.get("/inbox/?service=parallel_demo")), numbers)) == 3
    text = web.text(web.get("/inbox/?service=business_startup&q=李四"))
    assert order_in(text, numbers) == [] and "没有符合条件的任务" in text
    assert 'value="李四"' in text and '<option value="business_startup" selected>' in text  # the filters stay


def test_claim_from_the_inbox_moves_the_task_to_my_tab(browser_for, three):
    numbers, ids = three
    me, mate = browser_for("tax_approver"), browser_for("tax_second", "Secret#123")
    me.get("/inbox/")
    resp = me.post(f"/tasks/{ids[0]}/claim", {"next": "/inbox/?tab=department&overdue="})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/inbox/?tab=department&overdue=")
    assert numbers[0] not in mate.text(mate.get("/inbox/"))  # taken: no longer in the colleague's queue
    mine = me.text(me.get("/inbox/?tab=mine"))
    assert order_in(mine, numbers) == [numbers[0]] and "我已认领" in mine and ">取消认领</button>" in mine
    assert order_in(me.text(me.get("/inbox/")), numbers) == [numbers[2], numbers[0], numbers[1]]
    # the colleague's stale button: refused with the reason, back on the inbox, nothing changed
    mate.get("/inbox/")
    resp = mate.post(f"/tasks/{ids[0]}/claim", {"next": "/inbox/"})
    assert resp.status_code == 302 and "任务已由他人认领" in mate.text(mate.get("/inbox/"))
    assert db.session.get(Task, ids[0], populate_existing=True).assignee_id == _id("tax_approver")
    resp = me.post(f"/tasks/{ids[0]}/unclaim", {"next": "https://evil.example/"})
    assert resp.headers["Location"].endswith(f"/tasks/{ids[0]}")  # never off the site
    assert numbers[0] in mate.text(mate.get("/inbox/"))


def test_forged_claims_change_nothing(browser_for, three):
    _, ids = three
    web = browser_for("tax_approver")
    assert web.post(f"/tasks/{ids[0]}/claim", csrf=False).status_code == 400
    police = browser_for("police_approver")
    police.get("/inbox/")
    assert police.post(f"/tasks/{ids[0]}/claim").status_code == 403
    db.session.rollback()
    assert db.session.get(Task, ids[0]).assignee_id is None


def test_paging_keeps_the_filters(browser_for, three, monkeypatch):
    numbers, _ = three
    monkeypatch.setattr(inbox_module, "PAGE_SIZE", 2)
    web = browser_for("tax_approver")
    first = web.text(web.get("/inbox/?service=parallel_demo"))
    assert order_in(first, numbers) == [numbers[2], numbers[0]] and "page=2" in first and "service=parallel_demo" in first
    second = web.text(web.get("/inbox/?service=parallel_demo&page=2"))
    assert order_in(second, numbers) == [numbers[1]] and "上一页" in second and "下一页" not in second
    assert web.get("/inbox/?page=abc&tab=nonsense").status_code == 200


def test_copies_tab_lists_what_was_copied_to_me(api, browser_for, three):
    numbers, ids = three
    sender = browser_for("tax_approver")
    sender.get(f"/tasks/{ids[1]}")
    assert sender.post(f"/tasks/{ids[1]}/copy", {"user_ids": [_id("bank_approver")], "note": "请关注"}).status_code == 302
    bank = browser_for("bank_approver")
    text = bank.text(bank.get("/inbox/?tab=copies"))
    assert order_in(text, numbers) == [numbers[1]] and "未读" in text and "请关注" in text and "税务局审批人员" in text
    assert order_in(bank.text(bank.get("/inbox/")), numbers) == []  # not in the bank's own queue


def _id(username: str) -> int:
    db.session.rollback()
    return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


def _count_queries(web, path) -> int:
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert web.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return len(statements)


def test_the_page_costs_the_same_queries_for_more_rows(api, browser_for, three, monkeypatch):
    from app.services import calendar
    monkeypatch.setattr(calendar, "CACHE_SECONDS", 3600.0)  # the calendar stays cached between the two counts
    web = browser_for("tax_approver")
    web.get("/inbox/")  # warm the caches of deployed versions and the calendar
    few = _count_queries(web, "/inbox/")
    for _ in range(4):
        new_case(api)
    web.get("/inbox/")
    assert _count_queries(web, "/inbox/") == few  # no query per row
    assert len(tasks.inbox_rows(db.session, accounts.Actor.of(
        db.session.execute(select(User).where(User.username == "tax_approver")).scalar_one()))) == 7


def _inbox_statement(read) -> tuple:
    """The SQL and parameters of the inbox query that ``read`` runs; the read is ended after it,
    so DDL in a plan check does not wait for its lock."""
    captured = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "FROM tasks JOIN cases" in statement:
            captured.append((statement, parameters))
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        read()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    db.session.rollback()
    return captured[0]


def test_the_department_tab_uses_the_inbox_index(app, three):
    user = accounts.Actor.of(db.session.execute(select(User).where(User.username == "tax_approver")).scalar_one())
    statement, parameters = _inbox_statement(lambda: tasks.inbox_rows(db.session, user, view="department", limit=51))
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # the planner would scan a tiny table anyway
            # on a few rows ix_tasks_open (state, due_at) costs the same; without it in this transaction
            # (DDL rolls back) the plan shows whether the department tab is served by the inbox index
            conn.exec_driver_sql("DROP INDEX ix_tasks_open")
            plan = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            conn.rollback()
        else:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    assert "ix_tasks_inbox" in " ".join(str(row) for row in plan), plan


def _plan_of_the_api_inbox(user, drop_open_index: bool) -> str:
    statement, parameters = _inbox_statement(lambda: tasks.inbox(db.session, user, state="ready"))
    with db.engine.connect() as conn:
        # a plan that can do without a sort takes it whatever the table's size; one that cannot still sorts
        conn.exec_driver_sql("SET enable_sort = off")
        conn.exec_driver_sql("SET enable_seqscan = off")
        if drop_open_index:  # in this transaction only (DDL rolls back)
            conn.exec_driver_sql("DROP INDEX ix_tasks_open")
        plan = " ".join(str(row) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all())
        conn.rollback()
    return plan


@pytest.mark.parametrize("username", ["tax_approver", "manager"])
def test_an_api_inbox_page_is_read_in_index_order_without_a_sort(app, three, username):
    """0015: the indexes hold the inbox's whole order (due_at, created_at, id), so a page of a department
    with thousands of open tasks reads its 100 rows in order instead of joining and sorting them all."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite orders NULLs first in an index; its plan is checked by the benchmark's EXPLAIN")
    user = accounts.Actor.of(db.session.execute(select(User).where(User.username == username)).scalar_one())
    plan = _plan_of_the_api_inbox(user, drop_open_index=username == "tax_approver")
    assert "Sort" not in plan, plan
    assert ("ix_tasks_inbox" if username == "tax_approver" else "ix_tasks_open") in plan, plan
