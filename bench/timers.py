"""Measurement 6: how late timers fire when many are due in the same minute.

A small process (task_a -> intermediate timer -> task_b, lane 综合窗口) is
deployed; its ``timeDate`` expression is the case field ``fire_at``, an ISO
string evaluated by our sandbox, so each case carries its own due time. N
cases are started and their first task completed, with due times spread
evenly over one window that begins after the set-up is expected to end. The
server's scheduler (app/scheduler.py, 1 s interval) fires them; we poll the
timers table and report fired_at - due_at.
"""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, create_engine, func, select

from .bpmn import BenchProcess, timer_xml
from .client import Connection
from .common import Scale, log, percentile, rnd

CALIBRATION = 20


def _process() -> BenchProcess:
    return BenchProcess(label="timer", source="bench/bpmn.py timer_xml()", key="bench_timer",
                        xml=timer_xml(), deployed_by_seed=False, lanes=("综合窗口",))


def run(conn: Connection, database_url: str, scale: Scale) -> dict:
    from app.models import Task, Timer
    runner = conn.runner(_process())
    threads = scale.client_threads

    def set_up(fire_at: datetime) -> str:
        case = runner.start({"fire_at": fire_at.isoformat()})
        task_a = next(t for t in case["tasks"] if t["state"] == "ready")
        runner.complete(task_a, {})
        return case["case_no"]

    # calibration: how fast can we set cases up? (their timers are far in the future)
    far = datetime(2099, 1, 1, tzinfo=timezone.utc)
    started = time.perf_counter()
    calibration = min(CALIBRATION, max(2, scale.timer_count // 2))
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: set_up(far), range(calibration)))
    per_case = (time.perf_counter() - started) / calibration
    expected = per_case * scale.timer_count
    lead = max(scale.timer_min_lead_s, expected * 1.5 + 2)
    window_start = (datetime.now(timezone.utc) + timedelta(seconds=lead)).replace(microsecond=0)
    window_end = window_start + timedelta(seconds=scale.timer_window_s)
    dues = [window_start + timedelta(seconds=scale.timer_window_s * i / scale.timer_count)
            for i in range(scale.timer_count)]
    random.Random(7).shuffle(dues)
    log(f"timers: setting up {scale.timer_count} cases (~{expected:.0f} s), due {window_start:%H:%M:%S}"
        f"–{window_end:%H:%M:%S} UTC")

    setup_started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        case_nos = list(pool.map(set_up, dues))
    setup_s = time.perf_counter() - setup_started
    setup_ended = datetime.now(timezone.utc)

    engine = create_engine(database_url)
    timers = Timer.__table__
    mine = and_(timers.c.due_at >= window_start, timers.c.due_at <= window_end)
    give_up = window_end + timedelta(seconds=max(120.0, scale.timer_window_s))
    fired = 0
    try:
        while datetime.now(timezone.utc) < give_up:
            with engine.connect() as conn:
                fired = conn.execute(select(func.count()).select_from(timers).where(
                    mine, timers.c.fired_at.is_not(None))).scalar()
            if fired >= scale.timer_count:
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            rows = conn.execute(select(timers.c.due_at, timers.c.fired_at).where(mine)).all()
            tasks = Task.__table__
            task_b_ready = conn.execute(select(func.count()).select_from(tasks).where(
                tasks.c.element_id == "task_b", tasks.c.state == "ready")).scalar()
    finally:
        engine.dispose()
    delays = [(f - d).total_seconds() for d, f in rows if f is not None]
    out = {
        "timers": scale.timer_count, "window_s": scale.timer_window_s, "lead_s": rnd(lead, 1),
        "setup_s": rnd(setup_s, 1), "setup_finished_before_window": setup_ended < window_start,
        "timer_rows": len(rows), "fired": len(delays), "task_b_ready": task_b_ready,
        "delay_p50_s": rnd(percentile(delays, 50), 3), "delay_p95_s": rnd(percentile(delays, 95), 3),
        "delay_max_s": rnd(max(delays), 3) if delays else None,
        "delay_min_s": rnd(min(delays), 3) if delays else None,
        "cases": len(case_nos), "scheduler": "APScheduler interval job, 1 s (app/scheduler.py)",
    }
    log(f"timers: {out['fired']}/{out['timers']} fired, delay p50 {out['delay_p50_s']} s, "
        f"p95 {out['delay_p95_s']} s, max {out['delay_max_s']} s")
    return out
