"""The sticky workflow cache: reused only for the exact stored version, never after a failed step."""
import json

import pytest

from app import engine
from app.engine.cache import WorkflowCache, workflows

from ..bpmn_factory import SIX_DEPARTMENTS, fan_out
from ..conftest import DATA

CASE = "case-1"


@pytest.fixture(autouse=True)
def empty_cache():
    workflows.clear()
    yield
    workflows.clear()


def _ready(result, element_id=None):
    return [t for t in result.tasks if t.state == "ready" and (element_id is None or t.element_id == element_id)]


def _shape(result):
    """What a step decided, without the random task ids."""
    return (result.status, sorted((t.element_id, t.state) for t in result.tasks),
            sorted(t.element_id for t in result.timers), result.end_event, result.data)


def _run_loop(parsed, rounds, *, cached):
    """Complete the 补正 loop ``rounds`` times; with ``cached`` every step resumes the previous live workflow."""
    result, shapes = engine.start(parsed, {"applicant": "张三"}), []
    for round_no in range(1, rounds + 1):
        state = json.dumps(result.state)
        if cached:
            engine.remember(result, parsed, CASE, state)
        again = round_no < rounds
        result = engine.complete(parsed, state, _ready(result)[0].task_id, {"again": again, "round": round_no},
                                 CASE if cached else None)
        shapes.append(_shape(result))
    return shapes, result


def test_steps_on_the_cached_workflow_decide_exactly_what_steps_on_the_stored_state_decide():
    parsed = engine.parse_process((DATA / "loop.bpmn").read_bytes())
    fresh, fresh_end = _run_loop(parsed, 30, cached=False)
    hits_before = workflows.hits
    cached, cached_end = _run_loop(parsed, 30, cached=True)
    assert workflows.hits - hits_before == 30  # every step really ran on the live object
    assert cached == fresh
    assert cached_end.status == "completed" and cached_end.data == fresh_end.data


def test_a_cached_workflow_is_not_used_once_another_process_saved_a_newer_state():
    parsed = engine.parse_process(fan_out("two_way", SIX_DEPARTMENTS[:2]).encode())
    started = engine.start(parsed, {})
    intake = _ready(started)[0]
    after_intake = engine.complete(parsed, json.dumps(started.state), intake.task_id, {})
    first, second = _ready(after_intake)[:2]
    # this process kept the case as it saved it after the intake …
    engine.remember(after_intake, parsed, CASE, json.dumps(after_intake.state))
    # … but another process completed the first branch meanwhile and saved a newer state
    elsewhere = engine.complete(parsed, json.dumps(after_intake.state), first.task_id, {"d_0": 1})
    misses = workflows.misses
    result = engine.complete(parsed, json.dumps(elsewhere.state), second.task_id, {"d_1": 1}, CASE)
    assert workflows.misses == misses + 1
    # both branches are done and the join fired; the stale copy would have lost the first branch
    assert [t.element_id for t in _ready(result)] == ["issue"]


def test_a_step_that_fails_leaves_nothing_behind_in_the_cache():
    parsed = engine.parse_process((DATA / "loop.bpmn").read_bytes())
    started = engine.start(parsed, {"applicant": "张三"})
    state = json.dumps(started.state)
    engine.remember(started, parsed, CASE, state)
    task = _ready(started)[0]
    hits = workflows.hits
    with pytest.raises(engine.EngineError):  # the loop's condition needs "again"
        engine.complete(parsed, state, task.task_id, {"round": 1}, CASE)
    assert workflows.hits == hits + 1 and len(workflows) == 0  # it ran on the live object, now dropped
    result = engine.complete(parsed, state, task.task_id, {"again": False, "round": 1}, CASE)
    assert result.status == "completed"


def test_the_cache_is_bounded_and_takes_an_entry_out_when_it_is_used():
    cache = WorkflowCache(capacity=2)
    spec = object()
    for key in ("a", "b", "c"):
        cache.put(key, "{}", spec, f"workflow {key}")
    assert len(cache) == 2 and cache.take("a", "{}", spec) is None  # the oldest went first
    assert cache.take("b", "{}", object()) is None  # another parsed spec (e.g. a new version) never matches
    cache.put("b", "{}", spec, "workflow b")
    assert cache.take("b", '{"x":1}', spec) is None  # another stored state never matches
    assert cache.take("c", "{}", spec) == "workflow c"
    assert cache.take("c", "{}", spec) is None  # taken out: a second step cannot share it
    cache.clear(capacity=0)
    cache.put("d", "{}", spec, "workflow d")
    assert len(cache) == 0  # capacity 0 turns the cache off
