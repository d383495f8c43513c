"""The repository of deployed BPMN processes and DMN decisions."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import and_, bindparam, func, insert, select

from flowdesk import errors
from flowdesk.store import models, records
from flowdesk.store.repositories.base import (
    _all,
    _equal,
    _first,
    _Repository,
    _returning,
    _store_errors,
    _table,
)
from flowdesk.store.repositories.driver_statements import DriverStatement


class DefinitionRepository(_Repository):
    """Deployed BPMN processes and DMN decisions, versioned per (kind, key)."""

    @_store_errors
    def add(
        self,
        *,
        key: str,
        name: str,
        kind: str,
        resource_name: str,
        content_hash: str,
        xml: str,
        deployed_at: datetime,
    ) -> records.DefinitionRow:
        """Store a new version of a definition.

        Args:
            key: The BPMN process id or DMN decision id.
            name: Display name.
            kind: "process" or "decision".
            resource_name: The file it came from.
            content_hash: Hash of the XML, to recognise an unchanged redeploy.
            xml: The whole document.
            deployed_at: When, as an aware datetime.

        Returns:
            The stored row, with `version` one above the highest of this (kind, key), from 1.

        Raises:
            StoreError: The database failed, e.g. a concurrent deploy took the same version.
        """
        highest = self._session.scalar(
            select(func.max(models.Definition.version)).where(
                models.Definition.kind == kind, models.Definition.key == key
            )
        )
        stmt = (
            insert(models.Definition)
            .values(
                key=key,
                version=(highest or 0) + 1,
                name=name,
                kind=kind,
                resource_name=resource_name,
                content_hash=content_hash,
                xml=xml,
                deployed_at=deployed_at,
            )
            .returning(models.Definition)
        )
        return _definition_row(_returning(self._session, stmt))

    @_store_errors
    def get(self, id: int) -> records.DefinitionRow:
        """Return the definition with this id.

        Raises:
            NotFound: No definition has this id.
            StoreError: The database failed.
        """
        model = _first(self._session, select(models.Definition).where(models.Definition.id == id))
        if model is None:
            raise errors.NotFound("definition", str(id))
        return _definition_row(model)

    @_store_errors
    def find_by_hash(self, kind: str, key: str, content_hash: str) -> records.DefinitionRow | None:
        """Return the newest version of (kind, key) whose XML has this hash, or None."""
        stmt = (
            select(models.Definition)
            .where(
                models.Definition.kind == kind,
                models.Definition.key == key,
                models.Definition.content_hash == content_hash,
            )
            .order_by(models.Definition.version.desc())
            .limit(1)
        )
        model = _first(self._session, stmt)
        return None if model is None else _definition_row(model)

    @_store_errors
    def latest(
        self, kind: str, key: str, *, max_id: int | None = None
    ) -> records.DefinitionRow | None:
        """Return the highest version of (kind, key), or None if there is none.

        Args:
            kind: "process" or "decision".
            key: The BPMN process id or DMN decision id.
            max_id: Consider only definitions with `id <= max_id`: what was deployed by then
                (e.g. a call activity resolving its callee as of its caller's deployment).
        """
        stmt = select(models.Definition).where(
            models.Definition.kind == kind, models.Definition.key == key
        )
        if max_id is not None:
            stmt = stmt.where(models.Definition.id <= max_id)
        model = _first(self._session, stmt.order_by(models.Definition.version.desc()).limit(1))
        return None if model is None else _definition_row(model)

    @_store_errors
    def latest_id(self, kind: str, key: str) -> int | None:
        """The id of the highest version of (kind, key), or None; reads no model text (a start
        takes the rest from the engine's cache of deployed versions, which never change)."""
        found = _LATEST_ID.rows(self._connection, {"kind": kind, "key": key})
        return int(found[0]["id"]) if found else None

    @_store_errors
    def find_version(self, kind: str, key: str, version: int) -> records.DefinitionRow | None:
        """Return one version of (kind, key), or None."""
        stmt = select(models.Definition).where(
            models.Definition.kind == kind,
            models.Definition.key == key,
            models.Definition.version == version,
        )
        model = _first(self._session, stmt)
        return None if model is None else _definition_row(model)

    @_store_errors
    def list(
        self, *, kind: str | None = None, key: str | None = None, latest_only: bool = False
    ) -> builtins.list[records.DefinitionRow]:
        """Return definitions ordered by key, then version.

        Args:
            kind: Only this kind.
            key: Only this key.
            latest_only: Only the highest version of each (kind, key).
        """
        stmt = _equal(select(models.Definition), models.Definition, kind=kind, key=key)
        if latest_only:
            newest = (
                select(
                    models.Definition.kind,
                    models.Definition.key,
                    func.max(models.Definition.version).label("version"),
                )
                .group_by(models.Definition.kind, models.Definition.key)
                .subquery()
            )
            stmt = stmt.join(
                newest,
                and_(
                    models.Definition.kind == newest.c.kind,
                    models.Definition.key == newest.c.key,
                    models.Definition.version == newest.c.version,
                ),
            )
        stmt = stmt.order_by(models.Definition.key, models.Definition.version, models.Definition.id)
        return [_definition_row(m) for m in _all(self._session, stmt)]


def _definition_row(model: models.Definition) -> records.DefinitionRow:
    return records.DefinitionRow(
        id=model.id,
        key=model.key,
        version=model.version,
        name=model.name,
        kind=model.kind,
        resource_name=model.resource_name,
        content_hash=model.content_hash,
        xml=model.xml,
        deployed_at=model.deployed_at,
    )


_DEFINITIONS = _table(models.Definition)
_LATEST_ID = DriverStatement(
    select(_DEFINITIONS.c.id)
    .where(_DEFINITIONS.c.kind == bindparam("kind"), _DEFINITIONS.c.key == bindparam("key"))
    .order_by(_DEFINITIONS.c.version.desc())
    .limit(1)
)
