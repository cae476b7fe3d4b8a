"""The case page's process diagram: the deployed BPMN of the case's version and where the case stands.

Element states come from what the database already records, not from the engine:

- user tasks from the case's task rows: completed → ``done``, ready → ``active``,
  ready and past its deadline → ``overdue`` (also active);
- service tasks from their audit events (``effect.*``, the object is the element id) → done;
  fired boundary timers (``timer.fired``) → done; the start event, and the end event reached;
- receive tasks: the one entered last (after its preceding service task ran) is active while
  the case waits for its message, and done once the message came.

A service whose diagram calls other processes (工程建设项目审批 calls its four stages) shows its
own diagram: a called process's tasks mark the call activity that runs it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, Case, ProcessDefinition
from . import cases

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@dataclass(frozen=True)
class _Shape:
    """What the markers need from a diagram, read once per deployed version."""

    ids: frozenset[str]
    starts: tuple[str, ...]
    calls: dict[str, str]  # called process key -> call activity id
    receives: dict[str, str]  # receive task id -> message name
    before: dict[str, tuple[str, ...]] = field(default_factory=dict)  # element id -> its direct predecessors


_shapes: dict[str, _Shape] = {}
_lock = threading.Lock()


def _parse(xml: str) -> _Shape:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(xml.encode("utf-8"), parser)
    process = root.find(f"{BPMN}process")
    if process is None:
        return _Shape(frozenset(), (), {}, {})
    messages = {m.get("id"): m.get("name") for m in root.iter(f"{BPMN}message")}
    ids, starts, calls, receives, before = set(), [], {}, {}, {}
    for element in process.iter(f"{BPMN}*"):
        name, element_id = etree.QName(element).localname, element.get("id")
        if not element_id:
            continue
        ids.add(element_id)
        if name == "startEvent" and element.getparent() is process:
            starts.append(element_id)
        elif name == "callActivity" and element.get("calledElement"):
            calls[element.get("calledElement")] = element_id
        elif name == "receiveTask" and element.get("messageRef") in messages:
            receives[element_id] = messages[element.get("messageRef")]
        elif name == "sequenceFlow":
            target, source = element.get("targetRef"), element.get("sourceRef")
            before[target] = before.get(target, ()) + (source,)
    return _Shape(frozenset(ids), tuple(starts), calls, receives, before)


def _shape(definition: ProcessDefinition) -> _Shape:
    found = _shapes.get(definition.sha256)
    if found is None:
        found = _parse(definition.bpmn_xml)
        with _lock:
            _shapes[definition.sha256] = found
    return found


def _task_places(shape: _Shape, model: dict[str, Any]):
    """element id of a task row -> the element of this diagram that shows it (or None)."""
    owner = {t["element_id"]: t.get("process_key") for t in model.get("user_tasks", [])}

    def place(element_id: str) -> str | None:
        if element_id in shape.ids:
            return element_id
        return shape.calls.get(owner.get(element_id) or "")
    return place


def _events(session: Session, case_id: int) -> list[tuple[str, str | None, Any]]:
    """(action, object id, after) of the events that move the diagram, oldest first."""
    query = (select(AuditEvent.action, AuditEvent.object_id, AuditEvent.after)
             .where(AuditEvent.case_id == case_id,
                    or_(AuditEvent.action.startswith("effect."),
                        AuditEvent.action.in_(("timer.fired", "message.received"))))
             .order_by(AuditEvent.id))
    return [tuple(row) for row in session.execute(query).all()]


def _from_events(shape: _Shape, events: list[tuple[str, str | None, Any]]) -> tuple[set[str], dict[str, int]]:
    """Elements done by service tasks, timers and messages; when each service task last ran."""
    done: set[str] = set()
    last_run: dict[str, int] = {}
    for index, (action, object_id, after) in enumerate(events):
        if action == "timer.fired":
            element_id = (after or {}).get("element_id") if isinstance(after, dict) else None
        elif action == "message.received":
            element_id = _latest_entered(shape, object_id, last_run)
        else:
            element_id = object_id
            if element_id:
                last_run[element_id] = index
        if element_id in shape.ids:
            done.add(element_id)
    return done, last_run


def _latest_entered(shape: _Shape, message: str | None, last_run: dict[str, int]) -> str | None:
    """The receive task for ``message`` whose predecessor ran last (it is the one waiting)."""
    best, best_at = None, -1
    for receive, name in shape.receives.items():
        if name != message:
            continue
        runs = [last_run[p] for p in shape.before.get(receive, ()) if p in last_run]
        if runs and max(runs) > best_at:
            best, best_at = receive, max(runs)
    return best


def case_diagram(session: Session, case: Case, now: datetime) -> dict[str, Any]:
    """{"xml", "done", "active", "overdue"}: the diagram of the case's version and its element states."""
    definition = session.get(ProcessDefinition, case.process_definition_id)
    shape = _shape(definition)
    place = _task_places(shape, definition.model or {})
    clock_now = case.suspended_at or now  # a suspended case's tasks do not fall overdue
    done, active, overdue = set(shape.starts), set(), set()
    for task in cases.case_tasks(session, case.id):
        element_id = place(task.element_id)
        if element_id is None:
            continue
        if task.state == "ready":
            active.add(element_id)
            if task.due_at is not None and task.due_at < clock_now:
                overdue.add(element_id)
        elif task.state == "completed":
            done.add(element_id)
    from_events, last_run = _from_events(shape, _events(session, case.id))
    done |= from_events
    for message in case.waiting_messages or []:
        waiting = _latest_entered(shape, message, last_run)
        if waiting:
            active.add(waiting)
    if case.end_event in shape.ids:
        done.add(case.end_event)
    return {"xml": definition.bpmn_xml, "done": sorted(done - active), "active": sorted(active),
            "overdue": sorted(overdue)}
