"""The plain, read-only objects the public API returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class HistoryEventType(enum.StrEnum):
    """The types of `HistoryEvent`: every event flowdesk records has one of these.

    A member equals its text (`HistoryEventType.TASK_COMPLETED == "task_completed"`), so
    `event.type` can be compared with either. docs/concepts.md says what each one carries.
    """

    INSTANCE_STARTED = "instance_started"
    INSTANCE_COMPLETED = "instance_completed"
    INSTANCE_TERMINATED = "instance_terminated"
    VARIABLES_SET = "variables_set"
    TASK_CREATED = "task_created"
    TASK_CLAIMED = "task_claimed"
    TASK_UNCLAIMED = "task_unclaimed"
    TASK_COMPLETED = "task_completed"
    TASK_CANCELLED = "task_cancelled"
    TASK_REASSIGNED = "task_reassigned"
    TASK_TIMEOUT = "task_timeout"
    ACTIVITY_COMPLETED = "activity_completed"
    CALL_STARTED = "call_started"
    DOCUMENT_CREATED = "document_created"
    MESSAGE_THROWN = "message_thrown"
    SIGNAL_THROWN = "signal_thrown"
    ERROR_THROWN = "error_thrown"
    ESCALATION_THROWN = "escalation_thrown"
    MESSAGE_CORRELATED = "message_correlated"
    SIGNAL_RECEIVED = "signal_received"
    TIMER_FIRED = "timer_fired"
    JOB_FAILED = "job_failed"
    INCIDENT = "incident"
    INCIDENT_RETRIED = "incident_retried"
    EXTERNAL_TASK_CREATED = "external_task_created"
    EXTERNAL_TASK_COMPLETED = "external_task_completed"
    EXTERNAL_TASK_FAILED = "external_task_failed"
    EXTERNAL_TASK_BPMN_ERROR = "external_task_bpmn_error"
    EXTERNAL_TASK_RETRIES_SET = "external_task_retries_set"
    EXTERNAL_TASK_CANCELLED = "external_task_cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessDefinition:
    """One deployed version of a BPMN process (or, with `kind="decision"`, a DMN decision)."""

    key: str
    version: int
    name: str
    kind: str = "process"
    file: str = ""
    deployed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FormField:
    """One field of a user task's Camunda form (`camunda:formField`)."""

    id: str
    label: str
    type: str
    required: bool = False
    enum_values: tuple[str, ...] = ()
    enum_labels: tuple[str, ...] = ()
    default: Any = None
    constraints: tuple[tuple[str, str | None], ...] = ()
    readonly: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessInstance:
    """One run of a process definition."""

    id: str
    key: str
    version: int
    business_key: str | None
    state: str
    variables: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None = None
    incident: str | None = None
    parent_id: str | None = None  # the instance whose call activity started this one


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One user-task instance: who may do it, what its form asks, and when it is due."""

    id: str
    instance_id: str
    element_id: str
    name: str
    assignee: str | None
    candidate_groups: tuple[str, ...]
    candidate_users: tuple[str, ...]
    form_key: str | None
    form_fields: tuple[FormField, ...]
    due: datetime | None
    created_at: datetime
    documentation: str = ""
    priority: int = 50
    state: str = "open"
    process_key: str = ""
    business_key: str | None = None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEvent:
    """One entry of an instance's append-only history."""

    type: str  # a `HistoryEventType` value
    at: datetime
    element_id: str | None
    user: str | None
    data: dict[str, Any]
    instance_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A document rendered for an instance by one of its service tasks."""

    name: str
    media_type: str  # "text/markdown" or "text/html"
    content: str
    instance_id: str
    element_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A timer or other piece of work that waits for its due time."""

    id: str
    instance_id: str | None
    element_id: str
    type: str
    due_at: datetime
    state: str
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait:
    """An event an instance waits for at one element (user tasks and jobs are listed apart).

    `kind` is "message" or "signal" (`name` is the message or signal name; `Engine.correlate`
    and `Engine.signal` deliver it), "timer" (`due_at`; its job is in `Engine.jobs`), or
    "trigger": a receive task without a message, which `Engine.trigger` moves on (`name` is
    the element id).
    """

    instance_id: str
    element_id: str
    kind: str
    name: str | None
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStatistics:
    """How long one user task of a process took, from `task_created` to `task_completed`."""

    element_id: str
    name: str
    count: int  # completed tasks of this element; cancelled and open ones are not counted
    median: timedelta
    p90: timedelta
    total: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayStatistics:
    """Where one exclusive or inclusive gateway sent its tokens."""

    element_id: str
    name: str
    passed: int  # how often the gateway completed
    outcomes: dict[str, int]  # element the token went to -> how often, most often first
    outcome_names: dict[str, str] = field(default_factory=dict)  # element id -> its name


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessReport:
    """A process analysis of the instances of one key, computed from their history.

    Counts are of instances started in the window [`since`, `until`); `running` is every one
    of them not yet ended, including those in `incident`, and `incidents` counts the instances
    that ever entered `incident`. Cycle times are over completed instances. Medians and p90s
    use `statistics.quantiles(..., method="inclusive")`. The `bottleneck` is the step with
    the largest median time (then the largest total time).
    """

    key: str
    since: datetime | None = None
    until: datetime | None = None
    started: int = 0
    completed: int = 0
    terminated: int = 0
    running: int = 0
    incidents: int = 0
    cycle_time_median: timedelta | None = None
    cycle_time_p90: timedelta | None = None
    steps: tuple[StepStatistics, ...] = ()
    bottleneck: StepStatistics | None = None
    gateways: tuple[GatewayStatistics, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalTask:
    """An activity waiting for an external worker: Camunda 7's `ExternalTask`.

    A service task, send task, business rule task or message throw event with
    `camunda:type="external"` waits as one of these until a worker fetches and locks it
    (`Engine.fetch_and_lock`) and completes it. `retries` is None until a failure sets it;
    0 means the task has an incident and is not fetched until its retries are set again.
    `process_definition_id` is `key:version:id`, as Camunda forms it. `properties` are the
    element's `camunda:properties` (Camunda's extension properties).
    """

    id: str
    topic: str
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    error_message: str | None
    error_details: str | None
    priority: int
    instance_id: str
    element_id: str
    business_key: str | None
    process_key: str
    process_definition_id: str
    created_at: datetime
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedExternalTask(ExternalTask):
    """An external task a worker has just locked, with the variables it asked for: Camunda
    7's `LockedExternalTask`. `worker_id` and `lock_expires_at` are always set."""

    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchTopic:
    """One topic of a `fetch_and_lock` call: Camunda's `topics[]` entry.

    Args:
        topic_name: The `camunda:topic` to fetch.
        lock_duration: How long the fetched tasks stay the worker's; positive. None takes
            the call's `lock_duration`.
        variables: The names of the variables to return; None for all of them (missing
            names are left out, as in Camunda).
        local_variables: Only the activity's own variables (its input parameters).
        business_key: Only tasks of instances with this business key.
        process_definition_id: Only tasks of this definition (`key:version:id`).
        process_definition_id_in: Only tasks of one of these definitions.
        process_definition_key: Only tasks of this process.
        process_definition_key_in: Only tasks of one of these processes.
        process_variables: Only tasks of instances where each named variable holds this
            value, of the same JSON type (Camunda's `processVariables`).
    """

    topic_name: str
    lock_duration: timedelta | None = None
    variables: tuple[str, ...] | None = None
    local_variables: bool = False
    business_key: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: tuple[str, ...] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: tuple[str, ...] | None = None
    process_variables: dict[str, str | int | float | bool] | None = None
