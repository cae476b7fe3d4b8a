"""Two scheduler processes on one database never fire the same timer twice."""
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text

from config import BASE_DIR

from ..conftest import DATA, ApiClient, LiveServer
from .helpers import APPLICANT, deploy


def test_two_scheduler_processes_fire_each_timer_exactly_once(database_url, tmp_path):
    web = LiveServer(database_url, tmp_path, {"APP_SCHEDULER": "0"}).start()  # web only; schedulers below
    try:
        api = ApiClient(base_url=web.url)
        due = (datetime.now(timezone.utc) + timedelta(seconds=4)).isoformat()
        xml = (DATA / "timer_escalation.bpmn").read_text().replace("workdays(1)", f'"{due}"') \
            .replace("workdays(3)", '"2099-01-01T00:00:00+00:00"')
        assert deploy(api, xml).status_code == 201
        clerk = api.as_user("window_clerk")
        for _ in range(20):
            assert clerk.post("/api/v1/cases", json={"process_key": "timer_escalation",
                                                     "applicant": APPLICANT}).status_code == 201
    finally:
        web.stop()
    procs = [subprocess.Popen([sys.executable, str(BASE_DIR / "run.py"), "--scheduler-only"], cwd=BASE_DIR,
                              env=web.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + 60
        fired = 0
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                fired = conn.execute(text("SELECT count(*) FROM timers WHERE element_id = 'timer_remind' "
                                          "AND fired_at IS NOT NULL")).scalar_one()
            if fired == 20:
                break
            time.sleep(0.5)
        time.sleep(2)  # give a double firing the chance to show
        with engine.connect() as conn:
            events = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'timer.fired'")).scalar_one()
            reminders = conn.execute(text("SELECT count(*) FROM tasks WHERE element_id = 'task_remind'")).scalar_one()
            # both started with the 周通报 catch-up of last week: one report, built once
            weekly = conn.execute(text("SELECT count(*) FROM weekly_reports")).scalar_one()
            built = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'report.weekly_built'")).scalar_one()
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        engine.dispose()
    assert fired == 20
    assert events == 20 and reminders == 20
    assert weekly == 1 and built == 1
