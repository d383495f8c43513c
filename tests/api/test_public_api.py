"""The public surface is pinned: changing it must be deliberate."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone

import flowdesk

EXPECTED = [
    "AutoCompleteHandler",
    "BpmnError",
    "BpmnValidationError",
    "ConcurrencyConflict",
    "ConsoleHandler",
    "CorrelationError",
    "DecisionError",
    "DiagramError",
    "Document",
    "DocumentDraft",
    "Engine",
    "ExpressionError",
    "ExternalTask",
    "ExternalTaskLockError",
    "ExternalTaskLockExpired",
    "ExternalTaskWorkerMismatch",
    "FetchTopic",
    "FlowdeskError",
    "FormField",
    "FormValidationError",
    "GatewayStatistics",
    "HandlerError",
    "HandlerRegistry",
    "HistoryEvent",
    "HistoryEventType",
    "IgnoredExtensionWarning",
    "InputLimits",
    "InstanceStateError",
    "InvalidArgument",
    "Job",
    "LimitExceeded",
    "ListenerCall",
    "ListenerTask",
    "LockedExternalTask",
    "MissingCalledProcessWarning",
    "MissingHandlerWarning",
    "MissingListenerWarning",
    "NotAuthorized",
    "NotFound",
    "Problem",
    "ProcessDefinition",
    "ProcessInstance",
    "ProcessReport",
    "ReadAuthorizer",
    "ReadNotAuthorized",
    "ReadRequest",
    "ScriptLimitError",
    "ScriptLimits",
    "ServiceCall",
    "StartEventError",
    "StepStatistics",
    "StoreError",
    "Task",
    "TaskStateError",
    "UserTaskHandler",
    "VariableError",
    "Wait",
    "current_engine",
]


def test_all__is_sorted_and_pinned() -> None:
    assert flowdesk.__all__ == sorted(flowdesk.__all__)
    assert flowdesk.__all__ == EXPECTED


def test_engine__has_every_method_api_md_names() -> None:
    for name in [
        "deploy",
        "definitions",
        "start",
        "tasks",
        "claim",
        "complete",
        "correlate",
        "run_due_jobs",
        "instance",
        "instances",
        "history",
        "retry",
        "evaluate_decision",
        "signal",
        "report",
        "reassign",
        "documents",
        "diagram",
        "now",
        "trigger",
        "waits",
        "unclaim",
        "delete_instance",
        "set_variables",
        "definition_xml",
    ]:
        assert callable(getattr(flowdesk.Engine, name)), name


def test_errors__share_one_base_and_not_found_is_a_lookup_error() -> None:
    errors = [
        getattr(flowdesk, name)
        for name in flowdesk.__all__
        if inspect.isclass(getattr(flowdesk, name))
        and issubclass(getattr(flowdesk, name), Exception)
    ]
    for error in errors:
        if error is not flowdesk.BpmnError and not issubclass(error, Warning):
            assert issubclass(error, flowdesk.FlowdeskError), error
    assert issubclass(flowdesk.NotFound, LookupError)


def test_records__are_frozen_dataclasses() -> None:
    import dataclasses

    for record in (
        flowdesk.ProcessDefinition,
        flowdesk.ProcessInstance,
        flowdesk.Task,
        flowdesk.HistoryEvent,
        flowdesk.FormField,
        flowdesk.Job,
        flowdesk.ProcessReport,
        flowdesk.StepStatistics,
        flowdesk.GatewayStatistics,
    ):
        assert dataclasses.is_dataclass(record)
        assert record.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_now__is_the_engine_clock_in_utc(make_engine) -> None:
    moment = datetime(2026, 5, 1, 17, 0, tzinfo=timezone(timedelta(hours=8)))
    engine = make_engine(clock=lambda: moment)

    assert engine.now() == moment
    assert engine.now().tzinfo is UTC
