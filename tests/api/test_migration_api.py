"""The migration endpoints over HTTP: preview writes nothing, apply moves and reports, bad input is refused."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent

from ..services.test_migration import REMOVED, V1, V2, case_body, finish, snapshot, start_case
from .helpers import deploy

PREVIEW = "/api/v1/processes/migration_demo/migrations/preview"
APPLY = "/api/v1/processes/migration_demo/migrations"


def _cases(api, extra=0):
    assert deploy(api, V1).status_code == 201
    movable = start_case(api)  # at 受理
    stuck = start_case(api, "migration_demo", "task_intake")  # 税务审查 open, gone in v2
    others = [start_case(api) for _ in range(extra)]
    assert deploy(api, V2).status_code == 201
    return movable, stuck, *others


def test_preview_then_apply_over_http(api):
    movable, stuck = _cases(api)
    analyst = api.as_user("analyst")
    before = {no: snapshot(no) for no in (movable, stuck)}
    resp = analyst.post(PREVIEW, json={"from_version": 1})
    assert resp.status_code == 200, resp.body
    assert (resp.body["source_version"], resp.body["target_version"]) == (1, 2)
    rows = {c["case_no"]: c for c in resp.body["cases"]}
    assert rows[movable]["movable"] is True and rows[movable]["tasks"] == ["受理"]
    assert rows[stuck]["movable"] is False and rows[stuck]["reasons"] == [REMOVED]
    assert {no: snapshot(no) for no in (movable, stuck)} == before  # a preview writes nothing

    resp = analyst.post(APPLY, json={"from_version": 1})
    assert resp.status_code == 200, resp.body
    assert resp.body["moved"] == [movable]
    assert resp.body["skipped"] == [{"case_no": stuck, "reasons": [REMOVED]}]
    assert resp.body["failed"] == []
    assert snapshot(stuck) == before[stuck]
    history = [h["action"] for h in api.as_user("manager").get(f"/api/v1/cases/{movable}/history").body]
    assert history.count("case.migrated") == 1
    assert finish(api, movable) == ["task_intake", "task_a", "task_c", "task_check", "task_issue"]
    assert case_body(api, movable)["status"] == "completed"

    again = analyst.post(APPLY, json={"from_version": 1})  # nothing left to move; the stuck case stays listed
    assert again.status_code == 200 and again.body["moved"] == []


def test_only_listed_cases_move(api):
    movable, stuck, other = _cases(api, extra=1)  # other: a second movable case, not listed
    resp = api.as_user("analyst").post(APPLY, json={"from_version": 1, "case_numbers": [movable, stuck]})
    assert resp.status_code == 200, resp.body
    assert resp.body["moved"] == [movable]
    assert [s["case_no"] for s in resp.body["skipped"]] == [stuck]
    rows = {c["case_no"]: c for c in api.as_user("analyst").post(PREVIEW, json={"from_version": 1}).body["cases"]}
    assert set(rows) == {stuck, other}  # the moved case left v1; the unlisted one is still there


def test_bad_requests_are_refused_with_a_message_and_change_nothing(api):
    movable, _ = _cases(api)
    analyst = api.as_user("analyst")
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    for body, status in (({"from_version": 2}, 422), ({"from_version": 9}, 404), ({"from_version": "1"}, 422),
                         ({}, 422), ({"from_version": 0}, 422)):
        resp = analyst.post(APPLY, json=body)
        assert resp.status_code == status, (body, resp.body)
        assert resp.body["message"] and "Traceback" not in str(resp.body)
    assert analyst.post("/api/v1/processes/no_such/migrations/preview", json={"from_version": 1}).status_code == 404
    assert "最新版本" in analyst.post(PREVIEW, json={"from_version": 2}).body["message"]
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events
    assert case_body(api, movable)["status"] == "running"
    for role_user in ("window_clerk", "tax_approver", "manager"):
        assert api.as_user(role_user).post(APPLY, json={"from_version": 1}).status_code == 403
