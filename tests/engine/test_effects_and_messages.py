"""Service tasks become plain effect requests; messages reach a waiting receive task; dead ends are refused."""
import json

import pytest

from app import engine

from ..conftest import DATA

XML = (DATA / "message_race.bpmn").read_bytes()
LATER, EARLIER = "2099-01-01T00:00:00+08:00", "2000-01-01T00:00:00+08:00"


def test_a_service_task_is_recorded_as_an_effect_with_evaluated_parameters():
    parsed = engine.parse_process(XML)
    result = engine.start(parsed, {"items": ["章程未签字", "住所证明缺失"], "fire_at": LATER})
    assert result.effects == [engine.Effect("notice", "svc", "出具通知",
                                            {"kind": "correction", "items": ["章程未签字", "住所证明缺失"]})]
    assert result.waiting_messages == ["materials_supplied"] and len(result.timers) == 1


def test_a_message_reaches_the_waiting_task_once_and_cancels_its_timer():
    parsed = engine.parse_process(XML)
    started = engine.start(parsed, {"items": [], "fire_at": LATER})
    got = engine.deliver_message(parsed, json.dumps(started.state), "materials_supplied", {"codes": ["M004"]})
    assert got.waiting_messages == [] and got.timers == [] and got.effects == []
    assert [(t.element_id, t.state) for t in got.tasks] == [("ut", "ready")]
    with pytest.raises(engine.NotWaiting):
        engine.deliver_message(parsed, json.dumps(got.state), "materials_supplied", {})
    with pytest.raises(engine.NotWaiting):
        engine.deliver_message(parsed, json.dumps(started.state), "no_such_message", {})


def test_when_the_deadline_passes_first_the_case_terminates():
    parsed = engine.parse_process(XML)
    result = engine.start(parsed, {"items": [], "fire_at": EARLIER})
    assert result.status == "terminated" and result.waiting_messages == []


def test_deploy_refuses_unknown_operators_bad_parameters_and_dead_ends():
    with pytest.raises(engine.BpmnInvalid) as caught:
        engine.parse_process(XML, is_operator=lambda name: name == "credit_record")
    assert [i.element_id for i in caught.value.issues] == ["svc"]
    bad = XML.replace(b'value="items"', b'value="__import__(\'os\')"')
    with pytest.raises(engine.BpmnInvalid) as caught:
        engine.parse_process(bad)
    assert "参数 items" in caught.value.issues[0].message
    dead = XML.replace(b'<bpmn:sequenceFlow id="f4" sourceRef="ut" targetRef="end"/>', b"")
    with pytest.raises(engine.BpmnInvalid) as caught:
        engine.parse_process(dead.replace(b'<bpmn:endEvent id="end"/>', b""))
    assert any(i.element_id == "ut" and "出口" in i.message for i in caught.value.issues)
