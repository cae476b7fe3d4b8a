"""The work pages with 100k tasks in the database: a page costs a small, fixed number of SQL statements
(the same for 10 rows as for 50: no query per row), and its pages follow one another.

The data are bulk-inserted with SQLAlchemy Core: 20,000 cases of the bundled services over 60 days
(running, completed, terminated), five tasks each over ten departments (ready, completed, cancelled;
deadlines in the past and in the future, some claimed), ratings with follow-ups, supervision events.
Statements are counted with an SQLAlchemy event listener on the engine; each page is rendered once
before it is counted, so that the caches of deployed versions and the calendar are warm.
"""
from __future__ import annotations

import random
import shutil
import re
import time
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, or_, select

from app.extensions import db
from app.models import Case, Department, FollowUp, ProcessDefinition, Rating, SupervisionEvent, Task, User
from app.services import calendar, processes, reports
from app.services.clock import LOCAL_TZ
from app.web import dashboard, followups, inbox, pages

from ..conftest import BACKENDS, _make_app
from .sql_count import counting

NOW = datetime(2025, 11, 5, 10, 0, tzinfo=LOCAL_TZ)  # a Wednesday
CASES = 20_000
TASKS_PER_CASE = 5
SEARCHED = "王五"  # the applicant of every 100th case
HOUR = timedelta(hours=1)  # spreading generated moments, not deadlines
STEPS = ("设立登记", "刻制印章", "税务登记", "社保登记", "公积金登记")
MAX_STATEMENTS = 20


def _departments(session) -> list[int]:
    codes = ("amr", "police", "tax", "hrss", "hpf", "bank", "nr", "realestate", "housing", "window")
    found = dict(session.execute(select(Department.code, Department.id).where(Department.code.in_(codes))).all())
    return [found[c] for c in codes]


def _case_row(i: int, definitions: list, rnd: random.Random) -> dict:
    definition_id, key = definitions[i % len(definitions)]
    created = NOW - HOUR * rnd.randint(1, 60 * 24)
    status = rnd.choices(("running", "completed", "terminated"), (40, 55, 5))[0]
    day = created.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    return {"id": i + 1, "case_no": f"410600{day}{i + 1:06d}", "process_definition_id": definition_id,
            "process_key": key, "status": status, "applicant_name": SEARCHED if i % 100 == 0 else f"申请人{i % 997}",
            "applicant_id_number": f"41060219900101{i % 10000:04d}", "applicant_phone": "13912345678",
            "data": {"company_name": f"示例公司{i}"}, "created_at": created, "updated_at": created,
            "accepted_at": created, "deadline": created + HOUR * rnd.randint(3, 400),
            "completed_at": created + HOUR * rnd.randint(1, 300) if status == "completed" else None,
            "query_code": "123456"}


def _task_rows(case: dict, departments: list[int], amr_user: int, rnd: random.Random) -> list[dict]:
    rows = []
    for n in range(TASKS_PER_CASE):
        created = case["created_at"] + HOUR * n
        if case["status"] == "running" and n >= TASKS_PER_CASE - rnd.randint(1, 3):
            state = "ready"
        else:
            state = "cancelled" if case["status"] == "terminated" and n == TASKS_PER_CASE - 1 else "completed"
        department = departments[(case["id"] + n) % len(departments)]
        due = None if department == departments[-1] else created + HOUR * rnd.randint(-20, 200)
        claimed = state == "ready" and department == departments[0] and rnd.random() < 0.1
        rows.append({"id": str(uuid.UUID(int=rnd.getrandbits(128))), "case_id": case["id"],
                     "element_id": f"task_{n}", "name": STEPS[n], "lane": "", "department_id": department,
                     "form_key": None, "state": state, "created_at": created, "due_at": due,
                     "completed_at": created + HOUR * rnd.randint(1, 100) if state == "completed" else None,
                     "assignee_id": amr_user if claimed else None, "claimed_at": created if claimed else None,
                     "data": None})
    return rows


def fill(session) -> dict:
    """About 100k tasks; returns what the checks need."""
    rnd = random.Random(20251105)
    definitions = [tuple(r) for r in session.execute(
        select(ProcessDefinition.id, ProcessDefinition.key)
        .where(ProcessDefinition.id.in_([d.id for d in processes.services(session)]))).all()]
    departments = _departments(session)
    amr_user = session.execute(select(User.id).where(User.username == "amr_approver")).scalar_one()
    started = time.perf_counter()
    conn = session.connection()  # Core inserts, many rows per statement
    cases = [_case_row(i, definitions, rnd) for i in range(CASES)]
    tasks = [t for c in cases for t in _task_rows(c, departments, amr_user, rnd)]
    for chunk in range(0, len(cases), 5000):
        conn.execute(insert(Case.__table__), cases[chunk:chunk + 5000])
    for chunk in range(0, len(tasks), 10000):
        conn.execute(insert(Task.__table__), tasks[chunk:chunk + 10000])
    done = [c for c in cases if c["status"] == "completed"][:3000]
    conn.execute(insert(Rating.__table__), [
        {"id": n + 1, "case_id": c["id"], "level": 1 + n % 5, "comment": "办事慢" if n % 5 < 2 else "",
         "channel": "portal", "created_at": c["completed_at"]} for n, c in enumerate(done)])
    conn.execute(insert(FollowUp.__table__), [
        {"case_id": c["id"], "rating_id": n + 1, "department_id": departments[n % 4],
         "due_at": c["completed_at"] + HOUR * 48, "status": "open" if n % 3 else "done", "resolution": "", "created_at": c["completed_at"]}
        for n, c in enumerate(done) if n % 5 < 2])
    running = [c for c in cases if c["status"] == "running"]
    conn.execute(insert(SupervisionEvent.__table__), [
        {"case_id": c["id"], "department_id": departments[n % 4], "kind": ("remind", "supervise", "escalate")[n % 3],
         "reason": ("即将超期", "超期未办结", "不及时受理")[n % 3], "created_at": c["created_at"] + HOUR * 5,
         "note": "", "dedupe_key": f"fill-{n}"} for n, c in enumerate(running[:2000])])
    session.commit()
    print(f"\ninserted {len(cases)} cases and {len(tasks)} tasks in {time.perf_counter() - started:.1f} s")
    return {"tasks": len(tasks), "amr": departments[0], "amr_user": amr_user, "month": cases[-1]["case_no"][:12]}


@pytest.fixture(scope="module", params=BACKENDS)
def filled(request, tmp_path_factory):
    """One filled database for the module (the pages only read it), on each backend in turn."""
    folder = tmp_path_factory.mktemp("pages")
    pg = None
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "big.db")
        url = f"sqlite:///{folder / 'big.db'}"
    else:
        pg = request.getfixturevalue("pg_databases")
        name = pg.create(template=pg.template)
        url = pg.admin_url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + name
    application = _make_app(url, folder)
    with application.app_context():
        info = fill(db.session)
        db.session.remove()
    yield application, info
    with application.app_context():
        db.engine.dispose()
    if pg is not None:
        pg.drop(name)


@pytest.fixture
def app(filled):
    application = filled[0]
    with application.app_context():
        yield application
        db.session.remove()


@pytest.fixture
def big(filled, app, clock_at, monkeypatch):
    clock_at(NOW)
    monkeypatch.setattr(calendar, "CACHE_SECONDS", 3600.0)  # a render must not straddle the cache's expiry
    return filled[1]




def _page_size(monkeypatch, size: int) -> None:
    for module in (pages, inbox, followups, dashboard):
        monkeypatch.setattr(module, "PAGE_SIZE", size)


ROW_LINKS = {"inbox": re.compile(r'<td><a href="/tasks/([0-9a-f-]{36})">'),
             "cases": re.compile(r'<td><a (?:class="case-no" )?href="/cases/(\d+)">'),
             "red": re.compile(r'<td><a href="/cases/(\d+)">')}


def _render(web, path: str, statements: list[str]) -> tuple[str, int]:
    web.get(path)  # warm: the first render may read the deployed versions and the calendar
    before = len(statements)
    started = time.perf_counter()
    resp = web.get(path)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 200, (path, web.text(resp)[:500])
    print(f"{path}: {len(statements) - before} statements, {elapsed * 1000:.0f} ms")
    return web.text(resp), len(statements) - before


PAGES = [  # (user, path, what each row links to)
    ("amr_approver", "/inbox/", "inbox"),
    ("amr_approver", "/inbox/?tab=mine", "inbox"),
    ("amr_approver", "/inbox/?service=business_startup&overdue=1", "inbox"),
    ("amr_approver", "/inbox/?q={month}", "inbox"),
    ("manager", "/inbox/?q=" + SEARCHED, "inbox"),
    ("manager", "/cases", "cases"),
    ("manager", "/cases?status=running&service=business_startup", "cases"),
    ("manager", "/cases?q=" + SEARCHED, "cases"),
    ("manager", "/dashboard/cases?figure=status&status=running", "cases"),
    ("manager", "/dashboard/cases?figure=light&light=red", "cases"),
    ("manager", "/follow-ups", "cases"),
    ("hrss_approver", "/follow-ups?status=done", "cases"),
]


def test_every_work_page_costs_the_same_few_statements_for_10_rows_as_for_50(big, browser_for, monkeypatch):
    assert big["tasks"] == CASES * TASKS_PER_CASE
    webs = {u: browser_for(u) for u in ("amr_approver", "hrss_approver", "manager")}
    with counting() as statements:
        for user, path, rows in PAGES:
            path = path.format(**big)
            counts = {}
            for size in (10, 50):
                _page_size(monkeypatch, size)
                text, counts[size] = _render(webs[user], path, statements)
                shown = ROW_LINKS[rows].findall(text)
                assert len(shown) == size, (path, size, len(shown))
                assert "下一页" in text, path
            assert counts[10] == counts[50] <= MAX_STATEMENTS, (path, counts)


def test_the_dashboard_costs_the_same_few_statements_however_long_its_lists(big, browser_for, monkeypatch):
    from app.services import reports_figures
    web = browser_for("manager")
    with counting() as statements:
        counts = {}
        for size in (10, 50):
            monkeypatch.setattr(reports_figures, "LIST_SIZE", size)
            text, counts[size] = _render(web, "/dashboard", statements)
            red = re.search(r'<table id="red-list">(.*?)</table>', text, re.S).group(1)
            assert len(ROW_LINKS["red"].findall(red)) == size
        assert counts[10] == counts[50] <= 30, counts
        for path in ("/dashboard?department=amr", "/dashboard?service=business_startup&from=2025-10-01"):
            _, filtered = _render(web, path, statements)  # a filter adds no statement per row either
            assert filtered <= 30, (path, filtered)


def _ids(text: str, kind: str) -> list[str]:
    return ROW_LINKS[kind].findall(text)


def _next_link(text: str, path: str) -> str:
    found = re.search(r'href="(' + re.escape(path) + r'\?[^"]*page=2[^"]*)">下一页', text)
    assert found, path
    return found.group(1).replace("&amp;", "&")


def test_pages_follow_one_another(big, browser_for):
    amr = browser_for("amr_approver")
    first = amr.text(amr.get("/inbox/"))
    second = amr.text(amr.get(_next_link(first, "/inbox/")))
    assert "上一页" in second and "第 2 页" in second
    # the second page is the next 50 of the department's queue, soonest deadline first
    queue = select(Task.id).where(Task.state == "ready", Task.department_id == big["amr"],
                                  or_(Task.assignee_id.is_(None), Task.assignee_id == big["amr_user"])) \
        .order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
    expected = list(db.session.execute(queue.limit(100)).scalars())
    assert _ids(first, "inbox") == expected[:50] and _ids(second, "inbox") == expected[50:100]

    manager = browser_for("manager")
    first = manager.text(manager.get("/cases"))
    second = manager.text(manager.get(_next_link(first, "/cases")))
    newest = list(db.session.execute(select(Case.case_no).order_by(Case.id.desc()).limit(100)).scalars())
    assert _ids(first, "cases") == newest[:50] and _ids(second, "cases") == newest[50:]

    # the drill-down keeps its figure and filters on the next page
    drill = manager.text(manager.get("/dashboard/cases?figure=status&status=running"))
    link = _next_link(drill, "/dashboard/cases")
    assert "status=running" in link and "figure=status" in link
    f = reports.parse_filters(db.session, {}, NOW)
    running = list(db.session.execute(select(Case.case_no).where(*reports.received(f), Case.status == "running")
                                      .order_by(Case.id.desc())).scalars())
    assert len(running) > 100 and f"共 {len(running)} 件" in drill
    assert _ids(drill, "cases") == running[:50] and _ids(manager.text(manager.get(link)), "cases") == running[50:100]


def test_the_open_tasks_by_deadline_are_read_through_an_index(big):
    """The red list (every department's overdue tasks, most overdue first) walks ix_tasks_open (0013)."""
    from sqlalchemy import inspect
    assert "ix_tasks_open" in {i["name"] for i in inspect(db.engine).get_indexes("tasks")}
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL's planner picks by its statistics; the index exists there too
    f = reports.parse_filters(db.session, {}, NOW)
    query = reports._open_tasks(*reports.red_condition(f)).limit(20).compile(db.engine)
    params = query.construct_params()
    processors = query._bind_processors
    args = [processors[k](params[k]) if k in processors else params[k] for k in query.positiontup]
    raw = db.session.connection().connection.dbapi_connection
    plan = " ".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + str(query), args).fetchall())
    assert "ix_tasks_open" in plan, plan
