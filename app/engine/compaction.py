"""Keep completed history out of the hot workflow state.

SpiffWorkflow keeps every task it ever ran in one tree, so a 补正 loop makes the
tree deeper with each round: saving and loading grow with the history, and past
SpiffWorkflow's iteration depth limit the workflow silently stops. The app keeps
the history elsewhere (task rows and the audit log), so the engine only needs the
part of the tree that can still change.

We cut the tree at the deepest task that is an ancestor of every unfinished task
(including predicted ones) and of the grandparent of the user task completed
last, so that its completion can still be withdrawn (撤回 resets that task from
its parent; a boundary event's split sits one level higher). Everything above
the cut is finished and nothing below refers to it. Call activities and event
subprocesses hang off tasks below the cut, so they are kept.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

# prune only when this many finished ancestors sit above the cut (measured: 20 kept ~6 KB of
# finished 企业开办 history in every save; 4 makes a step a third cheaper)
MIN_PRUNE_DEPTH = 4


def _path_to_root(task) -> list:
    path = []
    while task is not None:
        path.append(task)
        task = task.parent
    return path


def _withdraw_anchor(workflow: BpmnWorkflow):
    """The grandparent of the user task completed last (or as close to it as the tree goes), if any."""
    done = [t for t in workflow.tasks.values() if t.task_spec.manual and t.state == TaskState.COMPLETED]
    if not done:
        return None
    anchor = max(done, key=lambda t: t.last_state_change)
    for _ in range(2):
        anchor = anchor.parent if anchor.parent is not None else anchor
    return anchor


def compact(workflow: BpmnWorkflow) -> int:
    """Drop finished history above the common ancestor of unfinished tasks; returns tasks dropped."""
    unfinished = [t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    if not unfinished:
        return 0
    anchor = _withdraw_anchor(workflow)
    first_path = _path_to_root(unfinished[0])
    common = set(map(id, first_path))
    for task in unfinished[1:] + ([anchor] if anchor is not None else []):
        common &= set(map(id, _path_to_root(task)))
    cut = next(t for t in first_path if id(t) in common)  # deepest shared ancestor
    while cut is not None and not cut.has_state(TaskState.FINISHED_MASK):
        cut = cut.parent  # the new root must be finished: an unfinished task reads its parent's data later
    if cut is None:
        return 0
    depth = len(_path_to_root(cut)) - 1
    if depth < MIN_PRUNE_DEPTH:
        return 0
    keep, stack = set(), [cut]
    while stack:
        task = stack.pop()
        keep.add(task.id)
        stack.extend(task.children)
    dropped = [tid for tid in workflow.tasks if tid not in keep]
    if any(tid in workflow.subprocesses for tid in dropped):
        return 0  # a subprocess hangs off the history; leave the tree as it is
    data = dict(cut.data)
    for tid in dropped:
        del workflow.tasks[tid]
    cut._parent = None
    cut.data = data
    workflow.task_tree = cut
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = None
    return len(dropped)
