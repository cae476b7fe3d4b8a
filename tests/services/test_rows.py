"""rows.write_changes writes a loaded row's changed columns at once, as flush would, and no more."""
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import Case, WorkflowState
from app.services import rows

from ..api.helpers import APPLICANT, DEMO_XML, deploy


@pytest.fixture
def case_id(api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT}).body
    db.session.rollback()
    return db.session.execute(select(Case.id).where(Case.case_no == case["case_no"])).scalar_one()


def _statements(run):
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement.split()[0].upper())
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def _stored(sql, **params):
    db.session.rollback()
    return db.session.execute(text(sql), params).scalar_one()


def test_changed_columns_are_written_at_once_and_flush_writes_nothing_more(app, case_id):
    case = db.session.get(Case, case_id)
    case.applicant_phone = "13900000000"
    case.applicant_name = case.applicant_name  # an equal value is no change
    written = _statements(lambda: rows.write_changes(db.session, case))
    assert written == ["UPDATE"]
    assert _statements(db.session.flush) == []  # the row is clean now
    db.session.commit()
    assert _stored("SELECT applicant_phone FROM cases WHERE id = :id", id=case_id) == "13900000000"


def test_a_versioned_row_gets_its_next_version(app, case_id):
    state = db.session.get(WorkflowState, case_id)
    before = state.version
    state.state = state.state + " "
    rows.write_changes(db.session, state)
    assert state.version == before + 1
    db.session.commit()
    assert _stored("SELECT version FROM workflow_states WHERE case_id = :id", id=case_id) == before + 1


def test_a_versioned_row_changed_meanwhile_is_not_overwritten(app, case_id):
    state = db.session.get(WorkflowState, case_id)
    state.state = "mine"
    # another writer got there first
    db.session.execute(text("UPDATE workflow_states SET version = version + 1 WHERE case_id = :id"), {"id": case_id})
    with pytest.raises(StaleDataError):
        rows.write_changes(db.session, state)
    db.session.rollback()
    assert _stored("SELECT state FROM workflow_states WHERE case_id = :id", id=case_id) != "mine"


def test_new_rows_and_unchanged_rows_are_left_to_flush(app, case_id):
    case = db.session.get(Case, case_id)
    fresh = Case(case_no="X-1", process_definition_id=case.process_definition_id, process_key="x",
                 status="running", applicant_name="a", applicant_id_number="1", applicant_phone="1", data={},
                 created_at=case.created_at, updated_at=case.updated_at)
    db.session.add(fresh)
    assert _statements(lambda: rows.write_changes(db.session, fresh, case)) == []
    assert "INSERT" in _statements(db.session.flush)
    db.session.rollback()


def test_assigning_equal_values_writes_nothing(app, case_id):
    case = db.session.get(Case, case_id)
    case.applicant_name = str(case.applicant_name)
    case.data = dict(case.data)
    assert _statements(lambda: rows.write_changes(db.session, case)) == []
    assert _statements(db.session.flush) == []


def test_inside_a_savepoint_rows_are_left_to_flush_so_its_rollback_undoes_them(app, case_id):
    case = db.session.get(Case, case_id)
    before = case.applicant_phone
    savepoint = db.session.begin_nested()
    case.applicant_phone = "13900000001"
    rows.write_changes(db.session, case)
    savepoint.rollback()
    # what the session holds is what is stored: the savepoint's change is gone from both
    assert case.applicant_phone == before
    db.session.commit()
    assert _stored("SELECT applicant_phone FROM cases WHERE id = :id", id=case_id) == before
