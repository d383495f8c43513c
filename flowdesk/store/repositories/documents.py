"""The documents rendered for instances, kept in the order they were made."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import insert, select

from flowdesk.store import models, records
from flowdesk.store.repositories.base import _all, _Repository, _store_errors


class DocumentRepository(_Repository):
    """Documents of instances; written once, never changed."""

    @_store_errors
    def add(
        self,
        *,
        instance_id: str,
        name: str,
        media_type: str,
        content: str,
        created_at: datetime,
        element_id: str | None = None,
    ) -> None:
        """Store one document of `instance_id`.

        Raises:
            StoreError: The database failed (e.g. the instance does not exist).
        """
        self._session.execute(
            insert(models.Document).values(
                instance_id=instance_id,
                element_id=element_id,
                name=name,
                media_type=media_type,
                content=content,
                created_at=created_at,
            )
        )

    @_store_errors
    def list(self, instance_id: str) -> builtins.list[records.DocumentRow]:
        """The instance's documents, oldest first."""
        stmt = (
            select(models.Document)
            .where(models.Document.instance_id == instance_id)
            .order_by(models.Document.id)
        )
        return [
            records.DocumentRow(
                id=m.id,
                instance_id=m.instance_id,
                element_id=m.element_id,
                name=m.name,
                media_type=m.media_type,
                content=m.content,
                created_at=m.created_at,
            )
            for m in _all(self._session, stmt)
        ]
