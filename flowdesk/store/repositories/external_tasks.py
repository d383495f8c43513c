"""The repository of external tasks: activities waiting for a worker to fetch and complete them.

A worker locks a task by writing `worker_id` and `lock_expires_at` in a short transaction of
its own (`lock_fetchable`), as Camunda 7's `fetchAndLock` does. On PostgreSQL the candidate
rows are selected `FOR UPDATE SKIP LOCKED`, so two workers fetching at the same moment never
lock the same task: the second skips the rows the first is locking. SQLite serialises its
writers (every unit of work that may write begins with `BEGIN IMMEDIATE`), which gives the
same result. A lock that ran out is free again: any worker may fetch the task.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update

from flowdesk import errors
from flowdesk.store import models, records
from flowdesk.store.repositories.base import (
    _all,
    _check_fields,
    _delete_by_id,
    _fields,
    _first,
    _Repository,
    _returning_all,
    _store_errors,
)
from flowdesk.store.repositories.instances import VariableValue, _variable_equals

_TASK = models.ExternalTask


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicFilter:
    """Which tasks of one topic a fetch may lock (Camunda's `topics[]` of `fetchAndLock`).

    Every filter given must hold; `definition_ids` and `process_keys` keep tasks whose
    instance is of one of them.
    """

    topic: str
    business_key: str | None = None
    definition_ids: frozenset[int] | None = None
    process_keys: frozenset[str] | None = None
    variables: Mapping[str, VariableValue] | None = None


class ExternalTaskRepository(_Repository):
    """External tasks of running instances, locked by one worker at a time."""

    _CHANGEABLE = frozenset(f.name for f in dataclasses.fields(records.ExternalTaskRow)) - {"id"}

    @_store_errors
    def add(self, row: records.ExternalTaskRow) -> None:
        """Insert a new external task.

        Raises:
            StoreError: The database failed, e.g. the id exists or the instance does not.
        """
        self._session.execute(insert(_TASK).values(**_fields(row)))

    @_store_errors
    def get(self, id: str) -> records.ExternalTaskRow:
        """Return the external task with this id.

        Raises:
            NotFound: No external task has this id.
            StoreError: The database failed.
        """
        model = _first(self._session, select(_TASK).where(_TASK.id == id))
        if model is None:
            raise errors.NotFound("external task", id)
        return _row(model)

    @_store_errors
    def get_for_update(self, id: str) -> records.ExternalTaskRow:
        """Return the task, its row locked until the unit of work ends (PostgreSQL).

        A worker completing or failing a task holds it, so a concurrent fetch skips it and a
        concurrent completion waits, then sees what this one did.

        Raises:
            NotFound: No external task has this id.
            StoreError: The database failed.
        """
        self._session.execute(select(_TASK.id).where(_TASK.id == id).with_for_update())
        return self.get(id)

    @_store_errors
    def list(
        self,
        *,
        id: str | None = None,
        instance_id: str | None = None,
        topic: str | None = None,
        worker_id: str | None = None,
        element_id: str | None = None,
        process_key: str | None = None,
        business_key: str | None = None,
        definition_id: int | None = None,
        locked_at: datetime | None = None,
        not_locked_at: datetime | None = None,
        with_retries_left: bool | None = None,
    ) -> builtins.list[records.ExternalTaskRow]:
        """Return external tasks matching every filter given, oldest first (created_at, id).

        Args:
            locked_at: Only tasks whose lock runs beyond this time.
            not_locked_at: Only tasks without a lock at this time (none, or one that ran out).
            with_retries_left: True: retries None or above 0; False: retries 0 (an incident).
        """
        stmt = select(_TASK)
        for column, value in (
            ("id", id),
            ("instance_id", instance_id),
            ("topic", topic),
            ("worker_id", worker_id),
            ("element_id", element_id),
            ("process_key", process_key),
            ("business_key", business_key),
            ("definition_id", definition_id),
        ):
            if value is not None:
                stmt = stmt.where(getattr(_TASK, column) == value)
        if locked_at is not None:
            stmt = stmt.where(_TASK.lock_expires_at > locked_at)
        if not_locked_at is not None:
            stmt = stmt.where(_free(not_locked_at))
        if with_retries_left is True:
            stmt = stmt.where(_retries_left())
        elif with_retries_left is False:
            stmt = stmt.where(_TASK.retries <= 0)
        stmt = stmt.order_by(_TASK.created_at, _TASK.id)
        return [_row(m) for m in _all(self._session, stmt)]

    @_store_errors
    def update(self, id: str, **changes: Any) -> records.ExternalTaskRow:
        """Change an external task.

        Args:
            id: The task.
            **changes: New values, by `ExternalTaskRow` field name (not `id`).

        Raises:
            NotFound: No external task has this id.
            TypeError: A change names no changeable field.
            StoreError: The database failed.
        """
        _check_fields(changes, self._CHANGEABLE, "external task")
        if not changes:
            return self.get(id)
        stmt = update(_TASK).where(_TASK.id == id).values(**changes).returning(_TASK)
        rows = _returning_all(self._session, stmt)
        if not rows:
            raise errors.NotFound("external task", id)
        return _row(rows[0])

    @_store_errors
    def delete(self, id: str) -> None:
        """Delete an external task.

        Raises:
            NotFound: No external task has this id.
            StoreError: The database failed.
        """
        _delete_by_id(self._session, _TASK, "external task", id)

    @_store_errors
    def delete_for_instance(self, instance_id: str) -> builtins.list[records.ExternalTaskRow]:
        """Delete every external task of an instance; returns what was deleted."""
        rows = self.list(instance_id=instance_id)
        if rows:
            self._session.execute(
                delete(_TASK).where(_TASK.instance_id == instance_id),
                execution_options={"synchronize_session": False},
            )
        return rows

    @_store_errors
    def lock_fetchable(
        self,
        now: datetime,
        *,
        worker_id: str,
        topics: Mapping[str, tuple[TopicFilter, timedelta]],
        limit: int,
        use_priority: bool,
    ) -> builtins.list[records.ExternalTaskRow]:
        """Lock up to `limit` fetchable tasks of the given topics for `worker_id`.

        A task is fetchable when its lock is free or ran out (`lock_expires_at <= now`, as
        Camunda compares) and it has retries left (None or above 0). Each topic's tasks get
        that topic's lock duration. With `use_priority` the highest `priority` comes first,
        then (as without) the oldest.

        Args:
            now: The current time, aware.
            worker_id: Who locks them.
            topics: The filter and lock duration of each topic, by topic name.
            limit: At most this many tasks.
            use_priority: Order by priority first (Camunda's `usePriority`).

        Returns:
            The locked tasks, in fetch order. Commit to make the locks visible.

        Raises:
            StoreError: The database failed.
        """
        if limit <= 0 or not topics:
            return []
        stmt = select(_TASK.id, _TASK.topic).where(
            _free(now),
            _retries_left(),
            or_(*(_topic_matches(f, self._dialect_is_postgresql) for f, _ in topics.values())),
        )
        order: builtins.list[Any] = [_TASK.created_at, _TASK.id]
        if use_priority:
            order.insert(0, _TASK.priority.desc())
        stmt = stmt.order_by(*order).limit(limit)
        if self._dialect_is_postgresql:
            stmt = stmt.with_for_update(skip_locked=True)
        found = builtins.list(self._session.execute(stmt))
        locked: dict[str, records.ExternalTaskRow] = {}
        for topic in {topic for _, topic in found}:
            ids = [task_id for task_id, of in found if of == topic]
            stmt_update = (
                update(_TASK)
                .where(_TASK.id.in_(ids))
                .values(worker_id=worker_id, lock_expires_at=now + topics[topic][1])
                .returning(_TASK)
            )
            for model in _returning_all(self._session, stmt_update):
                locked[model.id] = _row(model)
        return [locked[task_id] for task_id, _ in found if task_id in locked]

    @property
    def _dialect_is_postgresql(self) -> bool:
        return bool(self._connection.dialect.name == "postgresql")


def _free(now: datetime) -> ColumnElement[bool]:
    """No lock, or one that ran out by `now`."""
    return or_(_TASK.lock_expires_at.is_(None), _TASK.lock_expires_at <= now)


def _retries_left() -> ColumnElement[bool]:
    return or_(_TASK.retries.is_(None), _TASK.retries > 0)


def _topic_matches(topic: TopicFilter, postgresql: bool) -> ColumnElement[bool]:
    conditions: builtins.list[ColumnElement[bool]] = [_TASK.topic == topic.topic]
    if topic.business_key is not None:
        conditions.append(_TASK.business_key == topic.business_key)
    if topic.definition_ids is not None:
        conditions.append(_TASK.definition_id.in_(sorted(topic.definition_ids)))
    if topic.process_keys is not None:
        conditions.append(_TASK.process_key.in_(sorted(topic.process_keys)))
    if topic.variables:
        matching = select(models.Instance.id).where(
            *(
                _variable_equals(name, value, postgresql=postgresql)
                for name, value in topic.variables.items()
            )
        )
        conditions.append(_TASK.instance_id.in_(matching))
    return and_(*conditions)


def _row(model: models.ExternalTask) -> records.ExternalTaskRow:
    return records.ExternalTaskRow(
        id=model.id,
        instance_id=model.instance_id,
        definition_id=model.definition_id,
        process_key=model.process_key,
        business_key=model.business_key,
        element_id=model.element_id,
        task_ref=model.task_ref,
        topic=model.topic,
        priority=model.priority,
        created_at=model.created_at,
        worker_id=model.worker_id,
        lock_expires_at=model.lock_expires_at,
        retries=model.retries,
        error_message=model.error_message,
        error_details=model.error_details,
        properties=dict(model.properties or {}),
    )
