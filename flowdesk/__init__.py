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
    InstanceStateError,
    MissingHandlerWarning,
    MissingListenerWarning,
    NotAuthorized,
    NotFound,
    Problem,
    StoreError,
    TaskStateError,
)
from flowdesk.handlers import (
    AutoCompleteHandler,
    ConsoleHandler,
    DocumentDraft,
    HandlerRegistry,
    ListenerCall,
    ListenerTask,
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
    "InstanceStateError",
    "Job",
    "ListenerCall",
    "ListenerTask",
    "MissingHandlerWarning",
    "MissingListenerWarning",
    "NotAuthorized",
    "NotFound",
    "Problem",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessReport",
    "ServiceCall",
    "StepStatistics",
    "StoreError",
    "Task",
    "TaskStateError",
    "UserTaskHandler",
]
