"""The repository of process instances, saved with optimistic locking."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.exc import DBAPIError

from flowdesk import errors
from flowdesk.store import records
from flowdesk.store.repositories.base import (
    _IN_BATCH,
    _INSTANCES,
    Transaction,
    _check_fields,
    _fields,
    _Repository,
    _store_errors,
)
from flowdesk.store.repositories.driver_statements import DriverStatement

VariableValue = str | int | float | bool

# PostgreSQL: serialization_failure and deadlock_detected. Both mean "another transaction got
# there first"; retrying the whole call is safe.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


class InstanceRepository(_Repository):
    """Process instances, saved with optimistic locking on `lock_version`."""

    _CHANGEABLE = frozenset(f.name for f in dataclasses.fields(records.InstanceRow)) - {
        "id",
        "lock_version",
    }

    def __init__(self, transaction: Transaction) -> None:
        super().__init__(transaction)
        # The rows this unit of work wrote, as written: nobody else can change them before it
        # ends (SQLite has one writer; PostgreSQL holds an updated row's lock until commit).
        self._written: dict[str, records.InstanceRow] = {}

    @_store_errors
    def add(self, row: records.InstanceRow) -> None:
        """Insert a new instance.

        Raises:
            StoreError: The database failed, e.g. the id exists or the definition does not.
        """
        _INSERT_INSTANCE.run_many(self._connection, [_fields(row)])

    def saved(self, id: str) -> records.InstanceRow:
        """The instance as this unit of work last saved it (`update`), without reading it
        again; read like `get` when this unit of work has not saved it.

        Raises:
            NotFound: No instance has this id.
            StoreError: The database failed.
        """
        row = self._written.get(id)
        return row if row is not None else self.summary(id)

    @_store_errors
    def get(self, id: str) -> records.InstanceRow:
        """Return the instance with this id.

        Raises:
            NotFound: No instance has this id.
            StoreError: The database failed.
        """
        row = self.find(id)
        if row is None:
            raise errors.NotFound("instance", id)
        return row

    @_store_errors
    def find(self, id: str) -> records.InstanceRow | None:
        """Return the instance with this id, or None."""
        found = _FIND_INSTANCE.rows(self._connection, {"id": id})
        return _instance_from(found[0]) if found else None

    @_store_errors
    def variables_of(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """Return the variables of these instances, by id; unknown ids are left out.

        Reads only the `variables` column, never the serialized workflow, in one query per
        `_IN_BATCH` ids.
        """
        wanted = sorted(set(ids))
        if len(wanted) == 1:  # a task list of one instance: the step's own read
            return {
                row["id"]: row["variables"]
                for row in _VARIABLES_OF_ONE.rows(self._connection, {"id": wanted[0]})
            }
        found: dict[str, dict[str, Any]] = {}
        connection = self._connection
        for first in range(0, len(wanted), _IN_BATCH):
            batch = {"ids": wanted[first : first + _IN_BATCH]}
            found.update(
                (id, variables) for id, variables in connection.execute(_VARIABLES_OF, batch)
            )
        return found

    @_store_errors
    def list(
        self,
        *,
        process_key: str | None = None,
        state: str | None = None,
        business_key: str | None = None,
        definition_id: int | None = None,
        parent_instance_id: str | None = None,
        variables: Mapping[str, VariableValue] | None = None,
        limit: int | None = None,
    ) -> builtins.list[records.InstanceRow]:
        """Return instances matching every filter given, oldest first (started_at, then id).

        The rows leave out the serialized workflow (`workflow_state` is None): a list never
        reads it. `get` reads one instance with it.

        Args:
            variables: Only instances where each of these variables holds this value, of the
                same JSON type (the text "1" is not the number 1).

        Raises:
            TypeError: A variable value is not a string, number or boolean.
            ValueError: A variable name holds a double quote.
        """
        filters = {
            "process_key": process_key,
            "state": state,
            "business_key": business_key,
            "definition_id": definition_id,
            "parent_instance_id": parent_instance_id,
        }
        stmt = _SUMMARIES.where(
            *(_INSTANCES.c[name] == value for name, value in filters.items() if value is not None)
        )
        postgresql = self._connection.dialect.name == "postgresql"
        for name, value in (variables or {}).items():
            stmt = stmt.where(_variable_equals(name, value, postgresql=postgresql))
        stmt = stmt.order_by(_INSTANCES.c.started_at, _INSTANCES.c.id).limit(limit)
        return [_summary_from(row._mapping) for row in self._connection.execute(stmt)]

    @_store_errors
    def summary(self, id: str) -> records.InstanceRow:
        """The instance without its serialized workflow (`workflow_state` None), for callers
        that need its keys, state or variables only.

        Raises:
            NotFound: No instance has this id.
            StoreError: The database failed.
        """
        found = _FIND_SUMMARY.rows(self._connection, {"id": id})
        if not found:
            raise errors.NotFound("instance", id)
        return _summary_from(found[0])

    @_store_errors
    def update(self, id: str, *, expected_lock_version: int, **changes: Any) -> records.InstanceRow:
        """Save changes to an instance if nobody else saved it since it was read.

        Runs `UPDATE ... SET ..., lock_version = lock_version + 1 WHERE id = :id AND
        lock_version = :expected`. On PostgreSQL a concurrent writer of the same row waits for
        the first to commit, then matches no row; on SQLite writers are serialised, so the
        second simply matches no row.

        Args:
            id: The instance.
            expected_lock_version: The `lock_version` of the row the caller read.
            **changes: New values, by `InstanceRow` field name (not `id` or `lock_version`).

        Returns:
            The row as saved, with `lock_version` one higher.

        Raises:
            ConcurrencyConflict: The instance was saved by someone else since it was read.
            NotFound: No instance has this id.
            TypeError: A change names no changeable field.
            StoreError: The database failed.
        """
        _check_fields(changes, self._CHANGEABLE, "instance")
        params = {f"new_{name}": value for name, value in changes.items()}
        params.update(instance_id=id, expected_lock_version=expected_lock_version)
        try:
            stmt = _update_instance(tuple(sorted(changes)))
            found = stmt.rows(self._connection, params)
            saved = found[0] if found else None
        except DBAPIError as err:
            if getattr(err.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
                raise errors.ConcurrencyConflict(id) from err
            raise
        if saved is None:
            if self.find(id) is None:
                raise errors.NotFound("instance", id)
            raise errors.ConcurrencyConflict(id)
        if "workflow_state" in changes:
            saved = {**saved, "workflow_state": changes["workflow_state"]}
        row = self._written[id] = _instance_from(saved)
        return row


# -- Core statements of the hot path (why Core, not the ORM: see `base`) ----------------------

_INSTANCE_FIELDS = tuple(f.name for f in dataclasses.fields(records.InstanceRow))

_FIND_INSTANCE = DriverStatement(select(_INSTANCES).where(_INSTANCES.c.id == bindparam("id")))

_INSERT_INSTANCE = DriverStatement(insert(_INSTANCES))

# Every column but the serialized workflow: what lists and summaries read.
_SUMMARIES = select(*(c for c in _INSTANCES.c if c.key != "workflow_state"))
_FIND_SUMMARY = DriverStatement(_SUMMARIES.where(_INSTANCES.c.id == bindparam("id")))

_VARIABLES_OF_ONE = DriverStatement(
    select(_INSTANCES.c.id, _INSTANCES.c.variables).where(_INSTANCES.c.id == bindparam("id"))
)

_VARIABLES_OF = select(_INSTANCES.c.id, _INSTANCES.c.variables).where(
    _INSTANCES.c.id.in_(bindparam("ids", expanding=True))
)

# `InstanceRepository.update` statements by the fields they change: built once each (a step
# changes the same few), since building one costs more than running it.
_INSTANCE_UPDATES: dict[tuple[str, ...], DriverStatement] = {}


def _update_instance(fields: tuple[str, ...]) -> DriverStatement:
    found = _INSTANCE_UPDATES.get(fields)
    if found is None:
        values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in fields}
        values["lock_version"] = _INSTANCES.c.lock_version + 1
        stmt = (
            update(_INSTANCES)
            .where(
                _INSTANCES.c.id == bindparam("instance_id"),
                _INSTANCES.c.lock_version == bindparam("expected_lock_version"),
            )
            .values(values)
            # A state just written is not read back: it is what the caller gave (and may be
            # megabytes); `update` puts it in the row.
            .returning(
                *(c for c in _INSTANCES.c if c.key != "workflow_state" or c.key not in fields)
            )
        )
        found = _INSTANCE_UPDATES[fields] = DriverStatement(stmt)
    return found


def _summary_from(values: Mapping[Any, Any]) -> records.InstanceRow:
    return records.InstanceRow(
        **{name: values[name] for name in _INSTANCE_FIELDS if name != "workflow_state"},
        workflow_state=None,
    )


def _instance_from(values: Mapping[Any, Any]) -> records.InstanceRow:
    return records.InstanceRow(**{name: values[name] for name in _INSTANCE_FIELDS})


# SQLite's json_type names for each Python type a filter may hold.
_JSON_TYPES: dict[type, tuple[str, ...]] = {
    str: ("text",),
    int: ("integer", "real"),
    float: ("integer", "real"),
}


def _variable_equals(name: str, value: VariableValue, *, postgresql: bool) -> ColumnElement[bool]:
    """Whether an instance's variable `name` holds `value`, as a JSON value of its type."""
    if not isinstance(value, str | int | float | bool):
        raise TypeError(f"variable filter {name!r}: {value!r} is not a string, number or boolean")
    column = _INSTANCES.c.variables
    if postgresql:  # JSONB containment compares type and value, and can use a GIN index
        return type_coerce(column, pg.JSONB).contains({name: value})
    if '"' in name:
        raise ValueError(f"variable filter {name!r}: a name may not hold a double quote")
    path = f'$."{name}"'
    if isinstance(value, bool):
        return func.json_type(column, path) == ("true" if value else "false")
    return and_(
        func.json_type(column, path).in_(_JSON_TYPES[type(value)]),
        func.json_extract(column, path) == value,
    )
