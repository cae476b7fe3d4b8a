"""The stored yellow moments (Task.warn_at, Case.warn_at): written with every deadline, kept
when deadlines move, worked out again by the scheduler, and what the supervision scan reads."""
from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Case, SupervisionEvent, Task
from app.scheduler import fill_lights, scan_supervision
from app.services import calendar, clock, deadlines, lights, processes
from app.services.uow import run_use_case

from .helpers import APPLICANT
from .test_legal_time import at, deploy_with_catalog, manual_clock  # noqa: F401 (a fixture: Fri 26 Sep 2025 10:00)


def _start(api) -> str:
    assert deploy_with_catalog(api).status_code == 201
    clerk = api.as_user("window_clerk")
    return clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body["case_no"]


def _moments(app) -> dict:
    """Every open row's stored moment next to the one its deadline gives today."""
    with app.app_context():
        cal = calendar.load(db.session)
        out = {}
        for task, case in db.session.execute(select(Task, Case).join(Case, Case.id == Task.case_id)
                                             .where(Task.state == "ready", Task.due_at.is_not(None))):
            ratio = deadlines.warn_ratio(processes.deployed(db.session, case.process_definition_id).catalog)
            out[task.element_id] = (task.warn_at, deadlines.warn_at(cal, task.created_at, task.due_at, ratio))
        for case in db.session.execute(select(Case).where(Case.status == "running")).scalars():
            catalog = processes.deployed(db.session, case.process_definition_id).catalog
            out[case.case_no] = (case.warn_at, deadlines.case_warn_at(cal, catalog, case))
        db.session.remove()
    return out


def _forget_all(app) -> None:
    with app.app_context():
        db.session.execute(update(Task).values(warn_at=None))
        db.session.execute(update(Case).values(warn_at=None))
        db.session.commit()
        db.session.remove()


def test_a_new_case_and_its_tasks_store_the_moment_their_deadline_gives(api, app, manual_clock):
    no = _start(api)
    moments = _moments(app)
    assert set(moments) == {"task_intake", no}
    for stored, expected in moments.values():
        assert stored is not None and stored == expected
    # the intake task: Fri 26 Sep 10:00 to Fri 10 Oct 17:00 over 国庆 is 2460 office minutes; yellow
    # with fewer than 2460 * 0.2 + 1 = 493 left: all of 10 Oct (420) and 73 minutes of 9 Oct
    assert moments["task_intake"][0] == at(10, 9, 15, 47)


def test_a_pause_and_an_extension_move_the_moments_with_the_deadlines(api, app, manual_clock):
    no = _start(api)
    before = _moments(app)
    manual_clock.set(at(9, 30, 10))
    clerk = api.as_user("window_clerk")
    assert clerk.post(f"/api/v1/cases/{no}/suspensions", json={"kind": "expert_review", "reason": "专家评审",
                                                               "notice": "已告知"}).status_code == 201
    manual_clock.set(at(10, 10, 10))
    assert api.as_user("window_clerk").post(f"/api/v1/cases/{no}/resume").status_code == 200
    resumed = _moments(app)
    assert resumed["task_intake"][0] > before["task_intake"][0] and resumed[no][0] > before[no][0]
    assert all(stored == expected for stored, expected in resumed.values())
    assert api.as_user("manager").post(f"/api/v1/cases/{no}/extensions",
                                       json={"workdays": 3, "reason": "需现场核查"}).status_code == 201
    extended = _moments(app)
    assert extended[no][0] > resumed[no][0] and extended[no][0] == extended[no][1]


def test_rows_without_a_moment_still_get_their_events_and_are_filled(api, app, manual_clock):
    no = _start(api)
    expected = _moments(app)
    _forget_all(app)  # as rows written before migration 0016
    manual_clock.set(at(10, 10, 12))  # the intake task is yellow
    assert api.as_user("window_clerk").get(f"/api/v1/cases/{no}").body["tasks"][0]["light"] == "yellow"
    assert scan_supervision(app) == 1
    assert _moments(app) == expected  # the scan stored them on the way
    with app.app_context():
        assert db.session.execute(select(SupervisionEvent.kind)).scalars().all() == ["remind"]
        db.session.remove()


def test_the_scan_reads_only_rows_past_their_stored_moment(api, app, manual_clock):
    no = _start(api)
    manual_clock.set(at(10, 10, 12))
    with app.app_context():  # a moment later than the rule's: the scan must not look at the row yet
        task = db.session.execute(select(Task).where(Task.element_id == "task_intake")).scalar_one()
        task.warn_at = at(10, 10, 16)
        db.session.commit()
        db.session.remove()
    assert scan_supervision(app) == 0
    assert api.as_user("window_clerk").get(f"/api/v1/cases/{no}").body["tasks"][0]["light"] == "green"
    manual_clock.set(at(10, 10, 16, 1))
    assert scan_supervision(app) == 1


def test_a_calendar_import_forgets_the_moments_and_the_scheduler_works_them_out_again(api, app, manual_clock):
    no = _start(api)
    before = _moments(app)
    with app.app_context():  # 9 and 10 Oct become holidays: the intake task's last days are gone
        calendar.import_year(db.session, year=2025, holidays_list=[date(2025, 10, d) for d in range(1, 11)],
                             workdays_list=[date(2025, 9, 28), date(2025, 10, 11)], source="测试",
                             actor_id=None, now=clock.now())
        db.session.commit()
        db.session.remove()
    forgotten = _moments(app)
    assert all(stored is None for stored, _ in forgotten.values())
    assert forgotten["task_intake"][1] != before["task_intake"][1]  # the new calendar gives another moment
    assert fill_lights(app) == 2
    assert all(stored == expected and stored is not None for stored, expected in _moments(app).values())
    assert no in forgotten


def test_moving_a_deadline_by_hand_drops_its_stale_moment(app, api, manual_clock):
    _start(api)
    with app.app_context():
        task = db.session.execute(select(Task).where(Task.element_id == "task_intake")).scalar_one()
        assert task.warn_at is not None
        task.due_at = task.due_at  # the same deadline keeps it
        assert task.warn_at is not None
        task.due_at = at(10, 20, 17)
        assert task.warn_at is None
        db.session.rollback()
        db.session.remove()


def test_moments_worked_out_from_a_calendar_an_import_has_replaced_are_not_stored(
        api, app, manual_clock, monkeypatch, database_url):
    """Another process commits a calendar import while the scheduler's fill works out moments
    from the calendar it read before: the fill's UPDATE must write none of them."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's writers exclude each other: no import can commit inside the fill's transaction")
    _start(api)
    _forget_all(app)
    read_calendar = calendar.load
    imported = []

    def read_then_another_process_imports(session, fresh=False):
        cal = read_calendar(session, fresh=fresh)
        if imported:  # once, inside the fill
            return cal
        imported.append(True)
        with Session(db.engine) as other:
            calendar.import_year(other, year=2025, holidays_list=[date(2025, 10, d) for d in range(1, 11)],
                                 workdays_list=[date(2025, 9, 28), date(2025, 10, 11)], source="测试",
                                 actor_id=None, now=clock.now())
            other.commit()
        return cal

    monkeypatch.setattr(calendar, "load", read_then_another_process_imports)
    with app.app_context():
        assert run_use_case(db.session, lambda: lights.fill(db.session)) == 2  # two rows worked out ...
        db.session.remove()
    assert imported and all(stored is None for stored, _ in _moments(app).values())  # ... and neither stored
    assert fill_lights(app) == 2  # the next fill uses the new calendar
    assert all(stored == expected and stored is not None for stored, expected in _moments(app).values())
