"""Plain data that the engine hands to the rest of the app (never a Spiff object)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UserTaskDef:
    """A user task as drawn: where it sits and which form it uses."""

    element_id: str
    name: str
    lane: str | None
    form_key: str | None
    candidate: str | None = None  # camunda:candidateGroups: a department, or ${expression} per instance
    process_key: str | None = None  # the (called) process that holds it


@dataclass(frozen=True)
class ProcessModel:
    """What deployment learned about a BPMN file."""

    process_key: str
    name: str
    start_form_key: str | None
    user_tasks: tuple[UserTaskDef, ...]
    lanes: tuple[str, ...]
    called_processes: tuple[str, ...] = ()
    has_timers: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "process_key": self.process_key,
            "name": self.name,
            "start_form_key": self.start_form_key,
            "lanes": list(self.lanes),
            "called_processes": list(self.called_processes),
            "has_timers": self.has_timers,
            "user_tasks": [t.__dict__ for t in self.user_tasks],
        }


@dataclass(frozen=True)
class TaskSnapshot:
    """One user task instance as the engine sees it after a step."""

    task_id: str
    element_id: str
    name: str
    lane: str | None
    form_key: str | None
    state: str  # ready | completed | cancelled | error
    data: dict[str, Any] | None = None
    department: str | None = None  # from candidateGroups, when the diagram names one (else the lane's)


@dataclass(frozen=True)
class PendingTimer:
    """A timer event waiting to fire (fire_at is an ISO 8601 string with offset)."""

    task_id: str
    element_id: str
    name: str
    fire_at: str


@dataclass(frozen=True)
class Effect:
    """A service task's request to the app (issue a notice, write a credit record …).

    The engine only records it; the app carries it out in the same transaction.
    """

    operator: str
    element_id: str
    element_name: str
    params: dict[str, Any]


@dataclass
class StepResult:
    """The outcome of running a workflow until it needs a person or a timer."""

    state: dict[str, Any]
    status: str  # running | completed | terminated (a terminate end event was reached)
    tasks: list[TaskSnapshot] = field(default_factory=list)
    timers: list[PendingTimer] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    end_event: str | None = None
    effects: list[Effect] = field(default_factory=list)  # in the order the service tasks ran
    waiting_messages: list[str] = field(default_factory=list)  # message names the case waits for
    timers_before: bool = True  # whether any timer was waiting before this step (False: nothing to sync)
    # the live workflow after this step, opaque to callers: handed back to :func:`remember` once the
    # step is committed, so the case's next step in this process need not restore it from JSON
    resumable: Any = field(default=None, repr=False, compare=False)
