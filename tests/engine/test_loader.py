"""Deployment validation: hostile XML, BPMN errors and our own rules, each naming elements."""
import pytest

from app import engine

from ..conftest import DATA

GOOD = (DATA / "parallel_demo.bpmn").read_text().replace("SCRIPT_PLACEHOLDER", "x = 1") \
    .replace("CONDITION_PLACEHOLDER", "x == 1")
DEPTS = {"综合窗口", "市场监管局", "税务局", "公安局"}


def parse(xml: str | bytes, **kw):
    data = xml.encode() if isinstance(xml, str) else xml
    return engine.parse_process(data, "t.bpmn", is_department=DEPTS.__contains__, **kw)


def test_good_diagram_is_described():
    parsed = parse(GOOD)
    assert parsed.model.process_key == "parallel_demo"
    assert {t.element_id: t.lane for t in parsed.model.user_tasks}["task_b"] == "税务局"


XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p" name="&x;"/></bpmn:definitions>"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>"""


@pytest.mark.parametrize("xml", [XXE, LAUGHS])
def test_doctype_and_entities_are_refused_without_leaking(xml):
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(xml)
    assert "DOCTYPE" in refused.value.message
    assert "root:" not in str(refused.value.__dict__)


@pytest.mark.parametrize("payload", [b"\x89PNG\r\n\x1a\n\x00\x00", b"not xml at all", b"<a><b></a>"])
def test_non_xml_is_refused(payload):
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(payload)
    assert refused.value.status == 422


def test_oversize_is_refused_with_413():
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(GOOD.encode() + b" " * (2 * 1024 * 1024))
    assert refused.value.status == 413


def test_too_deep_is_refused():
    deep = "<a>" * 100 + "</a>" * 100
    xml = f'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:documentation>{deep}</bpmn:documentation></bpmn:definitions>'
    with pytest.raises(engine.BpmnInvalid):
        parse(xml)


def test_unknown_department_lane_is_named():
    xml = GOOD.replace('name="税务局"', 'name="不存在的局"')
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(xml)
    ids = {i.element_id for i in refused.value.issues}
    assert "lane_tax" in ids


def test_user_task_outside_lanes_is_named():
    xml = GOOD.replace("<bpmn:flowNodeRef>task_b</bpmn:flowNodeRef>", "")
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(xml)
    assert [i.element_id for i in refused.value.issues] == ["task_b"]


def test_missing_form_is_named():
    xml = GOOD.replace('<bpmn:userTask id="task_a" name="审查A"/>',
                       '<bpmn:userTask id="task_a" name="审查A" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:formKey="nope"/>')
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(xml, form_exists=lambda key: False)
    assert [i.element_id for i in refused.value.issues] == ["task_a"]


def test_schema_violation_names_the_element():
    xml = GOOD.replace('<bpmn:userTask id="task_c" name="审查C"/>',
                       '<bpmn:userTask id="task_c" name="审查C"><bpmn:bogus/></bpmn:userTask>')
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(xml)
    assert refused.value.issues[0].element_id == "task_c"


def test_broken_expression_names_the_flow():
    with pytest.raises(engine.BpmnInvalid) as refused:
        parse(GOOD.replace("x == 1", "x ==== 1"))
    assert [i.element_id for i in refused.value.issues] == ["f11"]
