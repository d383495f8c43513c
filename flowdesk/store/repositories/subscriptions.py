"""The repository of message and signal catch events waiting for a correlation."""

from __future__ import annotations

import builtins

from sqlalchemy import delete, insert, select

from flowdesk.store import models, records
from flowdesk.store.repositories.base import (
    _all,
    _delete_by_id,
    _equal,
    _fields,
    _Repository,
    _store_errors,
)


class SubscriptionRepository(_Repository):
    """Message and signal catch events waiting for a correlation."""

    @_store_errors
    def add(self, row: records.SubscriptionRow) -> None:
        """Insert a new subscription.

        Raises:
            StoreError: The database failed, e.g. the id exists.
        """
        self._session.execute(insert(models.Subscription).values(**_fields(row)))

    @_store_errors
    def list(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        instance_id: str | None = None,
        business_key: str | None = None,
        start_events_only: bool = False,
    ) -> builtins.list[records.SubscriptionRow]:
        """Return subscriptions matching every filter given, oldest first (created_at, id).

        Args:
            kind: "message" or "signal".
            name: The message or signal name.
            instance_id: Only this instance's subscriptions.
            business_key: Only subscriptions with exactly this business key.
            start_events_only: Only start events of definitions (no instance).
        """
        stmt = _equal(
            select(models.Subscription),
            models.Subscription,
            kind=kind,
            name=name,
            instance_id=instance_id,
            business_key=business_key,
        )
        if start_events_only:
            stmt = stmt.where(models.Subscription.instance_id.is_(None))
        stmt = stmt.order_by(models.Subscription.created_at, models.Subscription.id)
        return [_subscription_row(m) for m in _all(self._session, stmt)]

    @_store_errors
    def delete(self, id: str) -> None:
        """Delete a subscription.

        Raises:
            NotFound: No subscription has this id.
            StoreError: The database failed.
        """
        _delete_by_id(self._session, models.Subscription, "subscription", id)

    @_store_errors
    def delete_for_instance(self, instance_id: str) -> None:
        """Delete every subscription of an instance (there may be none)."""
        self._session.execute(
            delete(models.Subscription).where(models.Subscription.instance_id == instance_id),
            execution_options={"synchronize_session": False},
        )

    @_store_errors
    def delete_for_definition(self, definition_id: int) -> None:
        """Delete every subscription of a definition (there may be none)."""
        self._session.execute(
            delete(models.Subscription).where(models.Subscription.definition_id == definition_id),
            execution_options={"synchronize_session": False},
        )


def _subscription_row(model: models.Subscription) -> records.SubscriptionRow:
    return records.SubscriptionRow(
        id=model.id,
        instance_id=model.instance_id,
        definition_id=model.definition_id,
        kind=model.kind,
        name=model.name,
        element_id=model.element_id,
        task_ref=model.task_ref,
        business_key=model.business_key,
        created_at=model.created_at,
    )
