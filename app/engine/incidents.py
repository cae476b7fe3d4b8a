"""Run a stuck workflow on again: retry the failed step, or skip the failing element.

An incident is a step that failed with nobody to tell (a timer path, say), so
the stored state is the one from before that step. Running it again means:
fire what is due and run the engine on. Skipping means the same, except that
when the incident's element fails again it is marked done without running
(a script's assignments or a service task's request do not happen) and the
flow continues after it. Only automatic elements can be skipped this way.
"""
from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from . import runner, sandbox, serializer
from .loader import ParsedProcess
from .types import StepResult

MAX_SKIPS = 50  # an element that fails on every round of a loop is skipped at most this often


@dataclass
class RunOutcome:
    result: StepResult
    skipped: int  # how many times the element was skipped (0: it did not fail this time)


def _failed_task(exc: Exception):
    task = getattr(exc, "task", None)
    return task if task is not None and task.state == TaskState.ERROR else None


def _run(workflow, skip_element: str | None) -> int:
    skipped = 0
    workflow.refresh_timers()
    while True:
        try:
            workflow.do_engine_steps()
            return skipped
        except (WorkflowException, SpiffWorkflowException) as exc:
            task = _failed_task(exc)
            if (skip_element is None or task is None or task.task_spec.manual
                    or task.task_spec.bpmn_id != skip_element or skipped >= MAX_SKIPS):
                raise
            task.complete()  # done without running; its outputs become ready
            skipped += 1


def run_pending(parsed: ParsedProcess, state_json: str, skip_element: str | None = None) -> RunOutcome:
    """Fire due timers and run on; with ``skip_element``, that element is completed instead of run when it fails.

    Raises :class:`EngineError` when a step fails (any other element, or the element without skipping).
    """
    workflow = serializer.load(state_json, parsed)
    try:
        skipped = _run(workflow, skip_element)
        return RunOutcome(runner._snapshot(workflow, parsed), skipped)
    except (WorkflowException, SpiffWorkflowException, sandbox.SandboxError) as exc:
        raise runner._engine_error(exc) from None
