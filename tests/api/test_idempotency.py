"""POST /api/v1/cases with an Idempotency-Key: a retried request returns the first case, never a second."""
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, func, select, text

from app.extensions import db
from app.models import AuditEvent, Case, CaseRequest

from ..conftest import ApiClient
from .helpers import APPLICANT, DEMO_XML, deploy

BODY = {"process_key": "parallel_demo", "applicant": APPLICANT, "data": {}}


def _counts():
    return (db.session.scalar(select(func.count()).select_from(Case)),
            db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.started")),
            db.session.scalar(select(func.count()).select_from(CaseRequest)))


def _start(clerk, key, body=BODY):
    return clerk.post("/api/v1/cases", json=body, headers={"Idempotency-Key": key})


def test_the_same_key_again_returns_the_first_case_and_writes_nothing(app, api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    first = _start(clerk, "desk-7f3a")
    assert first.status_code == 201, first.body
    assert "Idempotent-Replayed" not in first.headers
    before = _counts()
    again = _start(clerk, "desk-7f3a")
    assert again.status_code == 201, again.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body["case_no"] == first.body["case_no"]
    assert _counts() == before == (1, 1, 1)
    # without a key, the same application is a new case (the key is what says "the same request")
    assert clerk.post("/api/v1/cases", json=BODY).body["case_no"] != first.body["case_no"]


def test_a_key_sent_with_another_application_is_refused_and_changes_nothing(app, api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    assert _start(clerk, "k-1").status_code == 201
    before = _counts()
    other = {**BODY, "applicant": {**APPLICANT, "name": "李四"}}
    resp = _start(clerk, "k-1", other)
    assert resp.status_code == 422, resp.body
    assert "已用于另一份申请" in resp.body["message"]
    assert _counts() == before


def test_keys_belong_to_their_user(app, api):
    assert deploy(api, DEMO_XML).status_code == 201
    mine = _start(api.as_user("window_clerk"), "shared-key").body["case_no"]
    theirs = _start(api.as_user("admin", app.config["ADMIN_PASSWORD"]), "shared-key")
    assert theirs.status_code == 201 and theirs.body["case_no"] != mine
    assert _counts()[0] == 2


def test_a_malformed_key_is_refused_in_chinese_before_anything_is_written(app, api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    for bad in ("x" * 129, "带中文的键", "two words"):
        resp = _start(clerk, bad)
        assert resp.status_code == 422 and "Idempotency-Key" in resp.body["message"], (bad, resp.body)
    assert _counts() == (0, 0, 0)


def test_a_refused_application_does_not_use_up_its_key(app, api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    bad = _start(clerk, "retry-me", {**BODY, "process_key": "no_such_service"})
    assert bad.status_code in (404, 422), bad.body
    assert _counts() == (0, 0, 0)
    good = _start(clerk, "retry-me")
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers


def test_two_tries_at_the_same_instant_start_one_case(live_server, database_url):
    api = ApiClient(base_url=live_server.url)
    assert deploy(api, DEMO_XML).status_code == 201
    clerks = [api.as_user("window_clerk") for _ in range(4)]
    barrier = threading.Barrier(len(clerks))

    def attempt(clerk):
        barrier.wait()
        return _start(clerk, "same-instant")

    with ThreadPoolExecutor(len(clerks)) as pool:
        answers = list(pool.map(attempt, clerks))
    assert [a.status_code for a in answers] == [201] * len(clerks), [a.body for a in answers]
    assert len({a.body["case_no"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == [""] + ["true"] * (len(clerks) - 1)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM case_requests")).scalar() == 1
    finally:
        engine.dispose()


def test_keys_are_forgotten_after_the_keep_period_and_then_start_a_new_case(app, api):
    from datetime import timedelta
    from app.scheduler import forget_idempotency_keys
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    old, recent = _start(clerk, "old-key").body["case_no"], _start(clerk, "recent-key").body["case_no"]
    keep = timedelta(days=app.config["IDEMPOTENCY_KEEP_DAYS"])
    row = db.session.get(CaseRequest, (db.session.scalar(select(Case.created_by_id).where(Case.case_no == old)),
                                       "old-key"))
    row.created_at = row.created_at - keep - timedelta(minutes=1)
    db.session.commit()
    assert forget_idempotency_keys(app) == 1
    assert db.session.scalar(select(func.count()).select_from(CaseRequest)) == 1
    again = _start(clerk, "old-key")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers and again.body["case_no"] != old
    replayed = _start(clerk, "recent-key")
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.body["case_no"] == recent
    assert forget_idempotency_keys(app) == 0
