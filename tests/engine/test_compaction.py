"""Completed history is kept out of the workflow state: a 1000-round 补正 loop works and stays small."""
import json
from datetime import datetime, timedelta, timezone

from app import engine

from ..conftest import DATA
from ..bpmn_factory import SIX_DEPARTMENTS, fan_out


def _ready(result):
    return [t for t in result.tasks if t.state == "ready"]


def test_a_thousand_round_correction_loop_completes_with_bounded_state():
    parsed = engine.parse_process((DATA / "loop.bpmn").read_bytes())
    result = engine.start(parsed, {"applicant": "张三"})
    state = json.dumps(result.state)
    sizes = {}
    for round_no in range(1, 1001):
        task = _ready(result)[0]
        result = engine.complete(parsed, state, task.task_id, {"again": True, "round": round_no})
        state = json.dumps(result.state)
        sizes[round_no] = len(state)
    assert sizes[1000] <= sizes[10] * 1.2  # no growth with history
    result = engine.complete(parsed, state, _ready(result)[0].task_id, {"again": False})
    assert result.status == "completed" and result.end_event == "end"
    assert result.data == {"applicant": "张三", "again": False, "round": 1000}


import pytest

from app.engine import compaction

ROOT = DATA.parent.parent


@pytest.fixture
def prune_always(monkeypatch):
    monkeypatch.setattr(compaction, "MIN_PRUNE_DEPTH", 1)


def test_parallel_joins_still_work_when_pruning_at_every_step(prune_always):
    parsed = engine.parse_process(fan_out("six", SIX_DEPARTMENTS).encode())
    result = engine.start(parsed, {})
    state = json.dumps(result.state)
    while _ready(result):
        task = _ready(result)[0]
        result = engine.complete(parsed, state, task.task_id, {f"k_{task.element_id}": 1})
        state = json.dumps(result.state)
    assert result.status == "completed"
    assert sorted(result.data) == sorted(f"k_{e}" for e in ["intake", *[f"t{i}" for i in range(6)], "issue"])


@pytest.mark.parametrize("housing_fund", [True, False])
def test_business_startup_runs_the_same_when_pruning_at_every_step(prune_always, housing_fund):
    parsed = engine.parse_process((ROOT / "processes" / "business_startup.bpmn").read_bytes())
    flags = dict(need_seal=True, need_bank_account=True, need_tax_ukey=True, need_social_insurance=True,
                 need_housing_fund=housing_fund)
    data = {"task_intake": {"intake_result": "accept"}, "task_register": {"register_result": "approve", "credit_code": "91410600MA9XXXXX1Y"},
            "task_issue": {"delivery_method": "window", "tracking_no": ""}}
    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    # the calendar is not under test here: any deadline function will do
    with engine.run_context(now, lambda start, amount, unit: start + timedelta(days=amount)):
        result = engine.start(parsed, {**flags, "company_name": "示例公司"})
        state, done = json.dumps(result.state), []
        while _ready(result):
            task = _ready(result)[-1]  # work the newest task first, to interleave the branches
            result = engine.complete(parsed, state, task.task_id, data.get(task.element_id, {}))
            state = json.dumps(result.state)
            done.append(task.element_id)
    assert result.status == "completed"
    assert done.index("task_seal") < done.index("task_bank")
    assert ("task_housing_fund" in done) is housing_fund and len(done) == 7 + housing_fund


def test_a_correction_loop_back_to_intake_survives_pruning_at_every_step(prune_always):
    # the new root of a pruned tree must be finished: a task that runs again reads its parent's data
    parsed = engine.parse_process((ROOT / "processes" / "business_startup.bpmn").read_bytes())
    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    with engine.run_context(now, lambda start, amount, unit: start + timedelta(days=amount)):
        result = engine.start(parsed, {"company_name": "示例公司", "need_seal": False, "need_bank_account": False,
                                       "need_tax_ukey": False, "need_social_insurance": False, "need_housing_fund": False})
        for _ in range(3):
            intake = _ready(result)[0]
            result = engine.complete(parsed, json.dumps(result.state), intake.task_id,
                                     {"intake_result": "correct", "correction_items": "章程未签字"})
            assert result.waiting_messages == ["materials_supplied"]
            result = engine.deliver_message(parsed, json.dumps(result.state), "materials_supplied", {"materials": []})
        intake = _ready(result)[0]
        assert intake.element_id == "task_intake"
        result = engine.complete(parsed, json.dumps(result.state), intake.task_id, {"intake_result": "accept"})
        assert [t.element_id for t in _ready(result)] == ["task_register"]
