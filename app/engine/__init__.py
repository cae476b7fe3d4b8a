"""The only package that imports SpiffWorkflow. Everything it returns is plain data."""
from .conditions import condition_holds, condition_problem
from .context import current_now, run_context
from .errors import BpmnInvalid, EngineError, NotWaiting, TaskNotReady, UnknownTask, ValidationIssue
from .incidents import RunOutcome, run_pending
from .lint import lint
from .migration import MigrationCheck, check as check_migration
from .loader import ParsedProcess, parse_process, sha256_of
from .runner import complete, configure_cache, deliver_message, fire_due_timers, move_timers, remember, start
from .sandbox import SandboxError
from .scripts import register_helper
from .serializer import to_text as state_text
from .withdraw import WithdrawRefused, WithdrawResult, withdraw
from .types import Effect, PendingTimer, ProcessModel, StepResult, TaskSnapshot, UserTaskDef

__all__ = [
    "condition_holds", "condition_problem", "current_now", "run_context",
    "BpmnInvalid", "EngineError", "NotWaiting", "TaskNotReady", "UnknownTask", "ValidationIssue",
    "RunOutcome", "run_pending", "lint", "MigrationCheck", "check_migration", "ParsedProcess", "parse_process", "sha256_of", "complete", "configure_cache", "deliver_message", "fire_due_timers", "move_timers", "remember", "start",
    "SandboxError", "register_helper", "state_text", "Effect", "PendingTimer", "ProcessModel", "StepResult",
    "TaskSnapshot", "UserTaskDef", "WithdrawRefused", "WithdrawResult", "withdraw",
]
