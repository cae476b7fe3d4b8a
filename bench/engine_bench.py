"""Measurement 1: the engine alone ("baseline 1").

(a) raw SpiffWorkflow in memory, (b) raw SpiffWorkflow with
``BpmnWorkflowSerializer.serialize_json``/``deserialize_json`` around every step
(SPIFF_CONFIG), and (c) our wrapper ``app.engine.start``/``complete`` with JSON
text round trips, as the app stores it. Every case runs all its user tasks.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from .bpmn import BenchProcess
from .common import Scale, log, rnd


def _far_future(*_args, **_kwargs) -> str:
    return "2099-12-31T17:00:00+08:00"


class _RawEnvironment(TaskDataEnvironment):
    """Service tasks (notices, certificates …) do nothing in the raw baseline."""

    def call_service(self, context, **kwargs):
        return "{}"


def raw_script_engine() -> PythonScriptEngine:
    """SpiffWorkflow's default (eval-based) engine, plus stand-ins for our deadline helpers."""
    return PythonScriptEngine(environment=_RawEnvironment(
        {"workdays": _far_future, "hours": _far_future, "days": _far_future}))


def raw_specs(proc: BenchProcess):
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(proc.xml, "main.bpmn")
    for i, library in enumerate(proc.libraries):
        parser.add_bpmn_str(library, f"library{i}.bpmn")
    return parser.get_spec(proc.key), parser.get_subprocess_specs(proc.key)


def _raw_start(spec, subs, data: dict) -> BpmnWorkflow:
    workflow = BpmnWorkflow(spec, subs, script_engine=raw_script_engine())
    first = workflow.get_next_task(state=TaskState.READY)
    if first is not None:
        first.data.update(data)
    workflow.do_engine_steps()
    return workflow


def _raw_step(workflow: BpmnWorkflow, proc: BenchProcess) -> None:
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    if task is None:
        raise RuntimeError("no ready user task, but the workflow is not completed")
    task.set_data(**proc.task_data.get(task.task_spec.bpmn_id, {}))
    task.run()
    workflow.do_engine_steps()


def raw_case_in_memory(spec, subs, proc: BenchProcess) -> dict:
    workflow = _raw_start(spec, subs, proc.start_data)
    steps = 0
    while not workflow.is_completed():
        _raw_step(workflow, proc)
        steps += 1
    return {"steps": steps}


def make_raw_serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def raw_case_serialized(spec, subs, proc: BenchProcess, serializer: BpmnWorkflowSerializer) -> dict:
    """Load before and save after every step, as a stateless server must."""
    state = serializer.serialize_json(_raw_start(spec, subs, proc.start_data))
    steps = 0
    while True:
        workflow = serializer.deserialize_json(state)
        workflow.script_engine = raw_script_engine()
        _raw_step(workflow, proc)
        steps += 1
        state = serializer.serialize_json(workflow)
        if workflow.is_completed():
            return {"steps": steps, "state_bytes": len(state.encode())}


def _deadline(start: datetime, amount: int, unit: str) -> datetime:
    return start + timedelta(days=amount)


def wrapper_parse(proc: BenchProcess):
    from app import engine
    return engine.parse_process(proc.xml, libraries=proc.libraries)


def wrapper_case(parsed, proc: BenchProcess) -> dict:
    """Our engine wrapper, with the state as JSON text between steps (as stored in the database)."""
    from app import engine
    with engine.run_context(datetime.now(timezone.utc), _deadline):
        result = engine.start(parsed, dict(proc.start_data))
        text = json.dumps(result.state, ensure_ascii=False, separators=(",", ":"))
        steps, done = 0, set()
        while result.status == "running":
            ready = [t for t in result.tasks if t.state == "ready" and t.task_id not in done]
            if not ready:
                raise RuntimeError("wrapper: no ready user task, but the case is running")
            task = ready[0]
            result = engine.complete(parsed, text, task.task_id, dict(proc.task_data.get(task.element_id, {})))
            text = json.dumps(result.state, ensure_ascii=False, separators=(",", ":"))
            done.add(task.task_id)
            steps += 1
    return {"steps": steps, "state_bytes": len(text.encode()), "end_event": result.end_event}


def _timed(label: str, fn: Callable[[], dict], seconds: float) -> dict:
    first = fn()  # warm-up, and a check that a whole case runs
    count, started = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and count >= 3:
            break
    out = {"cases": count, "seconds": rnd(elapsed, 3), "cases_per_s": rnd(count / elapsed, 1),
           "ms_per_case": rnd(elapsed / count * 1000, 3), "user_tasks_per_case": first["steps"]}
    if "state_bytes" in first:
        out["final_state_bytes"] = first["state_bytes"]
    log(f"engine {label}: {out['cases_per_s']} cases/s")
    return out


def run(proc: BenchProcess, scale: Scale) -> dict:
    spec, subs = raw_specs(proc)
    serializer = make_raw_serializer()
    parsed = wrapper_parse(proc)
    return {
        "engine.raw_memory": _timed("raw in memory", lambda: raw_case_in_memory(spec, subs, proc),
                                    scale.engine_seconds),
        "engine.raw_serialized": _timed("raw + serialize_json/deserialize_json",
                                        lambda: raw_case_serialized(spec, subs, proc, serializer),
                                        scale.engine_seconds),
        "engine.wrapper": _timed("app.engine wrapper + JSON text",
                                 lambda: wrapper_case(parsed, proc), scale.engine_seconds),
    }
