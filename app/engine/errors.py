"""Engine-level errors. They carry people-facing zh-CN messages and element ids."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationIssue:
    element_id: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"element_id": self.element_id, "message": self.message}


class EngineError(Exception):
    """A diagram failed while running (bad expression, refused script, ...)."""

    def __init__(self, message: str, element_id: str = "", element_name: str = ""):
        super().__init__(message)
        self.message = message
        self.element_id = element_id
        self.element_name = element_name


class BpmnInvalid(Exception):
    """An uploaded diagram was refused; nothing was deployed."""

    def __init__(self, message: str, issues: list[ValidationIssue] | None = None, status: int = 422):
        super().__init__(message)
        self.message = message
        self.issues = issues or []
        self.status = status


class TaskNotReady(Exception):
    """The task exists but can no longer be completed."""


class UnknownTask(Exception):
    """No such task in this workflow."""


class NotWaiting(Exception):
    """The workflow is not waiting for this message (nothing to catch it)."""
