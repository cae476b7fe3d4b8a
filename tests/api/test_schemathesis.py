"""schemathesis over the served OpenAPI document: no request, valid or not, gets a 5xx.

Every operation in /api/openapi.json is exercised in-process (WSGI), nothing excluded, with a
bearer token of an admin who also holds every other role (so role checks do not stop the
requests at 403 before the interesting code runs). Each operation gets generated valid
requests, generated invalid ones, and, where its path names a case or task, valid requests
aimed at a real case and task (so the bodies reach the use cases, not just the 404).
A fresh token is minted for each operation, and after every call of logout.

Findings so far, all fixed: a huge year in /calendar/years/{year} (date overflow), a huge
version number in /processes/{key}/diff (SQLite integer overflow), and ids above 2^31 in
integer path parameters (PostgreSQL "integer out of range").
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from app.extensions import db
from app.models import ROLES, User
from app.services import accounts, clock
from app.services.uow import run_use_case

from ..conftest import ADMIN_PASSWORD, BACKENDS, ApiClient, _make_app
from .startup import start

EXAMPLES = 4  # per operation and strategy: about 800 requests, bounded to stay near a minute on 2 idle cores
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture
def fuzz_app(database_url, tmp_path):
    """The app with no application context held open: each request gets its own, and its own session,
    as on a server (a context shared across requests would carry one request's failed transaction
    into the next)."""
    app = _make_app(database_url, tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def fuzz_user(fuzz_app):
    admin = ApiClient(client=fuzz_app.test_client()).as_user("admin", ADMIN_PASSWORD)
    resp = admin.post("/api/v1/users", json={"username": "fuzz", "password": "Fuzz@2026-test", "name": "模糊测试",
                                             "department": "window", "roles": list(ROLES)})
    assert resp.status_code == 201, resp.body
    return resp.body["id"]


def _token(app, user_id: int) -> str:
    with app.app_context():
        try:
            user = db.session.get(User, user_id)
            return run_use_case(db.session, lambda: accounts.issue_token(db.session, user, now=clock.now(),
                                                                         ttl=timedelta(hours=1)))
        finally:
            db.session.remove()


def _known_objects(api) -> dict[str, str]:
    """A real case (企业开办) and its open task, for the path parameters that name them."""
    clerk = api.as_user("window_clerk")
    case = start(clerk)
    task = next(t for t in case["tasks"] if t["state"] == "ready")
    return {"case_no": case["case_no"], "task_id": task["id"], "key": "business_startup"}


def _strategies(operation, known: dict[str, str]):
    yield "valid", operation.as_strategy(schemathesis.GenerationMode.POSITIVE)
    yield "invalid", operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)
    names = {p.name for p in operation.path_parameters}
    if names and names <= set(known):
        yield "valid, real objects", operation.as_strategy(
            schemathesis.GenerationMode.POSITIVE, path_parameters={n: known[n] for n in names})


def _exercise(app, operation, label, strategy, user_id, found: list) -> int:
    calls = 0
    token = _token(app, user_id)
    logout = operation.path.endswith("/auth/logout")

    @SETTINGS
    @given(case=strategy)
    def run(case):
        nonlocal calls, token
        calls += 1
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        if logout:  # the call may have revoked the token
            token = _token(app, user_id)
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except FailureGroup:  # collected: every 5xx is listed at the end
            found.append((operation.label, label, response.status_code, case.as_curl_command()))

    run()
    return calls


# one backend keeps the run bounded: PostgreSQL, the production database and the stricter one
# (integer overflow, NUL characters); SQLite when only that is being tested
@pytest.mark.parametrize("database_url", [next((b for b in BACKENDS if b == "postgresql"), BACKENDS[0])],
                         indirect=True)
def test_no_operation_answers_a_server_error(fuzz_app, fuzz_user):
    began = time.monotonic()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)
    known = _known_objects(ApiClient(client=fuzz_app.test_client()))
    found: list = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for label, strategy in _strategies(operation, known):
            calls += _exercise(fuzz_app, operation, label, strategy, fuzz_user, found)
    assert operations >= 70  # every operation of the document was generated for, none skipped
    assert calls >= operations * 2
    print(f"schemathesis: {operations} operations, {calls} requests, {time.monotonic() - began:.1f} s")
    assert found == [], "\n".join(map(str, found[:40]))


# what the run found, pinned down on both backends (the generated run may not draw them again)
FOUND = [
    ("GET", "/api/v1/calendar/years/417242888883", None, 404),  # date() overflow
    ("POST", "/api/v1/follow-ups/1295811712018/resolve", {"resolution": "已整改"}, 404),  # id beyond an integer
    ("POST", "/api/v1/signs/510325004444/decide", {"approve": True, "opinion": "同意"}, 404),
    ("GET", "/api/v1/copies?page=229844093606659520", None, 422),  # OFFSET beyond bigint
    ("GET", "/api/v1/processes/business_startup/diff?from=147316442743176970240&to=1", None, 422),
    ("POST", "/api/v1/processes/business_startup/migrations/preview", {"from_version": 25519432563139567616}, 422),
]


@pytest.mark.parametrize("method, path, body, status", FOUND)
def test_what_schemathesis_found_is_refused_cleanly(api, method, path, body, status):
    admin = api.as_user("admin", ADMIN_PASSWORD)
    resp = admin.request(method, path, json=body)
    assert resp.status_code == status, resp.body
    assert resp.body["message"] and "Traceback" not in str(resp.body)
