"""flowdesk: run Camunda Modeler BPMN 2.0 processes in Python, persisted in SQLite or PostgreSQL.

Everything an application needs is importable from here; see `API.md` in the docs.
"""

from __future__ import annotations

from flowdesk._engine import Engine
from flowdesk._records import (
    Document,
    FormField,
    GatewayStatistics,
    HistoryEvent,
    Job,
    ProcessDefinition,
    ProcessInstance,
    ProcessReport,
    StepStatistics,
    Task,
    Wait,
)
from flowdesk.errors import (
    BpmnError,
    BpmnValidationError,
    ConcurrencyConflict,
    CorrelationError,
    DecisionError,
    ExpressionError,
    FlowdeskError,
    FormValidationError,
    HandlerError,
    IgnoredExtensionWarning,
    InstanceStateError,
    MissingHandlerWarning,
    NotAuthorized,
    NotFound,
    Problem,
    StartEventError,
    StoreError,
    TaskStateError,
)
from flowdesk.handlers import (
    AutoCompleteHandler,
    ConsoleHandler,
    DocumentDraft,
    HandlerRegistry,
    ServiceCall,
    UserTaskHandler,
)

__all__ = [
    "AutoCompleteHandler",
    "BpmnError",
    "BpmnValidationError",
    "ConcurrencyConflict",
    "ConsoleHandler",
    "CorrelationError",
    "DecisionError",
    "Document",
    "DocumentDraft",
    "Engine",
    "ExpressionError",
    "FlowdeskError",
    "FormField",
    "FormValidationError",
    "GatewayStatistics",
    "HandlerError",
    "HandlerRegistry",
    "HistoryEvent",
    "IgnoredExtensionWarning",
    "InstanceStateError",
    "Job",
    "MissingHandlerWarning",
    "NotAuthorized",
    "NotFound",
    "Problem",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessReport",
    "ServiceCall",
    "StartEventError",
    "StepStatistics",
    "StoreError",
    "Task",
    "TaskStateError",
    "UserTaskHandler",
    "Wait",
]
