"""Run workflows: start, complete a user task, fire due timers.

Every call takes the stored state (JSON text) and returns a :class:`StepResult`
with the new state and plain snapshots. Nothing here touches the database.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from . import sandbox, serializer
from .cache import workflows
from .compaction import compact
from .errors import EngineError, NotWaiting, TaskNotReady, UnknownTask
from .loader import ParsedProcess, candidate_expression
from .scripts import make_script_engine
from .types import PendingTimer, StepResult, TaskSnapshot

_STATE_NAMES = {
    TaskState.READY: "ready",
    TaskState.STARTED: "ready",
    TaskState.COMPLETED: "completed",
    TaskState.CANCELLED: "cancelled",
    TaskState.ERROR: "error",
}


def _all_tasks(workflow: BpmnWorkflow) -> Iterator[Any]:
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _engine_error(exc: Exception) -> EngineError:
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None)
    element_id = getattr(spec, "bpmn_id", "") or ""
    element_name = getattr(spec, "bpmn_name", "") or element_id
    root = exc
    while root is not None and not isinstance(root, sandbox.SandboxError):
        root = getattr(root, "exception", None) or root.__cause__ or root.__context__
    reason = root.args[0] if root is not None else str(exc)
    where = f"“{element_name}”（{element_id}）" if element_id else ""
    return EngineError(f"流程元素{where}执行失败：{reason}", element_id, element_name)


def _guarded(fn, *args):
    try:
        return fn(*args)
    except (WorkflowException, SpiffWorkflowException, sandbox.SandboxError) as exc:
        raise _engine_error(exc) from None


def _load(parsed: ParsedProcess, state_json: str, resume: Hashable | None) -> BpmnWorkflow:
    """The workflow of this stored state: the live object kept under ``resume`` when it is exactly
    this state, else restored from the text."""
    if resume is not None:
        workflow = workflows.take(resume, state_json, parsed)
        if workflow is not None:
            workflow.script_engine = make_script_engine()  # fresh effects list and helpers, as on a load
            return workflow
    return serializer.load(state_json, parsed)


def remember(result: StepResult, parsed: ParsedProcess, key: Hashable, state_json: str) -> None:
    """Keep the step's live workflow, saved as ``state_json``, for the next step that resumes ``key``.

    Call it only once the step is committed.
    """
    if result.resumable is not None and result.status == "running":
        workflows.put(key, state_json, parsed, result.resumable)


def configure_cache(capacity: int) -> None:
    """Empty the live-workflow cache and set how many cases it holds (0: off)."""
    workflows.clear(capacity)


def _timers_waiting(workflow: BpmnWorkflow) -> bool:
    return any(t.state == TaskState.WAITING and isinstance(
        getattr(t.task_spec, "event_definition", None), TimerEventDefinition) for t in _all_tasks(workflow))


def _timer_due(task: Any) -> str | None:
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # cycle timers keep {"next": iso, ...}
        value = value.get("next")
    return value if isinstance(value, str) else None


def _department(candidate: str | None, task: Any) -> str | None:
    """The department a task instance goes to when the diagram names one (camunda:candidateGroups)."""
    if not candidate:
        return None
    expression = candidate_expression(candidate)
    if expression is None:
        return candidate.strip()
    value = sandbox.evaluate(expression, task.data)
    if not isinstance(value, str) or not value.strip():
        raise sandbox.SandboxError(f"办理部门表达式的结果必须是部门名称或代码，得到 {value!r}")
    return value.strip()


def _snapshot(workflow: BpmnWorkflow, parsed: ParsedProcess, timers_before: bool = True) -> StepResult:
    forms = {t.element_id: t.form_key for t in parsed.model.user_tasks}
    candidates = {t.element_id: t.candidate for t in parsed.model.user_tasks if t.candidate}
    tasks: list[TaskSnapshot] = []
    timers: list[PendingTimer] = []
    messages: list[str] = []
    end_event = None
    terminated = False
    for task in _all_tasks(workflow):
        spec = task.task_spec
        if spec.manual and task.state in _STATE_NAMES:
            department = _department(candidates.get(spec.bpmn_id), task) if task.state == TaskState.READY else None
            tasks.append(TaskSnapshot(
                task_id=str(task.id), element_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id,
                lane=spec.lane, form_key=forms.get(spec.bpmn_id), state=_STATE_NAMES[task.state],
                department=department))
        elif task.state == TaskState.WAITING and isinstance(
                getattr(spec, "event_definition", None), TimerEventDefinition):
            due = _timer_due(task)
            if due:
                timers.append(PendingTimer(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, due))
        elif task.state == TaskState.WAITING and isinstance(
                getattr(spec, "event_definition", None), MessageEventDefinition):
            messages.append(spec.event_definition.name)
        elif (isinstance(spec, EndEvent) and task.state == TaskState.COMPLETED
              and task.workflow is workflow):
            end_event = spec.bpmn_id
            terminated = terminated or isinstance(spec.event_definition, TerminateEventDefinition)
    completed = workflow.is_completed()
    if not completed:
        compact(workflow)
    if completed and end_event is None:
        # SpiffWorkflow silently stops a loop at its recursion limit and then
        # reports completion; a real completion always passes an end event.
        raise EngineError("流程未到达结束事件即停止（可能是循环次数超过引擎上限），已阻止错误的办结")
    return StepResult(
        state=serializer.dump(workflow),
        status=("terminated" if terminated else "completed") if completed else "running",
        tasks=tasks, timers=timers,
        data=dict(workflow.data) if completed else {},
        end_event=end_event,
        effects=list(getattr(workflow.script_engine, "effects", [])),
        waiting_messages=sorted(set(messages)),
        timers_before=timers_before,
        resumable=None if completed else workflow,
    )


def start(parsed: ParsedProcess, data: dict[str, Any]) -> StepResult:
    """Create a workflow, seed it with case data, run to the first wait."""
    def run() -> BpmnWorkflow:
        workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=make_script_engine())
        first = workflow.get_next_task(state=TaskState.READY)
        if first is not None:
            first.data.update(data)
        workflow.do_engine_steps()
        return workflow
    workflow = _guarded(run)
    return _guarded(_snapshot, workflow, parsed, False)


def complete(parsed: ParsedProcess, state_json: str, task_id: str, data: dict[str, Any],
             resume: Hashable | None = None) -> StepResult:
    """Complete one ready user task with ``data`` and run on."""
    workflow = _load(parsed, state_json, resume)
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, SpiffWorkflowException):
        raise UnknownTask(task_id) from None
    if not task.task_spec.manual:
        raise UnknownTask(task_id)
    if task.state != TaskState.READY:
        raise TaskNotReady(task_id)

    timers_before = _timers_waiting(workflow)

    def run() -> None:
        task.set_data(**data)
        task.run()
        workflow.do_engine_steps()
    _guarded(run)
    return _guarded(_snapshot, workflow, parsed, timers_before)


def fire_due_timers(parsed: ParsedProcess, state_json: str, resume: Hashable | None = None) -> StepResult:
    """Let every timer whose time has come fire, and run on."""
    workflow = _load(parsed, state_json, resume)

    def run() -> None:
        workflow.refresh_timers()
        workflow.do_engine_steps()
    _guarded(run)
    return _guarded(_snapshot, workflow, parsed)


def move_timers(parsed: ParsedProcess, state_json: str, fire_at: dict[str, str],
                resume: Hashable | None = None) -> StepResult:
    """Set new fire times (ISO 8601 with offset) on waiting timers, e.g. after a clock suspension."""
    workflow = _load(parsed, state_json, resume)
    for task_id, when in fire_at.items():
        task = workflow.get_task_from_id(UUID(task_id))
        value = task.internal_data.get("event_value")
        if isinstance(value, dict):  # cycle timer
            value["next"] = when
        else:
            task.internal_data["event_value"] = when
    return _guarded(_snapshot, workflow, parsed)


def deliver_message(parsed: ParsedProcess, state_json: str, name: str, payload: dict[str, Any],
                    resume: Hashable | None = None) -> StepResult:
    """Hand a message (e.g. 补齐材料 from the applicant) to the case's waiting catch event."""
    workflow = _load(parsed, state_json, resume)
    waiting = [t for t in _all_tasks(workflow) if t.state == TaskState.WAITING and isinstance(
        getattr(t.task_spec, "event_definition", None), MessageEventDefinition)
        and t.task_spec.event_definition.name == name]
    if not waiting:
        raise NotWaiting(name)

    def run() -> None:
        workflow.catch(BpmnEvent(waiting[0].task_spec.event_definition, payload))
        workflow.do_engine_steps()
    _guarded(run)
    return _guarded(_snapshot, workflow, parsed)
