"""好差评 use cases: who follows a bad rating up, by when, and what is refused (changing nothing)."""
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.models import Case, FollowUp, Rating
from app.services import clock, processes, ratings
from app.services.clock import LOCAL_TZ, ManualClock
from app.services.uow import run_use_case
from config import BASE_DIR

from ..api.startup import case_of, complete, run_back_office, start, upload_all

ACCEPTED = datetime(2025, 9, 26, 10, 0, tzinfo=LOCAL_TZ)
BPMN = (BASE_DIR / "processes" / "business_startup.bpmn").read_bytes()
CATALOG = (BASE_DIR / "processes" / "business_startup.yaml").read_text(encoding="utf-8")


@pytest.fixture
def manual_clock(clock_at):
    return clock_at(ACCEPTED)


def test_the_follow_up_limit_comes_from_the_catalog_with_a_default_of_five_working_days():
    assert ratings.followup_workdays(None) == 5
    assert ratings.followup_workdays({"supervision": {"warn_remaining_ratio": 0.2}}) == 5
    assert ratings.followup_workdays({"supervision": {"rating_followup_workdays": 15}}) == 15
    for bad in (0, 400, "7", True, 2.5):
        assert ratings.followup_workdays({"supervision": {"rating_followup_workdays": bad}}) == 5


def _redeploy(catalog_text: str) -> None:
    run_use_case(db.session, lambda: processes.deploy(
        db.session, BPMN, filename="business_startup.bpmn", actor_id=None, now=clock.now(), catalog_text=catalog_text))


def _case(case_no: str) -> Case:
    db.session.rollback()
    return db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()


def _rate(case_no: str, level, comment="", channel="portal"):
    return run_use_case(db.session, lambda: ratings.rate(
        db.session, case=_case(case_no), level=level, comment=comment, channel=channel, actor_id=None,
        now=clock.now()))


def _completed(api) -> str:
    clerk = api.as_user("window_clerk")
    case_no = start(clerk)["case_no"]
    upload_all(clerk, case_no)
    case, _ = run_back_office(api, case_no)
    assert case["status"] == "completed"
    return case_no


def test_a_lead_department_named_by_code_and_a_configured_limit(api, manual_clock):
    catalog = CATALOG.replace("lead_department: 市场监管局", "lead_department: tax").replace(
        "supervision:\n", "supervision:\n  rating_followup_workdays: 15\n")
    assert "rating_followup_workdays: 15" in catalog and "lead_department: tax" in catalog
    _redeploy(catalog)
    case_no = _completed(api)
    manual_clock.set(datetime(2025, 9, 30, 15, 0, tzinfo=LOCAL_TZ))  # Tuesday before the National Day holiday
    rating = _rate(case_no, 1, "办事指南与实际要求不一致")
    follow_up = db.session.execute(select(FollowUp).where(FollowUp.rating_id == rating.id)).scalar_one()
    row = ratings.follow_ups(db.session, follow_up_id=follow_up.id)[0]
    assert row["department"] == "税务局"
    # 15 working days: 9, 10, 11 (调休), 13–17, 20–24, 27 and 28 October
    assert clock.local(follow_up.due_at) == datetime(2025, 10, 28, 17, 0, tzinfo=LOCAL_TZ)


def test_without_a_lead_department_the_last_completed_task_decides(api, manual_clock):
    _redeploy(CATALOG.replace("lead_department: 市场监管局\n", ""))
    clerk = api.as_user("window_clerk")
    case_no = start(clerk)["case_no"]
    assert complete(api, case_of(api, case_no), "task_intake", {"intake_result": "refer"}).status_code == 200
    resp = complete(api, case_of(api, case_no), "task_acceptance_review",
                    {"review_result": "reject", "reject_reasons": "经营范围属于禁止准入类事项"})
    assert resp.status_code == 200 and case_of(api, case_no)["status"] == "completed"
    # both tasks were completed at the same (frozen) moment: the later one, 不予受理审核, counts
    rating = _rate(case_no, 2)
    follow_up = db.session.execute(select(FollowUp).where(FollowUp.rating_id == rating.id)).scalar_one()
    assert ratings.follow_ups(db.session, follow_up_id=follow_up.id)[0]["department"] == "市场监管局"


def test_bad_input_and_early_or_second_ratings_change_nothing(api):
    clerk = api.as_user("window_clerk")
    running = start(clerk)["case_no"]
    with pytest.raises(Conflict, match="办结后才能评价"):
        _rate(running, 5)
    case_no = _completed(api)
    for level, comment in ((0, ""), (6, ""), (True, ""), ("5", ""), (None, ""), (3, "长" * 501)):
        with pytest.raises(InvalidInput):
            _rate(case_no, level, comment)
    with pytest.raises(InvalidInput):
        _rate(case_no, 3, "", channel="sms")
    assert db.session.execute(select(func.count(Rating.id))).scalar_one() == 0
    assert _rate(case_no, 3, "长" * 500).level == 3  # exactly 500 characters is fine
    with pytest.raises(Conflict, match="该办件已评价"):
        _rate(case_no, 1)
    assert db.session.execute(select(func.count(FollowUp.id))).scalar_one() == 0  # 基本满意 is not bad
