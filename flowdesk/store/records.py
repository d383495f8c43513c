"""The rows the store hands out: plain frozen dataclasses, never ORM objects.

The store knows nothing of SpiffWorkflow or of business processes: a workflow's state is an
opaque JSON text with the version of the serializer that wrote it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class InstanceState(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    INCIDENT = "incident"


class TaskState(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class JobState(enum.StrEnum):
    WAITING = "waiting"
    FAILED = "failed"


class JobType(enum.StrEnum):
    TIMER = "timer"  # a timer event of an instance, or a timer start event
    ASYNC = "async"  # an asynchronous continuation
    TASK_TIMEOUT = "task_timeout"  # a timeout task listener's timer


class SubscriptionKind(enum.StrEnum):
    MESSAGE = "message"
    SIGNAL = "signal"


@dataclass(frozen=True, slots=True, kw_only=True)
class DefinitionRow:
    id: int
    key: str
    version: int
    name: str
    kind: str  # "process" or "decision"
    resource_name: str
    content_hash: str
    xml: str
    deployed_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRow:
    id: str
    definition_id: int
    process_key: str
    version: int
    business_key: str | None
    state: str
    variables: dict[str, Any]
    workflow_state: str | None  # also None where not read (`InstanceRepository.list`, `summary`)
    serializer_version: str
    lock_version: int
    started_at: datetime
    ended_at: datetime | None = None
    incident: str | None = None
    parent_instance_id: str | None = None  # the instance whose call activity started this one
    parent_task_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTaskRow:
    id: str
    instance_id: str
    element_id: str
    name: str
    state: str
    assignee: str | None
    candidate_groups: tuple[str, ...]
    candidate_users: tuple[str, ...]
    form_key: str | None
    form_fields: list[dict[str, Any]]
    documentation: str
    due: datetime | None
    priority: int
    created_at: datetime
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    # Filled from the instance row when read, for filters and display; not stored twice.
    process_key: str = ""
    business_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRow:
    id: int
    instance_id: str
    type: str
    at: datetime
    element_id: str | None
    user: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRow:
    id: int
    instance_id: str
    element_id: str | None
    name: str
    media_type: str
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRow:
    id: str
    instance_id: str | None  # None: a timer start event of `definition_id`
    element_id: str
    task_ref: str  # the engine's own id for the waiting task; opaque to the store
    type: str  # a `JobType` value
    due_at: datetime
    state: str
    attempts: int
    retries_left: int
    created_at: datetime
    locked_by: str | None = None
    lock_expires_at: datetime | None = None
    error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    definition_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionRow:
    id: str
    instance_id: str | None  # None: a start event of a deployed definition
    definition_id: int | None
    kind: str
    name: str
    element_id: str
    task_ref: str | None
    business_key: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalTaskRow:
    id: str
    instance_id: str
    definition_id: int
    process_key: str
    business_key: str | None
    element_id: str
    task_ref: str  # the engine's own id for the waiting task; opaque to the store
    topic: str
    priority: int
    created_at: datetime
    worker_id: str | None = None
    lock_expires_at: datetime | None = None
    retries: int | None = None  # None until a failure sets it; 0: an incident
    error_message: str | None = None
    error_details: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
