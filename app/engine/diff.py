"""What a diagram holds, element by element, and what changed between two versions.

Works on the XML alone (lxml, the same hardened parse as deployment), so it also
reads drafts that do not deploy. Each element is summarised by the properties
an analyst edits: name, lane (the department), form, timer, condition,
multi-instance settings, the flow's ends, the called process and the script.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .loader import BPMN_NS, CANDIDATE_GROUPS, FORM_KEY, SPIFF_NS, _safe_parse

# what is compared, in the order a change lists them
FIELDS = ("name", "lane", "form_key", "candidate", "timer", "condition", "default", "multi_instance",
          "source", "target", "attached_to", "called_element", "script", "operator")
_SKIPPED = {"laneSet", "lane", "flowNodeRef", "incoming", "outgoing", "documentation", "extensionElements",
            "property", "dataObject", "dataObjectReference", "textAnnotation", "association"}
_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")


@dataclass(frozen=True)
class ElementSummary:
    """One flow element of a diagram, as an analyst sees it."""

    element_id: str
    kind: str  # BPMN local name: userTask, sequenceFlow, boundaryEvent, ...
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.props.get("name") or ""


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    kind: str
    name: str
    change: str  # added | removed | changed
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, before, after) for a changed element


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    return (element.text or "").strip() or None


def _find(element: etree._Element, local: str) -> etree._Element | None:
    return element.find(f"{{{BPMN_NS}}}{local}")


def _timer(element: etree._Element) -> dict[str, str] | None:
    definition = _find(element, "timerEventDefinition")
    if definition is None:
        return None
    for kind in _TIMER_KINDS:
        value = _text(_find(definition, kind))
        if value is not None:
            return {"kind": kind, "expression": value}
    return {"kind": "", "expression": ""}


def _multi_instance(element: etree._Element) -> dict[str, Any] | None:
    loop = _find(element, "multiInstanceLoopCharacteristics")
    if loop is None:
        return None
    item = _find(loop, "inputDataItem")
    output_item = _find(loop, "outputDataItem")
    found = {
        "sequential": loop.get("isSequential", "false") == "true",
        "collection": _text(_find(loop, "loopDataInputRef")),
        "element_variable": item.get("name") or item.get("id") if item is not None else None,
        "output_collection": _text(_find(loop, "loopDataOutputRef")),
        "output_element": output_item.get("name") or output_item.get("id") if output_item is not None else None,
        "cardinality": _text(_find(loop, "loopCardinality")),
        "completion_condition": _text(_find(loop, "completionCondition")),
    }
    return {k: v for k, v in found.items() if v not in (None, "")}


def _operator(element: etree._Element) -> str | None:
    operator = element.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator")
    return operator.get("id") if operator is not None else None


def _summary(element: etree._Element, lane_of: dict[str, str]) -> ElementSummary:
    kind = _local(element)
    element_id = element.get("id") or ""
    props: dict[str, Any] = {
        "name": (element.get("name") or "").strip() or None,
        "lane": lane_of.get(element_id),
        "form_key": element.get(FORM_KEY),
        "candidate": element.get(CANDIDATE_GROUPS),
        "timer": _timer(element),
        "condition": _text(_find(element, "conditionExpression")),
        "default": element.get("default"),
        "multi_instance": _multi_instance(element),
        "source": element.get("sourceRef") if kind == "sequenceFlow" else None,
        "target": element.get("targetRef") if kind == "sequenceFlow" else None,
        "attached_to": element.get("attachedToRef"),
        "called_element": element.get("calledElement"),
        "script": _text(_find(element, "script")),
        "operator": _operator(element),
    }
    return ElementSummary(element_id, kind, {k: v for k, v in props.items() if v is not None})


def _lanes(process: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef"):
            found[(ref.text or "").strip()] = (lane.get("name") or "").strip()
    return found


def summarize(xml: bytes, filename: str = "process.bpmn") -> dict[str, ElementSummary]:
    """Every flow element of every process in the file (and its lanes), by id; raises BpmnInvalid."""
    root = _safe_parse(xml, filename)
    found: dict[str, ElementSummary] = {}
    for process in root.iterfind(f"{{{BPMN_NS}}}process"):
        lane_of = _lanes(process)
        for lane in process.iter(f"{{{BPMN_NS}}}lane"):
            found[lane.get("id") or ""] = ElementSummary(lane.get("id") or "", "lane",
                                                         {"name": (lane.get("name") or "").strip() or None})
        stack = list(process)
        while stack:
            element = stack.pop(0)
            kind = _local(element)
            if not kind or kind in _SKIPPED or not element.get("id"):
                continue
            found[element.get("id")] = _summary(element, lane_of)
            if kind == "subProcess":
                stack.extend(element)
    return found


def process_ids(xml: bytes) -> list[str]:
    """The ids of the processes in the file; raises BpmnInvalid."""
    return [p.get("id") or "" for p in _safe_parse(xml, "process.bpmn").iterfind(f"{{{BPMN_NS}}}process")]


def diff(old_xml: bytes, new_xml: bytes) -> list[ElementChange]:
    """Added, removed and changed elements from ``old_xml`` to ``new_xml`` (ordered by kind of change, id)."""
    old, new = summarize(old_xml, "old.bpmn"), summarize(new_xml, "new.bpmn")
    changes: list[ElementChange] = []
    for element_id in sorted(new.keys() - old.keys()):
        element = new[element_id]
        changes.append(ElementChange(element_id, element.kind, element.name, "added"))
    for element_id in sorted(old.keys() - new.keys()):
        element = old[element_id]
        changes.append(ElementChange(element_id, element.kind, element.name, "removed"))
    for element_id in sorted(old.keys() & new.keys()):
        before, after = old[element_id], new[element_id]
        fields = [("kind", before.kind, after.kind)] if before.kind != after.kind else []
        fields += [(name, before.props.get(name), after.props.get(name)) for name in FIELDS
                   if before.props.get(name) != after.props.get(name)]
        if fields:
            changes.append(ElementChange(element_id, after.kind, after.name or before.name, "changed",
                                         tuple(fields)))
    return changes
