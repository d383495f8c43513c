"""The repository of the append-only history of what happened to instances."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from flowdesk.store import models, records
from flowdesk.store.repositories.base import (
    _HISTORY,
    _all,
    _Repository,
    _returning,
    _store_errors,
)
from flowdesk.store.repositories.driver_statements import DriverStatement


class HistoryRepository(_Repository):
    """The append-only history of what happened to instances."""

    @_store_errors
    def add(
        self,
        *,
        instance_id: str,
        type: str,
        at: datetime,
        element_id: str | None = None,
        user: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> records.HistoryRow:
        """Append one event.

        Args:
            instance_id: The instance it happened to.
            type: e.g. "instance_started", "task_completed".
            at: When, as an aware datetime.
            element_id: The BPMN element, if any.
            user: Who did it, if anyone.
            data: Details, JSON-serialisable.

        Returns:
            The stored event, with its id (ids grow in insertion order).

        Raises:
            StoreError: The database failed.
        """
        stmt = (
            insert(models.HistoryEntry)
            .values(
                instance_id=instance_id,
                type=type,
                at=at,
                element_id=element_id,
                user=user,
                data=dict(data or {}),
            )
            .returning(models.HistoryEntry)
        )
        return _history_row(_returning(self._session, stmt))

    @_store_errors
    def add_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Append events in this order, in one statement; their ids are not read back.

        Each event has the keyword arguments of `add`: `instance_id`, `type` and `at`, and
        optionally `element_id`, `user` and `data`.

        Raises:
            StoreError: The database failed.
        """
        rows = [
            {
                "instance_id": event["instance_id"],
                "type": event["type"],
                "at": event["at"],
                "element_id": event.get("element_id"),
                "user": event.get("user"),
                "data": dict(event.get("data") or {}),
            }
            for event in events
        ]
        if rows:
            _INSERT_HISTORY.run_many(self._connection, rows)

    @_store_errors
    def list(
        self, instance_id: str | None = None, *, types: Collection[str] | None = None
    ) -> builtins.list[records.HistoryRow]:
        """Return events oldest first (by id), of one instance or of all.

        Args:
            instance_id: Only this instance's events.
            types: Only events of these types.
        """
        stmt = select(models.HistoryEntry)
        if instance_id is not None:
            stmt = stmt.where(models.HistoryEntry.instance_id == instance_id)
        if types is not None:
            stmt = stmt.where(models.HistoryEntry.type.in_(sorted(set(types))))
        stmt = stmt.order_by(models.HistoryEntry.id)
        return [_history_row(m) for m in _all(self._session, stmt)]

    @_store_errors
    def list_for_process(
        self,
        process_key: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        types: Collection[str] | None = None,
    ) -> builtins.list[records.HistoryRow]:
        """Return the events of every instance of a process key, oldest first (by id), at once.

        Args:
            process_key: The instances' process key, any version.
            since: Only instances started at or after this time.
            until: Only instances started before this time.
            types: Only events of these types.

        Raises:
            StoreError: The database failed.
        """
        instance = models.Instance
        stmt = (
            select(models.HistoryEntry)
            .join(instance, instance.id == models.HistoryEntry.instance_id)
            .where(instance.process_key == process_key)
        )
        if since is not None:
            stmt = stmt.where(instance.started_at >= since)
        if until is not None:
            stmt = stmt.where(instance.started_at < until)
        if types is not None:
            stmt = stmt.where(models.HistoryEntry.type.in_(sorted(set(types))))
        stmt = stmt.order_by(models.HistoryEntry.id)
        return [_history_row(m) for m in _all(self._session, stmt)]


def _history_row(model: models.HistoryEntry) -> records.HistoryRow:
    return records.HistoryRow(
        id=model.id,
        instance_id=model.instance_id,
        type=model.type,
        at=model.at,
        element_id=model.element_id,
        user=model.user,
        data=model.data,
    )


# -- Core statements of the hot path (why Core, not the ORM: see `base`) ----------------------

_INSERT_HISTORY = DriverStatement(insert(_HISTORY))
