"""Background jobs (APScheduler). Every job opens an app context and calls one service."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from .extensions import db
from .services import clock, idempotency, lights, material_files, reports_weekly, statistics, supervision, timers
from .services.blobs import BlobStore
from .services.uow import run_use_case

log = logging.getLogger(__name__)


def fire_due_timers(app: Flask) -> int:
    fired = 0
    with app.app_context():
        for case_id in timers.due_case_ids(db.session, clock.now()):
            try:
                fired += run_use_case(db.session, lambda: timers.fire_case_timers(
                    db.session, case_id, clock.now()))
            except timers.TimerFailed as failure:
                run_use_case(db.session, lambda f=failure: timers.record_incident(db.session, f, clock.now()))
            except Exception:  # one broken case must not stop the others
                log.exception("firing timers of case %s failed", case_id)
        db.session.remove()
    return fired


def fill_lights(app: Flask, forget: bool = False) -> int:
    """Work out the yellow moments open rows lack (all of them with ``forget``), a batch per transaction."""
    filled = 0
    with app.app_context():
        try:
            if forget:
                run_use_case(db.session, lambda: lights.forget(db.session))
            for _ in range(lights.MAX_BATCHES):  # more are left to the next scan
                batch = run_use_case(db.session, lambda: lights.fill(db.session))
                filled += batch
                if batch < lights.BATCH:
                    break
        finally:
            db.session.remove()
    return filled


def refresh_query_statistics(app: Flask, only_if_missing: bool = False) -> bool:
    """SQLite's planner statistics (services/statistics.py): once a night, and at start when there are none."""
    with app.app_context():
        try:
            if not statistics.needed(db.session) or (only_if_missing and not statistics.missing(db.session)):
                return False
            run_use_case(db.session, lambda: statistics.refresh(db.session))
            return True
        finally:
            db.session.remove()


def scan_supervision(app: Flask) -> int:
    """Read what is due without holding a write lock, then write each event in its own transaction."""
    written = 0
    fill_lights(app)
    with app.app_context():
        try:
            now = clock.now()
            due = supervision.due_events(db.session, now)
            db.session.rollback()
            for event in due:
                written += run_use_case(db.session, lambda: supervision.write_event(db.session, event, now))
        finally:
            db.session.remove()
    return written


def forget_idempotency_keys(app: Flask) -> int:
    """Idempotency-Keys of new cases are kept IDEMPOTENCY_KEEP_DAYS, in real elapsed time (a
    retry window, not a legal deadline)."""
    with app.app_context():
        try:
            days = app.config["IDEMPOTENCY_KEEP_DAYS"]
            if days < 1:
                log.warning("APP_IDEMPOTENCY_KEEP_DAYS is %s; keys are kept until it is at least 1", days)
                return 0
            cutoff = clock.now() - timedelta(days=days)
            forgotten = run_use_case(db.session, lambda: idempotency.forget_before(db.session, cutoff))
        finally:
            db.session.remove()
    if forgotten:
        log.info("forgot %s idempotency keys sent before %s", forgotten, cutoff.isoformat())
    return forgotten


SWEEP_MIN_AGE_SECONDS = 24 * 3600


def sweep_material_files(app: Flask) -> int:
    """Nightly: stored files no material refers to (left by failed uploads), a day old or more."""
    with app.app_context():
        try:
            report = material_files.sweep(db.session, BlobStore(app.config["INSTANCE_DIR"]),
                                          min_age_seconds=SWEEP_MIN_AGE_SECONDS, now=clock.now())
        finally:
            db.session.remove()
    if report.removed or report.removed_staging:
        log.info("material store: removed %s unreferenced files (%s bytes) and %s stale staging files",
                 len(report.removed), report.removed_bytes, report.removed_staging)
    return len(report.removed)


def build_weekly_report(app: Flask) -> date:
    """周通报: every Monday, the report of the week that just ended. Safe to re-run and to run in several
    scheduler processes: a stored report of the whole week is kept (the unique week_start decides)."""
    with app.app_context():
        try:
            now = clock.now()
            week = reports_weekly.previous_week(now)
            run_use_case(db.session, lambda: reports_weekly.build_weekly(
                db.session, week_start=week, actor_id=None, now=now, replace=False))
        finally:
            db.session.remove()
    return week


def init_scheduler(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    scheduler.add_job(fire_due_timers, "interval", seconds=1, args=[app], id="fire_due_timers",
                      max_instances=1, coalesce=True)
    scheduler.add_job(scan_supervision, "interval", seconds=60, args=[app], id="scan_supervision",
                      max_instances=1, coalesce=True)
    scheduler.add_job(build_weekly_report, "cron", day_of_week="mon", hour=1, minute=0, args=[app],
                      id="weekly_report", max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
    scheduler.add_job(forget_idempotency_keys, "interval", hours=6, args=[app], id="forget_idempotency_keys",
                      max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))  # and at start
    scheduler.add_job(sweep_material_files, "cron", hour=3, minute=15, args=[app], id="sweep_material_files",
                      max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
    # office hours are read at start-up: the stored yellow moments of open rows are worked out again
    scheduler.add_job(fill_lights, "date", args=[app, True], id="fill_lights_at_start")
    scheduler.add_job(refresh_query_statistics, "cron", hour=2, minute=30, args=[app], id="query_statistics",
                      max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
    scheduler.add_job(refresh_query_statistics, "date", args=[app, True], id="query_statistics_at_start")
    # a Monday missed while no scheduler ran: built at start (a no-op when the report is there)
    scheduler.add_job(build_weekly_report, "date", args=[app], id="weekly_report_catch_up")
    scheduler.start()
    return scheduler
