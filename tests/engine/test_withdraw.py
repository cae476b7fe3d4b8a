"""The engine part of 撤回 (app.engine.withdraw) on the parallel demo: a reset branch is ready again and
runs on; a join that fired from another branch, a completed later task, a completed case, and history
the compaction dropped all refuse. Plain engine calls, no database."""
import json

import pytest

from app import engine
from app.engine import compaction

from ..conftest import DATA

XML = (DATA / "parallel_demo.bpmn").read_text().replace("SCRIPT_PLACEHOLDER", "checked = True") \
    .replace("CONDITION_PLACEHOLDER", "approved_a and checked")


@pytest.fixture
def parsed():
    return engine.parse_process(XML.encode(), "parallel_demo.bpmn")


def ready(result, element_id):
    return next(t.task_id for t in result.tasks if t.element_id == element_id and t.state == "ready")


def states(result):
    return sorted((t.element_id, t.state) for t in result.tasks)


def run(parsed, result, element_id, data=None):
    return engine.complete(parsed, json.dumps(result.state), ready(result, element_id), data or {})


def refused(parsed, result, task_id, words):
    with pytest.raises(engine.WithdrawRefused) as caught:
        engine.withdraw(parsed, json.dumps(result.state), task_id)
    assert words in caught.value.message, caught.value.message


def test_a_branch_while_the_join_waits_is_ready_again_and_runs_on(parsed):
    start = engine.start(parsed, {})
    after_intake = run(parsed, start, "task_intake")
    b = ready(after_intake, "task_b")
    after_b = run(parsed, after_intake, "task_b")
    undone = engine.withdraw(parsed, json.dumps(after_b.state), b)
    assert ready(undone.step, "task_b") == b and undone.dropped_task_ids == []
    assert states(undone.step) == states(after_intake)
    step = run(parsed, undone.step, "task_b")
    step = run(parsed, step, "task_a", {"approved_a": True})
    step = run(parsed, step, "task_c")
    assert ready(step, "task_issue")


def test_the_intake_drops_the_tasks_it_offered(parsed):
    start = engine.start(parsed, {})
    intake = ready(start, "task_intake")
    after = run(parsed, start, "task_intake")
    undone = engine.withdraw(parsed, json.dumps(after.state), intake)
    assert states(undone.step) == [("task_intake", "ready")]
    assert sorted(undone.dropped_task_ids) == sorted(t.task_id for t in after.tasks if t.state == "ready")


def test_past_a_fired_join_only_the_branch_that_fired_it_may_be_withdrawn(parsed, monkeypatch):
    monkeypatch.setattr(compaction, "MIN_PRUNE_DEPTH", 10_000)  # keep the whole tree: the join rule decides
    step = run(parsed, engine.start(parsed, {}), "task_intake")
    a, c = ready(step, "task_a"), ready(step, "task_c")
    step = run(parsed, step, "task_a", {"approved_a": True})
    step = run(parsed, step, "task_b")
    step = run(parsed, step, "task_c")  # the join fires from 审查C's branch
    issue = ready(step, "task_issue")
    refused(parsed, step, a, "汇合")
    undone = engine.withdraw(parsed, json.dumps(step.state), c)
    assert undone.dropped_task_ids == [issue] and ready(undone.step, "task_c") == c
    again = run(parsed, undone.step, "task_c")
    new_issue = ready(again, "task_issue")
    assert new_issue != issue
    done = run(parsed, again, "task_issue")
    refused(parsed, done, new_issue, "已办结")  # the case is completed


def test_a_later_completed_task_or_compacted_history_refuses(parsed, monkeypatch):
    monkeypatch.setattr(compaction, "MIN_PRUNE_DEPTH", 10_000)
    step = run(parsed, engine.start(parsed, {}), "task_intake")
    intake = next(t.task_id for t in step.tasks if t.element_id == "task_intake")
    step = run(parsed, step, "task_b")
    refused(parsed, step, intake, "后续环节“审查B”已办结")
    refused(parsed, step, ready(step, "task_a"), "尚未办结")
    monkeypatch.setattr(compaction, "MIN_PRUNE_DEPTH", 4)
    a = ready(step, "task_a")
    step = run(parsed, step, "task_a", {"approved_a": True})
    c = ready(step, "task_c")
    step = run(parsed, step, "task_c")  # the join fired; compaction keeps only 审查C's branch, done last
    refused(parsed, step, a, "汇合")  # the other branch is kept, and the join rule refuses it
    undone = engine.withdraw(parsed, json.dumps(step.state), c)  # the last completion stays withdrawable
    assert ready(undone.step, "task_c") == c


def test_in_a_long_serial_run_the_last_completion_stays_withdrawable_and_older_ones_are_archived():
    loop = engine.parse_process((DATA / "loop.bpmn").read_bytes())
    step, first = engine.start(loop, {"applicant": "张三"}), None
    for round_no in range(1, 9):
        task = next(t.task_id for t in step.tasks if t.state == "ready")
        first = first or task
        step = engine.complete(loop, json.dumps(step.state), task, {"again": True, "round": round_no})
    refused(loop, step, first, "已归档")  # eight rounds back: compacted away
    undone = engine.withdraw(loop, json.dumps(step.state), task)
    assert [t.task_id for t in undone.step.tasks if t.state == "ready"] == [task]
