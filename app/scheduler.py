"""Background jobs (APScheduler). Every job opens an app context and calls one service."""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from .extensions import db
from .services import clock, timers
from .services.uow import run_use_case

log = logging.getLogger(__name__)


def fire_due_timers(app: Flask) -> int:
    fired = 0
    with app.app_context():
        for case_id in timers.due_case_ids(db.session, clock.now()):
            try:
                fired += run_use_case(db.session, lambda: timers.fire_case_timers(
                    db.session, case_id, clock.now()))
            except Exception:  # one broken case must not stop the others
                log.exception("firing timers of case %s failed", case_id)
        db.session.remove()
    return fired


def init_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    scheduler.add_job(fire_due_timers, "interval", seconds=1, args=[app], id="fire_due_timers",
                      max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler
