"""Repositories: read and write the store's tables and hand out the frozen rows of `records`.

A repository works inside the unit of work that made it and never commits. Every statement is
an explicit `select()`, `insert()`, `update()` or `delete()`, executed at once (nothing waits
for a flush). The statements of a step run on the unit of work's connection, the most
frequent on the driver's cursor (`driver_statements`); the others through a session made on
first use, whose reads refresh any object already in it (`populate_existing`): its identity
map never hands out a stale row, and deleting then re-adding an id in one unit of work works.
SQLAlchemy errors leave a repository as `StoreError`, or as `ConcurrencyConflict` where an
optimistic lock was lost.
"""

from __future__ import annotations

from flowdesk.store.repositories.base import Transaction, raise_as_flowdesk_error
from flowdesk.store.repositories.definitions import DefinitionRepository
from flowdesk.store.repositories.documents import DocumentRepository
from flowdesk.store.repositories.external_tasks import ExternalTaskRepository, TopicFilter
from flowdesk.store.repositories.history import HistoryRepository
from flowdesk.store.repositories.instances import InstanceRepository
from flowdesk.store.repositories.jobs import JobRepository
from flowdesk.store.repositories.subscriptions import SubscriptionRepository
from flowdesk.store.repositories.user_tasks import UserTaskRepository

__all__ = [
    "DefinitionRepository",
    "DocumentRepository",
    "ExternalTaskRepository",
    "HistoryRepository",
    "InstanceRepository",
    "JobRepository",
    "SubscriptionRepository",
    "TopicFilter",
    "Transaction",
    "UserTaskRepository",
    "raise_as_flowdesk_error",
]
