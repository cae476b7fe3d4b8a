"""Measurement 7: the cost of one step as a case's history grows.

A loop (user task -> exclusive gateway ``again`` -> back) is climbed one round
at a time, storing the state between rounds as a server must, by

* our engine wrapper (``app.engine.complete`` + JSON text) -- the figure with
  the target -- and
* raw SpiffWorkflow with ``serialize_json``/``deserialize_json`` (the baseline).

At each history level (completed user tasks) one step -- load the state,
complete the task, save the state -- is timed several times on the same stored
state (a step is a pure function of it), and the stored state size recorded.
SpiffWorkflow is known to stop advancing a back loop after a few hundred
rounds; where a loop stops we record where and how.
"""
from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timezone

from .bpmn import loop_xml
from .common import Scale, log, rnd

BUDGET_S = 150.0  # per climber: stop climbing when the loop has taken this long


class Stopped(Exception):
    """The loop cannot go on (the engine stopped or refused)."""


class WrapperLoop:
    label = "app.engine wrapper"

    def __init__(self) -> None:
        from app import engine
        self.engine = engine
        self.parsed = engine.parse_process(loop_xml())

    def start(self):
        result = self.engine.start(self.parsed, {"again": True})
        return self._dumps(result.state), result

    @staticmethod
    def _dumps(state: dict) -> str:
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    def step(self, stored, again: bool = True):
        text, result = stored
        ready = [t for t in result.tasks if t.state == "ready"]
        if not ready:
            raise Stopped(f"no ready task (status {result.status})")
        try:
            new = self.engine.complete(self.parsed, text, ready[-1].task_id, {"again": again})
        except self.engine.EngineError as exc:
            raise Stopped(f"EngineError: {exc.message}") from None
        return self._dumps(new.state), new

    def size(self, stored) -> int:
        return len(stored[0].encode())

    def end_event(self, stored) -> str | None:
        return stored[1].end_event


class RawLoop:
    label = "raw SpiffWorkflow + serialize_json"

    def __init__(self) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
        from SpiffWorkflow.util.task import TaskState

        from .engine_bench import make_raw_serializer, raw_script_engine
        parser = SpiffBpmnParser()
        parser.add_bpmn_str(loop_xml(), "loop.bpmn")
        self.spec = parser.get_spec("bench_loop")
        self.serializer, self.script_engine = make_raw_serializer(), raw_script_engine
        self.BpmnWorkflow, self.READY = BpmnWorkflow, TaskState.READY

    def start(self):
        workflow = self.BpmnWorkflow(self.spec, {}, script_engine=self.script_engine())
        workflow.get_next_task(state=self.READY).data["again"] = True
        workflow.do_engine_steps()
        return self.serializer.serialize_json(workflow)

    def step(self, stored, again: bool = True):
        workflow = self.serializer.deserialize_json(stored)
        workflow.script_engine = self.script_engine()
        task = workflow.get_next_task(state=self.READY, manual=True)
        if task is None:
            raise Stopped(f"no ready user task; workflow.is_completed() = {workflow.is_completed()}")
        task.set_data(again=again)
        task.run()
        workflow.do_engine_steps()
        if again and workflow.is_completed():
            raise Stopped("the workflow reports completed although the loop condition was true (silent stop)")
        return self.serializer.serialize_json(workflow)

    def size(self, stored) -> int:
        return len(stored.encode())

    def end_event(self, stored) -> str | None:
        return "end" if self.serializer.deserialize_json(stored).is_completed() else None


def _median_step(loop, stored, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        loop.step(stored)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def climb(loop, levels: list[int], repeats: int) -> dict:
    points: list[dict] = []
    failure, last = None, None
    started = time.perf_counter()
    stored, history = loop.start(), 0
    for target in levels:
        try:
            while history < target:
                step_started = time.perf_counter()
                stored = loop.step(stored)
                history += 1
                last = {"history": history - 1, "step_ms": rnd((time.perf_counter() - step_started) * 1000, 3),
                        "state_bytes": loop.size(stored)}
                if time.perf_counter() - started > BUDGET_S:
                    raise Stopped(f"stopped by the harness time budget ({BUDGET_S:.0f} s)")
            step = _median_step(loop, stored, repeats)
        except (Stopped, RecursionError) as exc:
            failure = f"round {history + 1}: {exc}"
            break
        points.append({"history": target, "reached": True, "step_ms": rnd(step * 1000, 3),
                       "state_bytes": loop.size(stored)})
        log(f"growth ({loop.label}): history {target}: step {step * 1000:.2f} ms, state {loop.size(stored)} B")
    ended = None
    if failure is None:
        try:
            ended = loop.end_event(loop.step(stored, again=False))
        except (Stopped, RecursionError) as exc:
            failure = f"finishing after {history} rounds: {exc}"
    points += [{"history": lv, "reached": False} for lv in levels if lv not in {p["history"] for p in points}]
    base = points[0] if points and points[0].get("reached") else None
    for p in points:
        if base and p.get("reached"):
            p["vs_first"] = rnd(p["step_ms"] / base["step_ms"], 2)
            p["state_vs_first"] = rnd(p["state_bytes"] / base["state_bytes"], 2)
    if failure:
        log(f"growth ({loop.label}): {failure}")
    return {"points": points, "max_history_reached": history, "failure": failure, "last_step": last,
            "end_event": ended, "seconds": rnd(time.perf_counter() - started, 1)}


def run(scale: Scale) -> dict:
    from app import engine
    levels = sorted(scale.growth_levels)
    with engine.run_context(datetime.now(timezone.utc), lambda start, amount, unit: start):
        wrapper = climb(WrapperLoop(), levels, scale.growth_repeats)
    raw = climb(RawLoop(), levels, scale.growth_repeats)
    return {"growth": wrapper, "growth.raw": raw}
