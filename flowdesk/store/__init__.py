"""The persistence layer: a `Store`, its units of work, repositories and the rows they return.

This is the whole interface the engine sees. Sessions and ORM models stay inside the store.
"""

from __future__ import annotations

from flowdesk.store.database import SQLITE_SYNCHRONOUS_LEVELS, SqliteSynchronous, Store, UnitOfWork
from flowdesk.store.records import (
    DefinitionRow,
    DocumentRow,
    ExternalTaskRow,
    HistoryRow,
    InstanceRow,
    InstanceState,
    JobRow,
    JobState,
    JobType,
    SubscriptionKind,
    SubscriptionRow,
    TaskState,
    UserTaskRow,
)
from flowdesk.store.repositories import (
    DefinitionRepository,
    DocumentRepository,
    ExternalTaskRepository,
    HistoryRepository,
    InstanceRepository,
    JobRepository,
    SubscriptionRepository,
    TopicFilter,
    UserTaskRepository,
)

__all__ = [
    "SQLITE_SYNCHRONOUS_LEVELS",
    "DefinitionRepository",
    "DefinitionRow",
    "DocumentRepository",
    "DocumentRow",
    "ExternalTaskRepository",
    "ExternalTaskRow",
    "HistoryRepository",
    "HistoryRow",
    "InstanceRepository",
    "InstanceRow",
    "InstanceState",
    "JobRepository",
    "JobRow",
    "JobState",
    "JobType",
    "SqliteSynchronous",
    "Store",
    "SubscriptionKind",
    "SubscriptionRepository",
    "SubscriptionRow",
    "TaskState",
    "TopicFilter",
    "UnitOfWork",
    "UserTaskRepository",
    "UserTaskRow",
]
