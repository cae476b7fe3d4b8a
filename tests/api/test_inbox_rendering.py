"""GET /api/v1/tasks renders its rows without marshmallow: it must say exactly what TaskSchema says."""
from datetime import timedelta

from sqlalchemy import select

from app.api.cases import task_json, warn_ratio_of
from app.api.schemas import TaskSchema
from app.api.tasks import listed
from app.extensions import db
from app.models import Task, User
from app.services import calendar, clock, tasks
from app.services.accounts import Actor

from .helpers import APPLICANT, DEMO_XML, deploy, ready


def _a_case_under_way(api):
    assert deploy(api, DEMO_XML).status_code == 201
    clerk = api.as_user("window_clerk")
    case = clerk.post("/api/v1/cases", json={"process_key": "parallel_demo", "applicant": APPLICANT, "data": {}}).body
    intake = ready(case, "task_intake")[0]
    assert clerk.post(f"/api/v1/tasks/{intake['id']}/complete", json={"data": {}}).status_code == 200
    return case["case_no"]


def _manager():
    user = db.session.execute(select(User).where(User.username == "manager")).scalar_one()
    return Actor.of(user)


def test_the_inbox_list_equals_the_schema_dump_for_every_state_and_light(app, api, clock_at):
    _a_case_under_way(api)
    _a_case_under_way(api)
    start = clock.now()
    with app.app_context():  # deadlines a week, an office hour and a minute away; one task without any
        open_tasks = db.session.execute(select(Task).where(Task.state == "ready").order_by(Task.id)).scalars().all()
        cal = calendar.load(db.session)
        for task, hours in zip(open_tasks, (40, 1, 0)):
            task.due_at = cal.add_work_minutes(start, hours * 60 or 1)
        db.session.commit()
        nearly_due = cal.add_work_minutes(start, 55) - start  # the one-hour task has 5 of its 60 minutes left
        db.session.remove()
    lights_seen = set()
    for later in (timedelta(0), nearly_due, timedelta(days=30)):
        clock_at(start + later)
        body = api.as_user("manager").get("/api/v1/tasks?state=all").body
        with app.app_context():
            user = _manager()
            rows = tasks.inbox(db.session, user, state=None)
            cal, now = calendar.load(db.session), clock.now()
            by_schema = TaskSchema(many=True).dump([task_json(r, r.case_no, cal, warn_ratio_of(r.process_definition_id))
                                                    for r in rows])
            assert listed(rows, cal, now) == by_schema
            db.session.remove()
        assert body == by_schema
        states = {t["state"] for t in body}
        assert {"ready", "completed"} <= states, states
        lights_seen |= {t["light"] for t in body}
    assert lights_seen == {"green", "yellow", "red", None}, lights_seen
