"""Builds small BPMN files for tests (no diagram interchange needed by the engine)."""
from __future__ import annotations

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://binglian.test">')


def fan_out(process_id: str, departments: list[str], window: str = "综合窗口") -> str:
    """start -> intake (window) -> N parallel tasks (one per department) -> join -> issue -> end."""
    n = len(departments)
    lanes = [f'<bpmn:lane id="lane_w" name="{window}"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>'
             '<bpmn:flowNodeRef>intake</bpmn:flowNodeRef><bpmn:flowNodeRef>split</bpmn:flowNodeRef>'
             '<bpmn:flowNodeRef>join</bpmn:flowNodeRef><bpmn:flowNodeRef>issue</bpmn:flowNodeRef>'
             '<bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane>']
    lanes += [f'<bpmn:lane id="lane_{i}" name="{d}"><bpmn:flowNodeRef>t{i}</bpmn:flowNodeRef></bpmn:lane>'
              for i, d in enumerate(departments)]
    nodes = ['<bpmn:startEvent id="start"/>', '<bpmn:userTask id="intake" name="受理"/>',
             '<bpmn:parallelGateway id="split"/>', '<bpmn:parallelGateway id="join"/>',
             '<bpmn:userTask id="issue" name="出件"/>', '<bpmn:endEvent id="end"/>',
             '<bpmn:sequenceFlow id="s0" sourceRef="start" targetRef="intake"/>',
             '<bpmn:sequenceFlow id="s1" sourceRef="intake" targetRef="split"/>',
             '<bpmn:sequenceFlow id="s2" sourceRef="join" targetRef="issue"/>',
             '<bpmn:sequenceFlow id="s3" sourceRef="issue" targetRef="end"/>']
    for i in range(n):
        nodes += [f'<bpmn:userTask id="t{i}" name="并联事项{i + 1}"/>',
                  f'<bpmn:sequenceFlow id="a{i}" sourceRef="split" targetRef="t{i}"/>',
                  f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="join"/>']
    return (HEAD + f'<bpmn:process id="{process_id}" name="并联{n}项" isExecutable="true">'
            f'<bpmn:laneSet id="ls">{"".join(lanes)}</bpmn:laneSet>{"".join(nodes)}'
            '</bpmn:process></bpmn:definitions>')


SIX_DEPARTMENTS = ["市场监管局", "公安局", "税务局", "人社局", "公积金中心", "银行"]
