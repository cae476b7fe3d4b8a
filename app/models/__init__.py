"""All models, imported so that Alembic and the app see every table."""
from .audit import AuditEvent
from .authoring import ProcessDraft
from .calendar import CalendarDay, CalendarYear
from .case import CASE_STATUSES, Case, CaseCounter, CaseRequest, Task, WorkflowState
from .incident import Incident
from .intake import Certificate, CreditRecord, Delivery, Material, Notice, Notification
from .legal_time import SUSPENSION_KINDS, Extension, SupervisionEvent, Suspension
from .org import ROLES, ApiToken, Department, User
from .process import FormDefinition, ProcessDefinition
from .report import WeeklyReport
from .signing import OPEN_SIGN_STATUSES, SIGN_KINDS, SIGN_STATUSES, TaskSign
from .timer import Timer
from .work import RATING_LEVELS, FollowUp, Rating, TaskComment, TaskCopy

__all__ = [
    "AuditEvent", "ProcessDraft", "CalendarDay", "CalendarYear", "CASE_STATUSES", "Case", "CaseCounter", "CaseRequest", "Task", "WorkflowState",
    "Incident", "Certificate", "CreditRecord", "Delivery", "Material", "Notice", "Notification", "SUSPENSION_KINDS", "Extension", "SupervisionEvent", "Suspension", "ROLES", "ApiToken", "Department", "User", "FormDefinition", "ProcessDefinition", "Timer",
    "RATING_LEVELS", "FollowUp", "Rating", "TaskComment", "TaskCopy", "WeeklyReport",
    "OPEN_SIGN_STATUSES", "SIGN_KINDS", "SIGN_STATUSES", "TaskSign",
]
