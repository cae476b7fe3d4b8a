"""Measurement 7: the cost of one step as a case's history grows.

A loop (user task -> exclusive gateway ``again`` -> back) is run with our
engine wrapper. At each history level (completed user tasks) we time one
step -- load the JSON state, complete the task, dump the new state -- several
times on the same stored state (a step is a pure function of it), and record
the serialized state size. SpiffWorkflow is known to stop advancing a back
loop after roughly 333 rounds; if that happens we record where and how.
"""
from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timezone

from .bpmn import loop_xml
from .common import Scale, log, rnd

STEP_BUDGET_S = 150.0  # stop climbing when the whole loop has taken this long


def _dumps(state: dict) -> str:
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))


def _ready_id(result) -> str | None:
    ready = [t for t in result.tasks if t.state == "ready"]
    return ready[-1].task_id if ready else None


def _measure(engine, parsed, text: str, task_id: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = engine.complete(parsed, text, task_id, {"again": True})
        _dumps(result.state)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(scale: Scale) -> dict:
    from app import engine
    parsed = engine.parse_process(loop_xml())
    levels = sorted(scale.growth_levels)
    points: list[dict] = []
    failure = None
    last_ok: dict | None = None
    started = time.perf_counter()
    deadline = lambda start, amount, unit: start  # noqa: E731 (no timers in this process)
    with engine.run_context(datetime.now(timezone.utc), deadline):
        result = engine.start(parsed, {"again": True})
        text = _dumps(result.state)
        history = 0
        for target in levels:
            while history < target:
                task_id = _ready_id(result)
                if task_id is None:
                    failure = failure or f"no ready task after {history} rounds (status {result.status})"
                    break
                step_started = time.perf_counter()
                try:
                    result = engine.complete(parsed, text, task_id, {"again": True})
                except engine.EngineError as exc:
                    failure = f"round {history + 1}: EngineError: {exc.message}"
                    break
                except RecursionError as exc:  # pragma: no cover - reported, not expected
                    failure = f"round {history + 1}: RecursionError: {exc}"
                    break
                text = _dumps(result.state)
                history += 1
                last_ok = {"history": history - 1, "step_ms": rnd((time.perf_counter() - step_started) * 1000, 3),
                           "state_bytes": len(text.encode())}
                if time.perf_counter() - started > STEP_BUDGET_S:
                    failure = f"stopped by the harness time budget after {history} rounds"
                    break
            if history < target:
                points.append({"history": target, "reached": False})
                break
            task_id = _ready_id(result)
            if task_id is None:
                failure = failure or f"no ready task after {history} rounds"
                points.append({"history": target, "reached": False})
                break
            step = _measure(engine, parsed, text, task_id, scale.growth_repeats)
            points.append({"history": target, "reached": True, "step_ms": rnd(step * 1000, 3),
                           "state_bytes": len(text.encode())})
            log(f"growth: history {target}: step {step * 1000:.2f} ms, state {len(text.encode())} bytes")
        # finish the case properly when possible (a check that the end is reachable)
        ended = None
        task_id = _ready_id(result) if failure is None else None
        if task_id is not None:
            try:
                final = engine.complete(parsed, text, task_id, {"again": False})
                ended = final.end_event
            except engine.EngineError as exc:
                failure = f"finishing after {history} rounds: {exc.message}"
    for level in levels:
        if not any(p["history"] == level for p in points):
            points.append({"history": level, "reached": False})
    base = next((p for p in points if p["history"] == levels[0] and p.get("reached")), None)
    for p in points:
        if base and p.get("reached"):
            p["vs_first"] = rnd(p["step_ms"] / base["step_ms"], 2)
            p["state_vs_first"] = rnd(p["state_bytes"] / base["state_bytes"], 2)
    if failure:
        log(f"growth: {failure}")
    return {"growth": {"points": points, "max_history_reached": history, "failure": failure,
                       "last_step": last_ok, "end_event": ended, "seconds": rnd(time.perf_counter() - started, 1)}}
