"""No ID number or phone number reaches the logs, on the happy path or on the error paths that log.

Everything is captured at DEBUG (every logger, every record attribute, tracebacks included), and
the live-server test reads the real server's stderr. Each test also checks that the error it
provoked was logged (masked), so a run that logged nothing cannot pass.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import text

from app.extensions import db
from app.scheduler import fire_due_timers
from app.services import clock, prefill

from ..bpmn_factory import HEAD
from ..conftest import LiveServer
from .helpers import deploy
from .startup import APPLICANT, APPLY, run_back_office, start, upload_all

ID_NUMBER, PHONE = APPLICANT["id_number"], APPLICANT["phone"]  # 41060219900101123X, 13912345678
MASKED_ID = "4106**********123X"
RAW = (ID_NUMBER, ID_NUMBER.lower(), PHONE)

# a timer, then a script that cannot read the ID number as an integer: the engine's error names the value
FAILING_TIMER = HEAD + (
    '<bpmn:process id="id_check" name="证件校验" isExecutable="true"><bpmn:laneSet id="ls">'
    '<bpmn:lane id="lw" name="综合窗口"><bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>wait'
    '</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef>'
    '<bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>'
    '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>'
    '<bpmn:intermediateCatchEvent id="wait" name="等待"><bpmn:timerEventDefinition id="td">'
    '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>'
    '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
    '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="check"/>'
    '<bpmn:scriptTask id="check" name="校验"><bpmn:script>n = int(legal_rep_id_number)</bpmn:script></bpmn:scriptTask>'
    '<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="review"/><bpmn:userTask id="review" name="复核"/>'
    '<bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end"/><bpmn:endEvent id="end"/>'
    '</bpmn:process></bpmn:definitions>')


def _leaks(records) -> list[str]:
    """Raw values found in any record: its formatted line, its traceback, or any attribute (extras)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    found = []
    for record in records:
        blob = formatter.format(record) + repr(sorted(vars(record).items(), key=lambda kv: kv[0]))
        found += [f"{record.name}: {value}" for value in RAW if value in blob]
    return found


def _broken_lookup(session, *, process_key, id_number, now):
    """The shared-data lookup failing in the database, as a driver error that lists its parameters."""
    session.execute(text("SELECT * FROM registry_that_is_not_there WHERE id_number = :id"), {"id": id_number})


def test_a_case_and_its_error_paths_log_no_personal_numbers(app, api, caplog, clock_at, monkeypatch):
    caplog.set_level(logging.DEBUG)
    clerk = api.as_user("window_clerk")
    case = start(clerk)  # 企业开办 with the applicant's ID and phone number, then every back-office task
    upload_all(clerk, case["case_no"])
    assert clerk.get(f"/api/v1/prefill?process_key=business_startup&id_number={ID_NUMBER}").status_code == 200
    final, _ = run_back_office(api, case["case_no"])
    assert final["status"] == "completed"

    monkeypatch.setattr(prefill, "for_applicant", _broken_lookup)  # an unexpected error: logged, answered 500
    resp = clerk.get(f"/api/v1/prefill?process_key=business_startup&id_number={ID_NUMBER}")
    assert resp.status_code == 500 and ID_NUMBER not in resp.get_data(as_text=True)
    monkeypatch.undo()
    db.session.rollback()  # the test's requests share this app context's session (a server's would be new)

    assert deploy(api, FAILING_TIMER).status_code == 201
    failing = clerk.post("/api/v1/cases", json={"process_key": "id_check", "applicant": APPLICANT,
                                                "data": {"legal_rep_id_number": ID_NUMBER, "phone": PHONE}})
    assert failing.status_code == 201, failing.body
    clock_at(clock.now() + timedelta(hours=2))
    assert fire_due_timers(app) == 0  # the timer path failed: an incident, and an error in the log
    db.session.rollback()  # end the shared session's read, to see the scheduler's commit
    assert db.session.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 1

    assert _leaks(caplog.records) == []
    logged = caplog.text
    assert "unhandled error" in logged and "registry_that_is_not_there" in logged  # the 500 was logged...
    assert f"timer on case {failing.body['case_no']} failed" in logged  # ...and the failing timer
    assert MASKED_ID in logged  # with the number masked, not dropped


def test_the_live_servers_stderr_has_no_personal_numbers(database_url, tmp_path):
    server = LiveServer(database_url, tmp_path, {"APP_DEMO": "1", "APP_DEMO_PASSWORD": "Demo@2026-test"}).start()
    try:
        from ..conftest import ApiClient
        clerk = ApiClient(base_url=server.url).as_user("window_clerk")
        created = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": APPLICANT,
                                                    "data": APPLY})
        assert created.status_code == 201, created.body
        assert clerk.get(f"/api/v1/prefill?process_key=business_startup&id_number={ID_NUMBER}").status_code == 200
        bad = clerk.post("/api/v1/cases", json={"process_key": "business_startup", "applicant": APPLICANT,
                                                "data": {**APPLY, "registered_capital": "很多"}})
        assert bad.status_code == 422
        # the server's own scheduler fires a timer whose script fails on the ID number: an error line
        api = ApiClient(base_url=server.url)
        assert deploy(api, FAILING_TIMER.replace('"PT1H"', '"PT1S"')).status_code == 201
        failing = clerk.post("/api/v1/cases", json={"process_key": "id_check", "applicant": APPLICANT,
                                                    "data": {"legal_rep_id_number": ID_NUMBER, "phone": PHONE}})
        assert failing.status_code == 201, failing.body
        wanted = f"timer on case {failing.body['case_no']} failed"
        deadline = time.monotonic() + 30
        while wanted not in server.log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "Binglian 已启动" in log and wanted in log  # the failing timer was logged...
    assert MASKED_ID in log[log.index(wanted):]  # ...with the number masked, in that line or its traceback
    assert [value for value in RAW if value in log] == []
