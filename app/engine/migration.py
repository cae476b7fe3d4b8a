"""Move a running workflow from one deployed version of its process to another.

The rule (issue 8, 迁移): a case moves when every active element (a ready user
task, a waiting timer, message or join, a running call activity) has an element
with the same id, and of the same kind, in the new version. Otherwise it stays
where it is and the reasons are listed.

How a workflow moves (following SpiffWorkflow's ``bpmn.util.diff``): every task
is bound to its counterpart in the new spec (same id first, then SpiffWorkflow's
structural alignment for finished steps that were replaced), the predictions of
the active tasks are thrown away and made again from the new diagram, and the
result is saved and loaded back against the new spec before anything is
returned, so a state that would not load is never handed out.

What is kept on purpose:
* task ids: task rows, timer rows, claims and comments keep pointing at the same
  things;
* each active task's data and internal data (SpiffWorkflow's own reset would
  copy the parent's data and clear the rest, which loses a 会签 instance's
  department and the item it works on, so the countersign never completes);
* a waiting timer's fire time, also when the new version changed the timer (a
  note says so; the new definition applies to timers started after the move).

A finished step that the new version dropped without a replacement is cut out
of the task tree, unless a join still counts it (then the case cannot move); at
the root of a compacted history it becomes the new version's plain start.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from . import runner, sandbox, serializer
from .context import current_now
from .errors import EngineError
from .loader import ParsedProcess, connect_loops
from .types import StepResult

_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)  # only to compare specs
_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_RESET = TaskState.READY | TaskState.WAITING


@dataclass(frozen=True)
class ActiveElement:
    element_id: str
    name: str
    kind: str  # user_task | timer | message | gateway | call | other


@dataclass
class MigrationCheck:
    """What moving one workflow would do: whether it can, why not, and what changes."""

    movable: bool
    active: list[ActiveElement] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: StepResult | None = None  # the moved state (when movable)


def _label(spec: Any) -> str:
    element_id = getattr(spec, "bpmn_id", None) or spec.name
    name = getattr(spec, "bpmn_name", None)
    return f"“{name}”（{element_id}）" if name and name != element_id else f" {element_id} "


def _kind(spec: Any) -> str:
    if getattr(spec, "manual", False):
        return "user_task"
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return "timer"
    if definition is not None and type(definition).__name__.startswith("Message"):
        return "message"
    if isinstance(spec, Join):
        return "gateway"
    if hasattr(spec, "spec") and isinstance(getattr(spec, "spec"), str):
        return "call"
    return "other"


def _overdue(task: Any) -> bool:
    due = runner._timer_due(task)
    try:
        return due is not None and datetime.fromisoformat(due) <= current_now()
    except ValueError:
        return False


@lru_cache(maxsize=64)
def _spec_diff(old_spec: Any, new_spec: Any) -> SpecDiff:
    """How two specs line up; the same for every case of one version pair (parsed specs are kept
    for the life of the process and compare by identity), so it is worked out once."""
    return SpecDiff(_registry, old_spec, new_spec)


class _Plan:
    """The new spec for one (sub)workflow, and how its old task specs line up with it."""

    def __init__(self, workflow: Any, new_spec: Any):
        self.workflow = workflow
        self.new_spec = new_spec
        self.diff = _spec_diff(workflow.spec, new_spec)

    def by_id(self, spec: Any) -> Any:
        return self.new_spec.task_specs.get(spec.name)

    def counterpart(self, spec: Any) -> Any:
        return self.by_id(spec) or self.diff.alignment.get(spec)

    def changed(self, spec: Any) -> bool:
        return bool(self.diff.comparisons.get(spec))

    def kind_changed(self, spec: Any) -> bool:
        return "typename" in (self.diff.comparisons.get(spec) or [])


def _plans(workflow: Any, new: ParsedProcess, reasons: list[str]) -> list[_Plan]:
    plans = [_Plan(workflow, new.spec)]
    for sub in workflow.subprocesses.values():
        new_spec = new.subprocess_specs.get(sub.spec.name)
        if new_spec is None:
            reasons.append(f"调用的流程“{sub.spec.name}”在新版本中不存在")
        else:
            plans.append(_Plan(sub, new_spec))
    return plans


def _check_active(plan: _Plan, active: list[ActiveElement], reasons: list[str], notes: list[str]) -> None:
    for task in plan.workflow.get_tasks(state=_ACTIVE, skip_subprocesses=True):
        spec = task.task_spec
        kind = _kind(spec)
        if getattr(spec, "bpmn_id", None):
            active.append(ActiveElement(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, kind))
        if plan.by_id(spec) is None:
            reasons.append(f"任务{_label(spec)}在新版本中不存在")
        elif plan.kind_changed(spec):
            reasons.append(f"任务{_label(spec)}在新版本中类型不同")
        elif kind == "timer" and task.state == TaskState.WAITING and _overdue(task):
            reasons.append(f"定时{_label(spec)}已到期尚未处理（可能有待处理的故障），请处理后再迁移")
        elif kind == "timer" and plan.changed(spec):
            notes.append(f"定时{_label(spec)}的定义已改变；本件已在计时，保持原触发时间")


def _cut_out(workflow: Any, task: Any) -> None:
    """Remove one finished task from the tree, its children taking its place."""
    parent = task.parent
    position = parent._children.index(task.id)
    parent._children[position:position + 1] = [child.id for child in task.children]
    for child in task.children:
        child._parent = parent.id
    task._children = []
    del workflow.tasks[task.id]
    if workflow.last_task is task:
        workflow.last_task = None


def _drop_history(plan: _Plan, reasons: list[str]) -> None:
    """Finished steps with no counterpart: cut them out where nothing counts them any more."""
    for task in list(plan.workflow.tasks.values()):
        if task.id not in plan.workflow.tasks or plan.counterpart(task.task_spec) is not None:
            continue
        if not task.has_state(TaskState.FINISHED_MASK):
            continue  # predictions: remade below, or dropped with their active ancestor
        if task.parent is None:
            task.task_spec = plan.new_spec.start  # the finished root of a compacted history: a plain start
        elif any(isinstance(child.task_spec, Join) and not child.has_state(TaskState.FINISHED_MASK)
                 for child in task.children):  # a join still to fire counts its arrived branches by them
            reasons.append(f"已办理的步骤{_label(task.task_spec)}仍在等待汇合的分支中，新版本中没有对应元素")
        else:
            _cut_out(plan.workflow, task)


def _rebind(plan: _Plan) -> None:
    connect_loops(plan.new_spec)  # already done at parse; kept here so a move never depends on it
    plan.workflow.spec = plan.new_spec
    for task in plan.workflow.tasks.values():
        target = plan.counterpart(task.task_spec)
        if target is not None:
            task.task_spec = target


def _predict_again(task: Any) -> None:
    """New predicted children from the new outputs, as sure as the old ones were (a boundary timer's: maybe)."""
    unsure = [c.state for c in task.children if c.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE)]
    task._drop_children()
    task._sync_children(task.task_spec.outputs, unsure[0] if unsure else TaskState.FUTURE)
    for child in task.children:
        child.task_spec._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)


def _repredict(plan: _Plan) -> None:
    """Make the active tasks' futures again from the new diagram.

    A ready task or a waiting timer or message keeps its state, data and internal
    data (a 会签 instance's item, a timer's stored fire time, also when the new
    version changed the timer); only its predicted path is made again. A waiting
    join is reset, so it counts its arrived branches against the new diagram.
    """
    kept = [task.id for task in plan.workflow.get_tasks(state=_RESET, skip_subprocesses=True)]
    for task_id in kept:
        task = plan.workflow.tasks.get(task_id)
        if task is None or not task.has_state(_RESET):
            continue  # dropped with, or already updated by, an earlier reset
        if isinstance(task.task_spec, Join):
            task.reset_branch(task.data)
        else:
            _predict_again(task)
    for task in list(plan.workflow.tasks.values()):
        if task.id in plan.workflow.tasks and plan.new_spec.task_specs.get(task.task_spec.name) is not task.task_spec \
                and task.has_state(TaskState.PREDICTED_MASK):
            plan.workflow._remove_task(task.id)  # a stale prediction below a running call activity


def _leftovers(plan: _Plan) -> list[str]:
    return [f"步骤{_label(t.task_spec)}无法对应到新版本" for t in plan.workflow.tasks.values()
            if plan.new_spec.task_specs.get(t.task_spec.name) is not t.task_spec]


def _move(workflow: Any, old: ParsedProcess, new: ParsedProcess) -> MigrationCheck:
    reasons: list[str] = []
    check = MigrationCheck(movable=False)
    plans = _plans(workflow, new, reasons)
    for plan in plans:
        _check_active(plan, check.active, reasons, check.notes)
    if not reasons:
        for plan in plans:
            _drop_history(plan, reasons)
    if reasons:
        check.reasons = list(dict.fromkeys(reasons))
        return check
    workflow.subprocess_specs = new.subprocess_specs
    for plan in plans:
        _rebind(plan)
    for plan in plans:
        _repredict(plan)
    leftovers = [r for plan in plans for r in _leftovers(plan)]
    if leftovers:
        check.reasons = leftovers
        return check
    moved = serializer.load(serializer.dumps(workflow), new)
    try:
        moved.do_engine_steps()  # e.g. a join that the new version lets through already
        check.result = runner._snapshot(moved, new)
    except (WorkflowException, SpiffWorkflowException, sandbox.SandboxError) as exc:
        raise runner._engine_error(exc) from None
    check.movable = True
    return check


def check(old: ParsedProcess, new: ParsedProcess, state_json: str) -> MigrationCheck:
    """Try the move in memory: whether the workflow can move, and the moved state if so.

    Needs the run context (timers may be computed again). Nothing is stored here.
    """
    workflow = serializer.load(state_json, old)
    try:
        return _move(workflow, old, new)
    except EngineError:
        raise
    except (WorkflowException, SpiffWorkflowException, KeyError, ValueError) as exc:
        return MigrationCheck(movable=False, reasons=[f"迁移试运行失败：{exc}"])

