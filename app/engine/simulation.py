"""A workflow kept in memory for a test run (模拟运行): nothing is saved, every element passed is recorded.

Scenario runs (app/services/scenarios.py) drive one of these instead of
:mod:`.runner`: the same specs, script engine, sandbox and timer helpers, but no
serialization round trip and no history compaction, so the whole path a case
took (gateways, events, script and service tasks included) can be reported in
order. Service tasks are recorded as :class:`Effect` requests, as always; the
caller decides what to do with them (a test run only lists them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from .errors import EngineError, NotWaiting, TaskNotReady, UnknownTask
from .loader import ParsedProcess
from .runner import _all_tasks, _department, _guarded, _timer_due
from .scripts import make_script_engine
from .types import Effect, PendingTimer, TaskSnapshot

_KINDS = {"UserTask": "userTask", "ServiceTask": "serviceTask", "ScriptTask": "scriptTask",
          "ReceiveTask": "receiveTask", "CallActivity": "callActivity", "StartEvent": "startEvent",
          "EndEvent": "endEvent", "BoundaryEvent": "boundaryEvent", "ExclusiveGateway": "exclusiveGateway",
          "InclusiveGateway": "inclusiveGateway", "ParallelGateway": "parallelGateway",
          "IntermediateCatchEvent": "intermediateCatchEvent", "ManualTask": "manualTask",
          "SubWorkflowTask": "subProcess", "NoneTask": "task"}


@dataclass(frozen=True)
class PathStep:
    """One element the case passed, in the order it completed."""

    element_id: str
    name: str
    kind: str
    process_key: str  # the (called) process it belongs to
    task_id: str  # the instance (a user task's instances share the element id)


@dataclass
class View:
    """The workflow as it stands after a step (plain data)."""

    status: str  # running | completed | terminated
    tasks: list[TaskSnapshot]  # ready user tasks
    timers: list[PendingTimer]
    waiting_messages: list[str]
    end_event: str | None
    data: dict[str, Any]


def _kind(spec: Any) -> str:
    for cls in type(spec).__mro__:
        if cls.__name__ in _KINDS:
            return _KINDS[cls.__name__]
    return type(spec).__name__


class Simulation:
    def __init__(self, parsed: ParsedProcess):
        self.parsed = parsed
        self.workflow: BpmnWorkflow | None = None
        self.path: list[PathStep] = []
        self._effects_seen = 0
        self._recorded: set[UUID] = set()

    # -- recording ------------------------------------------------------------
    def _record(self, task: Any) -> None:
        spec = task.task_spec
        if task.id in self._recorded or not getattr(spec, "bpmn_id", None):
            return
        self._recorded.add(task.id)
        if isinstance(spec, LoopTask):
            return  # a multi-instance task is listed by its instances
        process = getattr(task.workflow.spec, "name", "") or ""
        self.path.append(PathStep(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, _kind(spec), process, str(task.id)))

    def _run_engine(self) -> None:
        self.workflow.do_engine_steps(did_complete_task=self._record)
        # a boundary event or a multi-instance parent completes without a callback: pick it up
        done = [t for t in _all_tasks(self.workflow)
                if t.state == TaskState.COMPLETED and t.id not in self._recorded and getattr(t.task_spec, "bpmn_id", None)]
        for task in sorted(done, key=lambda t: t.last_state_change):
            self._record(task)

    def new_effects(self) -> list[Effect]:
        effects = list(getattr(self.workflow.script_engine, "effects", []))
        fresh, self._effects_seen = effects[self._effects_seen:], len(effects)
        return fresh

    # -- steps ----------------------------------------------------------------
    def start(self, data: dict[str, Any]) -> View:
        def run() -> None:
            self.workflow = BpmnWorkflow(self.parsed.spec, self.parsed.subprocess_specs,
                                         script_engine=make_script_engine())
            first = self.workflow.get_next_task(state=TaskState.READY)
            if first is not None:
                first.data.update(data)
            self._run_engine()
        _guarded(run)
        return self.view()

    def complete(self, task_id: str, data: dict[str, Any]) -> View:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, SpiffWorkflowException):
            raise UnknownTask(task_id) from None
        if task is None or not task.task_spec.manual:
            raise UnknownTask(task_id)
        if task.state != TaskState.READY:
            raise TaskNotReady(task_id)

        def run() -> None:
            task.set_data(**data)
            task.run()
            self._record(task)
            self._run_engine()
        _guarded(run)
        return self.view()

    def deliver_message(self, name: str, payload: dict[str, Any]) -> View:
        waiting = [t for t in _all_tasks(self.workflow) if t.state == TaskState.WAITING and isinstance(
            getattr(t.task_spec, "event_definition", None), MessageEventDefinition)
            and t.task_spec.event_definition.name == name]
        if not waiting:
            raise NotWaiting(name)

        def run() -> None:
            self.workflow.catch(BpmnEvent(waiting[0].task_spec.event_definition, payload))
            self._run_engine()
        _guarded(run)
        return self.view()

    def fire_due_timers(self) -> View:
        def run() -> None:
            self.workflow.refresh_timers()
            self._run_engine()
        _guarded(run)
        return self.view()

    def move_timers(self, fire_at: dict[str, str]) -> View:
        """New fire times (ISO 8601 with offset) for waiting timers, e.g. after the clock was stopped."""
        for task_id, when in fire_at.items():
            task = self.workflow.get_task_from_id(UUID(task_id))
            value = task.internal_data.get("event_value")
            if isinstance(value, dict):
                value["next"] = when
            else:
                task.internal_data["event_value"] = when
        return self.view()

    # -- reading --------------------------------------------------------------
    def view(self) -> View:
        return _guarded(self._view)

    def _view(self) -> View:
        forms = {t.element_id: t.form_key for t in self.parsed.model.user_tasks}
        candidates = {t.element_id: t.candidate for t in self.parsed.model.user_tasks if t.candidate}
        tasks, timers, messages = [], [], set()
        end_event, terminated = None, False
        for task in _all_tasks(self.workflow):
            spec = task.task_spec
            definition = getattr(spec, "event_definition", None)
            if spec.manual and task.state == TaskState.READY:
                tasks.append(TaskSnapshot(
                    task_id=str(task.id), element_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id,
                    lane=spec.lane, form_key=forms.get(spec.bpmn_id), state="ready",
                    department=_department(candidates.get(spec.bpmn_id), task)))
            elif task.state == TaskState.WAITING and isinstance(definition, TimerEventDefinition):
                due = _timer_due(task)
                if due:
                    timers.append(PendingTimer(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, due))
            elif task.state == TaskState.WAITING and isinstance(definition, MessageEventDefinition):
                messages.add(definition.name)
            elif isinstance(spec, EndEvent) and task.state == TaskState.COMPLETED and task.workflow is self.workflow:
                end_event = spec.bpmn_id
                terminated = terminated or isinstance(definition, TerminateEventDefinition)
        completed = self.workflow.is_completed()
        if completed and end_event is None:
            raise EngineError("流程未到达结束事件即停止（可能是循环次数超过引擎上限），已阻止错误的办结")
        status = ("terminated" if terminated else "completed") if completed else "running"
        return View(status, tasks, timers, sorted(messages), end_event,
                    dict(self.workflow.data) if completed else {})
