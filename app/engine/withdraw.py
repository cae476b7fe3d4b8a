"""撤回: take back the completion of a user task while what it started has not begun.

The engine part only: find the completed task in the stored tree, decide whether
everything below it can still be undone, and if so reset the branch so the task
is ready again (SpiffWorkflow's ``reset_from_task_id``). Nothing is run after the
reset, so no service task fires and no effect is produced.

Refused, with a Chinese reason (:class:`WithdrawRefused`), when:

- the task is no longer in the tree, or is its root (:mod:`.compaction` keeps only the
  history below the deepest finished ancestor of the open tasks, so a step in series is
  usually gone once the next one is offered; parallel branches keep theirs);
- a user task after it was completed;
- a service task or a throwing event after it ran (notices, certificates, messages are
  out in the world and cannot be taken back);
- a sub-process after it started;
- a join it fed has fired from another branch (the case has moved past the join).

The user tasks the reset drops (the ones the completion offered) are returned, so
that the app can check that nobody has touched them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import serializer
from .loader import ParsedProcess
from .runner import _guarded, _snapshot  # the runner's snapshot of a step, reused as is
from .types import StepResult


class WithdrawRefused(Exception):
    """The completion cannot be taken back; ``message`` says why, in Chinese."""

    def __init__(self, message: str, element_id: str = ""):
        super().__init__(message)
        self.message = message
        self.element_id = element_id


@dataclass
class WithdrawResult:
    step: StepResult
    dropped_task_ids: list[str] = field(default_factory=list)  # user tasks the completion had offered


def _name(task: Any) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name


def _find(workflow: Any, task_id: str) -> Any:
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (ValueError, SpiffWorkflowException, KeyError):
        return None


def _moved_past_join(workflow: Any, mine: Any, task: Any) -> bool:
    """A join instance below my task was set aside for a later branch's: has that one fired?"""
    for other in workflow.tasks.values():
        if other.task_spec is not task.task_spec or other is task or other.is_descendant_of(mine):
            continue
        if mine.is_descendant_of(other):
            continue  # an earlier round of a loop
        if other.has_state(TaskState.READY | TaskState.STARTED | TaskState.COMPLETED):
            return True
    return False


def _check_descendant(workflow: Any, mine: Any, task: Any, dropped: list[str]) -> None:
    spec = task.task_spec
    if task.id in workflow.subprocesses:
        raise WithdrawRefused(f"后续子流程“{_name(task)}”已启动，不能撤回", spec.bpmn_id or "")
    if spec.manual:
        if task.has_state(TaskState.COMPLETED):
            raise WithdrawRefused(f"后续环节“{_name(task)}”已办结，不能撤回", spec.bpmn_id or "")
        if task.has_state(TaskState.READY | TaskState.STARTED):
            dropped.append(str(task.id))
        return
    if task.has_state(TaskState.COMPLETED) and isinstance(spec, ServiceTask):
        raise WithdrawRefused(f"后续环节“{_name(task)}”已自动执行（已出具文书、生成证照或写入记录），不能撤回",
                              spec.bpmn_id or "")
    if task.has_state(TaskState.COMPLETED) and isinstance(spec, ThrowingEvent) and spec.bpmn_id:
        raise WithdrawRefused(f"流程已到达“{_name(task)}”，不能撤回", spec.bpmn_id)
    if isinstance(spec, UnstructuredJoin) and task.has_state(TaskState.CANCELLED) \
            and _moved_past_join(workflow, mine, task):
        raise WithdrawRefused(f"并联环节已在“{_name(task)}”汇合，后续环节已开始，不能撤回", spec.bpmn_id or "")


def _timer_values(task: Any) -> dict[str, Any]:
    """Fire times of the boundary timers on the task itself: kept as they were, the clock runs on."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return {}
    return {child.task_spec.name: child.internal_data["event_value"] for child in parent.children
            if child is not task and "event_value" in child.internal_data}


def _restore_timers(task: Any, values: dict[str, Any]) -> None:
    if not values:
        return
    for child in task.parent.children:
        if child.task_spec.name in values and child.has_state(TaskState.WAITING):
            child.internal_data["event_value"] = values[child.task_spec.name]


def _reset(workflow: Any, task: Any) -> None:
    timers = _timer_values(task)
    workflow.reset_from_task_id(task.id)
    _restore_timers(task, timers)


def withdraw(parsed: ParsedProcess, state_json: str, task_id: str) -> WithdrawResult:
    """Reset the completed user task ``task_id`` to ready, or raise :class:`WithdrawRefused`."""
    workflow = serializer.load(state_json, parsed)
    task = _find(workflow, task_id)
    if task is None or task.parent is None:  # pruned, or the root of the compacted tree (its inputs are gone)
        raise WithdrawRefused("流程已越过该环节（其办理记录已归档），不能撤回")
    if not task.task_spec.manual or not task.has_state(TaskState.COMPLETED):
        raise WithdrawRefused("该环节尚未办结，无需撤回", task.task_spec.bpmn_id or "")
    if workflow.is_completed():
        raise WithdrawRefused("办件已办结，不能撤回")
    dropped: list[str] = []
    for below in task:
        if below is not task:
            _check_descendant(workflow, task, below, dropped)
    _guarded(_reset, workflow, task)
    if not task.has_state(TaskState.READY):
        raise WithdrawRefused("该环节无法恢复为待办，不能撤回", task.task_spec.bpmn_id or "")
    return WithdrawResult(step=_guarded(_snapshot, workflow, parsed), dropped_task_ids=dropped)
