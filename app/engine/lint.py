"""Diagram lint: the deploy rules plus the house style, over a file or a folder.

Deployment already refuses what cannot run (see loader.py). The lint adds what
makes a diagram maintainable and safe to change: every gateway with conditions
has a default flow, ids are English identifiers and names are Chinese, and the
diagram has interchange (it opens in bpmn-js as drawn).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lxml import etree

from .errors import BpmnInvalid, ValidationIssue
from .loader import NS, _safe_parse, parse_process

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NAMED = ("userTask", "serviceTask", "scriptTask", "receiveTask", "sendTask", "manualTask", "callActivity",
          "businessRuleTask", "subProcess", "lane")
_NODES = _NAMED + ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
                   "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "sequenceFlow")


def _style_issues(root: etree._Element) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    flows = {f.get("id"): f for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    for kind in ("exclusiveGateway", "inclusiveGateway"):
        for gateway in root.iterfind(f".//bpmn:{kind}", NS):
            outgoing = [f for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
            conditional = [f for f in outgoing if f.find("bpmn:conditionExpression", NS) is not None]
            if conditional and not gateway.get("default"):
                issues.append(ValidationIssue(gateway.get("id"), "带条件的网关必须设置默认流（default）"))
            if gateway.get("default") and gateway.get("default") not in {f.get("id") for f in outgoing}:
                issues.append(ValidationIssue(gateway.get("id"), f"默认流“{gateway.get('default')}”不是该网关的出口"))
    shapes = {s.get("bpmnElement") for s in root.iter(f"{{{BPMNDI_NS}}}BPMNShape")} | \
        {e.get("bpmnElement") for e in root.iter(f"{{{BPMNDI_NS}}}BPMNEdge")}
    for local in _NODES:
        for element in root.iterfind(f".//bpmn:{local}", NS):
            element_id = element.get("id") or ""
            if not _ID.match(element_id):
                issues.append(ValidationIssue(element_id, "元素 id 须为英文标识符（字母开头，字母、数字、下划线）"))
            if local in _NAMED and not _CJK.search(element.get("name") or ""):
                issues.append(ValidationIssue(element_id, "元素名称须为中文"))
            if element_id not in shapes:
                issues.append(ValidationIssue(element_id, "缺少图形信息（BPMN DI），在建模器中无法按原样显示"))
    return issues


def lint(xml: bytes, filename: str = "process.bpmn", *, is_department: Callable[[str], bool],
         form_exists: Callable[[str], bool], is_operator: Callable[[str], bool] = lambda name: True,
         libraries: Iterable[bytes] = ()) -> list[ValidationIssue]:
    """Every problem of one diagram (deploy rules first, then the house style); empty when clean."""
    issues: list[ValidationIssue] = []
    try:
        parse_process(xml, filename, is_department=is_department, form_exists=form_exists,
                      is_operator=is_operator, libraries=libraries)
    except BpmnInvalid as exc:
        issues.extend(exc.issues or [ValidationIssue("", exc.message)])
    try:
        issues.extend(_style_issues(_safe_parse(xml, filename)))
    except BpmnInvalid:
        pass  # already reported by the parse above
    return issues
