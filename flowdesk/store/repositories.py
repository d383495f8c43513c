"""Repositories: read and write the store's tables and hand out the frozen rows of `records`.

A repository works inside the unit of work that made it and never commits. Every statement is
an explicit `select()`, `insert()`, `update()` or `delete()`, executed at once (nothing waits
for a flush), and reads refresh any object already in the session (`populate_existing`): the
session's identity map never hands out a stale row, and deleting then re-adding an id in one
unit of work works.
SQLAlchemy errors leave a repository as `StoreError`, or as `ConcurrencyConflict` where an
optimistic lock was lost.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, selectinload

from flowdesk import errors
from flowdesk.store import models, records

__all__ = [
    "DefinitionRepository",
    "HistoryRepository",
    "InstanceRepository",
    "JobRepository",
    "SubscriptionRepository",
    "UserTaskRepository",
    "raise_as_flowdesk_error",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

# PostgreSQL: serialization_failure and deadlock_detected. Both mean "another transaction got
# there first"; retrying the whole call is safe.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

_GROUP = "group"
_USER = "user"

# Ids per `IN (...)` list: far below SQLite's limit of 32,766 bound parameters per statement.
_IN_BATCH = 1000


def raise_as_flowdesk_error(err: SQLAlchemyError) -> NoReturn:
    """Raise, in place of a SQLAlchemy error, the error a flowdesk caller should see.

    A ValueError or TypeError raised while SQLAlchemy converted a Python value for the database
    (a naive datetime, a variable that is not JSON) is the caller's mistake, not a database
    failure: it is raised as it was. Everything else becomes `StoreError`, with the SQLAlchemy
    error on `__cause__`. The message names the error class and the database's first line,
    never the SQL parameters, which may hold process variables.
    """
    orig = err.orig if isinstance(err, StatementError) else None
    if not isinstance(err, DBAPIError) and isinstance(orig, ValueError | TypeError):
        raise orig from None
    detail = str(orig if orig is not None else err.args[0] if err.args else "").strip()
    first_line = detail.splitlines()[0] if detail else "no detail"
    raise errors.StoreError(f"database error ({type(err).__name__}): {first_line}") from err


def _store_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Let no SQLAlchemy error out of a repository method (see `raise_as_flowdesk_error`)."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as err:
            raise_as_flowdesk_error(err)

    return wrapper


class _Repository:
    """Holds the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session


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


class InstanceRepository(_Repository):
    """Process instances, saved with optimistic locking on `lock_version`."""

    _CHANGEABLE = frozenset(f.name for f in dataclasses.fields(records.InstanceRow)) - {
        "id",
        "lock_version",
    }

    @_store_errors
    def add(self, row: records.InstanceRow) -> None:
        """Insert a new instance.

        Raises:
            StoreError: The database failed, e.g. the id exists or the definition does not.
        """
        self._session.execute(insert(models.Instance).values(**_fields(row)))

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
        found = self._session.connection().execute(_FIND_INSTANCE, {"id": id}).first()
        return None if found is None else _instance_from(found)

    @_store_errors
    def variables_of(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """Return the variables of these instances, by id; unknown ids are left out.

        Reads only the `variables` column, never the serialized workflow, in one query per
        `_IN_BATCH` ids.
        """
        wanted = sorted(set(ids))
        found: dict[str, dict[str, Any]] = {}
        for first in range(0, len(wanted), _IN_BATCH):
            stmt = select(models.Instance.id, models.Instance.variables).where(
                models.Instance.id.in_(wanted[first : first + _IN_BATCH])
            )
            found.update((id, variables) for id, variables in self._session.execute(stmt))
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
        limit: int | None = None,
    ) -> builtins.list[records.InstanceRow]:
        """Return instances matching every filter given, oldest first (started_at, then id)."""
        stmt = _equal(
            select(models.Instance),
            models.Instance,
            process_key=process_key,
            state=state,
            business_key=business_key,
            definition_id=definition_id,
            parent_instance_id=parent_instance_id,
        )
        stmt = stmt.order_by(models.Instance.started_at, models.Instance.id).limit(limit)
        return [_instance_row(m) for m in _all(self._session, stmt)]

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
            saved = self._session.connection().execute(stmt, params).first()
        except DBAPIError as err:
            if getattr(err.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
                raise errors.ConcurrencyConflict(id) from err
            raise
        if saved is None:
            if self.find(id) is None:
                raise errors.NotFound("instance", id)
            raise errors.ConcurrencyConflict(id)
        return _instance_from(saved)


class UserTaskRepository(_Repository):
    """User tasks with their candidate groups and users."""

    _CHANGEABLE = frozenset(f.name for f in dataclasses.fields(records.UserTaskRow)) - {
        "id",
        "instance_id",
        "process_key",
        "business_key",
    }

    @_store_errors
    def add(self, row: records.UserTaskRow) -> None:
        """Insert a new task and its candidates.

        `process_key` and `business_key` of the row are ignored: they are read from the
        instance. Duplicate candidates are stored once.

        Raises:
            StoreError: The database failed, e.g. the id exists or the instance does not.
        """
        values = _fields(row)
        for name in ("candidate_groups", "candidate_users", "process_key", "business_key"):
            del values[name]
        self._session.connection().execute(_INSERT_TASK, values)
        groups, users = row.candidate_groups, row.candidate_users
        self._add_candidates(row.id, *_candidates(_GROUP, groups), *_candidates(_USER, users))

    @_store_errors
    def get(self, id: str) -> records.UserTaskRow:
        """Return the task with this id, in any state.

        Raises:
            NotFound: No task has this id.
            StoreError: The database failed.
        """
        row = self.find(id)
        if row is None:
            raise errors.NotFound("task", id)
        return row

    @_store_errors
    def find(self, id: str) -> records.UserTaskRow | None:
        """Return the task with this id, in any state, or None."""
        return _task_from(self._session.connection().execute(_FIND_TASK, {"id": id}).all())

    @_store_errors
    def list(
        self,
        *,
        state: str | None = records.TaskState.OPEN,
        instance_id: str | None = None,
        assignee: str | None = None,
        candidate_group: str | None = None,
        candidate_groups: Collection[str] | None = None,
        candidate_user: str | None = None,
        process_key: str | None = None,
        business_key: str | None = None,
        element_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[records.UserTaskRow]:
        """Return tasks matching every filter given, oldest first (created_at, then id).

        Each filter seeks its own index (see `models.UserTask`); candidate filters read the
        matching task ids from `task_candidates` by (kind, value) first.

        Args:
            state: Only tasks in this state; None for any state. Default: open tasks.
            instance_id: Only tasks of this instance.
            assignee: Only tasks held by this user.
            candidate_group: Only tasks that name this candidate group.
            candidate_groups: With `candidate_user`: only tasks offered to that user, directly
                or through one of these groups. Alone: only tasks that name at least one of
                these groups (an empty collection matches nothing).
            candidate_user: Only tasks that name this candidate user (or, with
                `candidate_groups`, one of those groups).
            process_key: Only tasks of instances of this process.
            business_key: Only tasks of instances with this business key.
            element_id: Only tasks of this BPMN element.
            limit: At most this many.
            offset: Skip this many first (with the order above, pages do not overlap).
        """
        where: builtins.list[ColumnElement[bool]] = []
        if state is not None:
            where.append(models.UserTask.state == state)
        if instance_id is not None:
            where.append(models.UserTask.instance_id == instance_id)
        if assignee is not None:
            where.append(models.UserTask.assignee == assignee)
        if element_id is not None:
            where.append(models.UserTask.element_id == element_id)
        if process_key is not None:
            where.append(models.Instance.process_key == process_key)
        if business_key is not None:
            where.append(models.Instance.business_key == business_key)
        if candidate_group is not None:
            where.append(_has_candidate(_GROUP, [candidate_group]))
        offered: builtins.list[Select[str]] = []
        if candidate_user is not None:
            offered.append(_candidate_task_ids(_USER, [candidate_user]))
        if candidate_groups is not None:
            offered.append(_candidate_task_ids(_GROUP, candidate_groups))
        if offered:
            # One index seek per branch, not an OR that a planner may turn into a scan.
            where.append(models.UserTask.id.in_(union_all(*offered)))
        return self._select(*where, limit=limit, offset=offset)

    @_store_errors
    def update(self, id: str, **changes: Any) -> records.UserTaskRow:
        """Change a task; new `candidate_groups` or `candidate_users` replace the old ones.

        Args:
            id: The task.
            **changes: New values, by `UserTaskRow` field name (not `id`, `instance_id`,
                `process_key` or `business_key`).

        Returns:
            The task as saved.

        Raises:
            NotFound: No task has this id.
            TypeError: A change names no changeable field.
            StoreError: The database failed.
        """
        _check_fields(changes, self._CHANGEABLE, "task")
        groups = changes.pop("candidate_groups", None)
        users = changes.pop("candidate_users", None)
        if changes:
            result = self._session.execute(
                update(models.UserTask).where(models.UserTask.id == id).values(**changes),
                execution_options={"synchronize_session": False},
            )
            found = _rowcount(result) > 0
        else:
            found = (
                self._session.scalar(select(models.UserTask.id).where(models.UserTask.id == id))
                is not None
            )
        if not found:
            raise errors.NotFound("task", id)
        for kind, values in ((_GROUP, groups), (_USER, users)):
            if values is not None:
                self._session.execute(
                    delete(models.TaskCandidate).where(
                        models.TaskCandidate.task_id == id, models.TaskCandidate.kind == kind
                    ),
                    execution_options={"synchronize_session": False},
                )
                self._add_candidates(id, *_candidates(kind, values))
        return self.get(id)

    @_store_errors
    def claim(self, id: str, *, user: str, at: datetime) -> records.UserTaskRow | None:
        """Give an open task that nobody holds to `user`, as one conditional update.

        Runs `UPDATE user_tasks SET assignee = :user, claimed_at = :at WHERE id = :id AND
        state = 'open' AND assignee IS NULL`. On PostgreSQL a concurrent claim or completion of
        the same row waits for the first to commit, then re-checks the condition against the
        committed row and matches nothing; of two claimers exactly one wins.

        Returns:
            The task as claimed, or None when no row matched: the task is gone, not open, or
            held by someone (read it again to tell which).

        Raises:
            StoreError: The database failed.
        """
        result = self._session.execute(
            update(models.UserTask)
            .where(
                models.UserTask.id == id,
                models.UserTask.state == records.TaskState.OPEN,
                models.UserTask.assignee.is_(None),
            )
            .values(assignee=user, claimed_at=at),
            execution_options={"synchronize_session": False},
        )
        return self.get(id) if _rowcount(result) > 0 else None

    @_store_errors
    def get_for_update(self, id: str) -> records.UserTaskRow:
        """Return the task, its row locked until the unit of work ends (PostgreSQL).

        A concurrent claim or completion of the same task waits for this unit of work, then
        sees what it committed; a reader that checks state and assignee here therefore acts on
        the row as it stays. On SQLite the unit of work already holds the only write lock.

        Raises:
            NotFound: No task has this id.
            StoreError: The database failed.
        """
        stmt = _FIND_TASK_FOR_UPDATE if self._is_postgresql() else _FIND_TASK
        row = _task_from(self._session.connection().execute(stmt, {"id": id}).all())
        if row is None:
            raise errors.NotFound("task", id)
        return row

    @_store_errors
    def close(self, id: str, *, state: str, at: datetime, by: str | None = None) -> None:
        """Mark a task completed or cancelled, at `at` (by `by`), as one UPDATE.

        For the hot path of a step: `update` would read the task back.

        Raises:
            NotFound: No task has this id.
            StoreError: The database failed.
        """
        result = self._session.connection().execute(
            _CLOSE_TASK, {"task_id": id, "new_state": state, "at": at, "by": by}
        )
        if _rowcount(result) == 0:
            raise errors.NotFound("task", id)

    @_store_errors
    def open_element_ids(self, instance_id: str) -> dict[str, str]:
        """The open tasks of an instance, oldest first: task id -> element id."""
        rows = self._session.connection().execute(_OPEN_TASKS_OF, {"instance_id": instance_id})
        return {task_id: element_id for task_id, element_id in rows}

    def _is_postgresql(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    @_store_errors
    def reassign(self, from_user: str, to_user: str) -> int:
        """Move a user's open tasks to another user.

        Open tasks held by `from_user` are assigned to `to_user` (keeping `claimed_at`), and
        `from_user` is replaced by `to_user` among the candidate users of open tasks. Both
        lookups seek an index that leads with the user's name: `(assignee, state)` for the
        held tasks, `(kind, value, task_id)` of the candidates and then the tasks' primary key
        for the offered ones; neither reads the open tasks of other users.

        Returns:
            How many distinct open tasks changed, by either rule.

        Raises:
            StoreError: The database failed.
        """
        if from_user == to_user:
            return 0
        # One conditional UPDATE: on PostgreSQL a task completed meanwhile is re-checked after
        # the completer commits and is left alone.
        held = set(
            self._session.scalars(
                update(models.UserTask)
                .where(
                    models.UserTask.assignee == from_user,
                    models.UserTask.state == records.TaskState.OPEN,
                )
                .values(assignee=to_user)
                .returning(models.UserTask.id),
                execution_options={"synchronize_session": False},
            )
        )
        offered = sorted(
            self._session.scalars(
                select(models.TaskCandidate.task_id)
                .join(models.UserTask, models.UserTask.id == models.TaskCandidate.task_id)
                .where(
                    models.TaskCandidate.kind == _USER,
                    models.TaskCandidate.value == from_user,
                    models.UserTask.state == records.TaskState.OPEN,
                )
            )
        )
        for first in range(0, len(offered), _IN_BATCH):
            batch = offered[first : first + _IN_BATCH]
            already = set(
                self._session.scalars(
                    select(models.TaskCandidate.task_id).where(
                        models.TaskCandidate.kind == _USER,
                        models.TaskCandidate.value == to_user,
                        models.TaskCandidate.task_id.in_(batch),
                    )
                )
            )
            self._session.execute(
                delete(models.TaskCandidate).where(
                    models.TaskCandidate.kind == _USER,
                    models.TaskCandidate.value == from_user,
                    models.TaskCandidate.task_id.in_(batch),
                ),
                execution_options={"synchronize_session": False},
            )
            rows = [
                {"task_id": task_id, "kind": _USER, "value": to_user}
                for task_id in batch
                if task_id not in already
            ]
            if rows:
                self._session.connection().execute(_INSERT_CANDIDATE, rows)
        return len(held.union(offered))

    def _add_candidates(self, task_id: str, *candidates: tuple[str, str]) -> None:
        """Insert (kind, value) candidates of a task, all in one statement."""
        rows = [{"task_id": task_id, "kind": kind, "value": value} for kind, value in candidates]
        if rows:
            self._session.connection().execute(_INSERT_CANDIDATE, rows)

    def _select(
        self, *where: ColumnElement[bool], limit: int | None, offset: int = 0
    ) -> builtins.list[records.UserTaskRow]:
        stmt = (
            select(models.UserTask, models.Instance.process_key, models.Instance.business_key)
            .join(models.Instance, models.Instance.id == models.UserTask.instance_id)
            .where(*where)
            .options(selectinload(models.UserTask.candidates))
            .order_by(models.UserTask.created_at, models.UserTask.id)
            .limit(limit)
            .offset(offset or None)
        )
        result = self._session.execute(stmt, execution_options={"populate_existing": True})
        return [
            _task_row(task, process_key=process_key, business_key=business_key)
            for task, process_key, business_key in result
        ]


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
            self._session.connection().execute(_INSERT_HISTORY, rows)

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


class JobRepository(_Repository):
    """Timers and other deferred work, leased to one worker at a time.

    Job claiming is built on two mechanisms. A lease (`locked_by`, `lock_expires_at`) written
    and committed by `acquire_due` keeps other workers off a job while its owner runs it in a
    later transaction, and lets another worker take it over once the lease expires (the owner
    died). On PostgreSQL, `SELECT ... FOR UPDATE SKIP LOCKED` makes concurrent acquirers skip
    rows another transaction is leasing at that very moment instead of waiting for it or
    leasing the same job twice. SQLite has no row locks; its writers are serialised (every
    unit of work that may write begins with `BEGIN IMMEDIATE`), which gives the same result.
    Advisory locks and a separate queue table were dropped: they add moving parts without
    doing more than this.
    """

    _CHANGEABLE = frozenset(f.name for f in dataclasses.fields(records.JobRow)) - {"id"}

    @_store_errors
    def add(self, row: records.JobRow) -> None:
        """Insert a new job.

        Raises:
            StoreError: The database failed, e.g. the id exists or the instance does not.
        """
        self._session.execute(insert(models.Job).values(**_fields(row)))

    @_store_errors
    def get(self, id: str) -> records.JobRow:
        """Return the job with this id.

        Raises:
            NotFound: No job has this id.
            StoreError: The database failed.
        """
        model = _first(self._session, select(models.Job).where(models.Job.id == id))
        if model is None:
            raise errors.NotFound("job", id)
        return _job_row(model)

    @_store_errors
    def get_for_update(self, id: str) -> records.JobRow:
        """Return the job, its row locked until the unit of work ends (PostgreSQL).

        The worker that runs a job holds its row, so a worker that took the job over after
        the lease ran out skips it (`SKIP LOCKED`) instead of running it alongside.

        Raises:
            NotFound: No job has this id.
            StoreError: The database failed.
        """
        self._session.execute(select(models.Job.id).where(models.Job.id == id).with_for_update())
        return self.get(id)

    @_store_errors
    def list(
        self,
        *,
        instance_id: str | None = None,
        state: str | None = None,
        definition_id: int | None = None,
    ) -> builtins.list[records.JobRow]:
        """Return jobs matching every filter given, soonest first (due_at, then id)."""
        stmt = _equal(
            select(models.Job),
            models.Job,
            instance_id=instance_id,
            definition_id=definition_id,
            state=state,
        )
        stmt = stmt.order_by(models.Job.due_at, models.Job.id)
        return [_job_row(m) for m in _all(self._session, stmt)]

    @_store_errors
    def delete(self, id: str) -> None:
        """Delete a job.

        Raises:
            NotFound: No job has this id.
            StoreError: The database failed.
        """
        _delete_by_id(self._session, models.Job, "job", id)

    @_store_errors
    def update(self, id: str, **changes: Any) -> records.JobRow:
        """Change a job.

        Args:
            id: The job.
            **changes: New values, by `JobRow` field name (not `id`).

        Returns:
            The job as saved.

        Raises:
            NotFound: No job has this id.
            TypeError: A change names no changeable field.
            StoreError: The database failed.
        """
        _check_fields(changes, self._CHANGEABLE, "job")
        if not changes:
            return self.get(id)
        stmt = update(models.Job).where(models.Job.id == id).values(**changes).returning(models.Job)
        model = _returning(self._session, stmt)
        if model is None:
            raise errors.NotFound("job", id)
        return _job_row(model)

    @_store_errors
    def acquire_due(
        self, now: datetime, *, owner: str, lease: timedelta, limit: int
    ) -> builtins.list[records.JobRow]:
        """Lease waiting jobs that are due and not leased to a live worker.

        Selects jobs with state "waiting", `due_at <= now` and no lease or an expired one
        (`lock_expires_at < now`), soonest first, skipping rows that a concurrent transaction
        has locked (PostgreSQL), and sets `locked_by=owner`, `lock_expires_at=now + lease`.
        Commit the unit of work to make the lease visible to other workers.

        Args:
            now: The current time, aware.
            owner: Names the worker, e.g. host and process id.
            lease: How long the worker may take before another may take the job over.
            limit: At most this many jobs.

        Returns:
            The leased jobs, soonest first.

        Raises:
            StoreError: The database failed.
        """
        due = (
            select(models.Job.id)
            .where(
                models.Job.state == records.JobState.WAITING,
                models.Job.due_at <= now,
                or_(models.Job.locked_by.is_(None), models.Job.lock_expires_at < now),
            )
            .order_by(models.Job.due_at, models.Job.id)
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = builtins.list(self._session.scalars(due))
        if not ids:
            return []
        stmt = (
            update(models.Job)
            .where(models.Job.id.in_(ids))
            .values(locked_by=owner, lock_expires_at=now + lease)
            .returning(models.Job)
        )
        leased = [_job_row(m) for m in _returning_all(self._session, stmt)]
        return sorted(leased, key=lambda job: (job.due_at, job.id))


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


def _first(session: Session, stmt: Any) -> Any:
    """The first entity the statement returns, refreshed from the database, or None."""
    return session.scalars(stmt, execution_options={"populate_existing": True}).first()


def _equal(stmt: Any, model: Any, **filters: object) -> Any:
    """`stmt` narrowed to rows whose columns equal each filter that is not None."""
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    return stmt


def _all(session: Session, stmt: Any) -> builtins.list[Any]:
    return builtins.list(session.scalars(stmt, execution_options={"populate_existing": True}).all())


def _returning(session: Session, stmt: Any) -> Any:
    """The first entity an UPDATE ... RETURNING gives back, refreshed in the session, or None."""
    rows = _returning_all(session, stmt)
    return rows[0] if rows else None


def _returning_all(session: Session, stmt: Any) -> builtins.list[Any]:
    options = {"populate_existing": True, "synchronize_session": False}
    return builtins.list(session.scalars(stmt, execution_options=options).all())


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


def _fields(row: Any) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}


def _check_fields(changes: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise TypeError(f"cannot change {what} field(s) {', '.join(unknown)}")


def _has_candidate(kind: str, values: Collection[str]) -> ColumnElement[bool]:
    """The task names one of these candidates of this kind.

    An uncorrelated `IN`, not `EXISTS`: the database seeks the candidates' (kind, value)
    index once and then each task by its key. SQLite would run a correlated `EXISTS` once per
    task that the other conditions leave.
    """
    return models.UserTask.id.in_(_candidate_task_ids(kind, values))


def _candidate_task_ids(kind: str, values: Collection[str]) -> Select[str]:
    """The ids of the tasks that name one of these candidates of this kind."""
    value = models.TaskCandidate.value
    chosen = sorted(set(values))
    # An empty IN matches nothing, as an empty `candidate_groups` must.
    matches = value == chosen[0] if len(chosen) == 1 else value.in_(chosen)
    return select(models.TaskCandidate.task_id).where(models.TaskCandidate.kind == kind, matches)


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


def _instance_row(model: models.Instance) -> records.InstanceRow:
    return records.InstanceRow(
        id=model.id,
        definition_id=model.definition_id,
        process_key=model.process_key,
        version=model.version,
        business_key=model.business_key,
        state=model.state,
        variables=model.variables,
        workflow_state=model.workflow_state,
        serializer_version=model.serializer_version,
        lock_version=model.lock_version,
        started_at=model.started_at,
        ended_at=model.ended_at,
        incident=model.incident,
        parent_instance_id=model.parent_instance_id,
        parent_task_ref=model.parent_task_ref,
    )


def _task_row(
    model: models.UserTask, *, process_key: str, business_key: str | None
) -> records.UserTaskRow:
    return records.UserTaskRow(
        id=model.id,
        instance_id=model.instance_id,
        element_id=model.element_id,
        name=model.name,
        state=model.state,
        assignee=model.assignee,
        candidate_groups=tuple(c.value for c in model.candidates if c.kind == _GROUP),
        candidate_users=tuple(c.value for c in model.candidates if c.kind == _USER),
        form_key=model.form_key,
        form_fields=model.form_fields,
        documentation=model.documentation,
        due=model.due,
        priority=model.priority,
        created_at=model.created_at,
        claimed_at=model.claimed_at,
        completed_at=model.completed_at,
        completed_by=model.completed_by,
        properties=model.properties,
        process_key=process_key,
        business_key=business_key,
    )


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


def _job_row(model: models.Job) -> records.JobRow:
    return records.JobRow(
        id=model.id,
        instance_id=model.instance_id,
        element_id=model.element_id,
        task_ref=model.task_ref,
        type=model.type,
        due_at=model.due_at,
        state=model.state,
        attempts=model.attempts,
        retries_left=model.retries_left,
        created_at=model.created_at,
        locked_by=model.locked_by,
        lock_expires_at=model.lock_expires_at,
        error=model.error,
        payload=model.payload,
        definition_id=model.definition_id,
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


def _delete_by_id(session: Session, model: Any, kind: str, id: str) -> None:
    """Delete one row by primary key; NotFound when there is none."""
    result = session.execute(
        delete(model).where(model.id == id),
        execution_options={"synchronize_session": False},
    )
    if _rowcount(result) == 0:
        raise errors.NotFound(kind, id)


# -- Core statements of the hot path ---------------------------------------------------------
# One step reads and writes these rows a few times; the ORM's loading and identity map cost more
# there than the statements themselves, and the rows leave the store as frozen records anyway.


def _table(model: type[models.Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_INSTANCES = _table(models.Instance)
_TASKS = _table(models.UserTask)
_CANDIDATES = _table(models.TaskCandidate)
_HISTORY = _table(models.HistoryEntry)
_INSTANCE_FIELDS = tuple(f.name for f in dataclasses.fields(records.InstanceRow))

_FIND_INSTANCE = select(_INSTANCES).where(_INSTANCES.c.id == bindparam("id"))

# The task, its instance's keys and its candidates in one statement: one result row per
# candidate (or one with NULLs for a task without candidates).
_FIND_TASK = (
    select(
        _TASKS,
        _INSTANCES.c.process_key.label("instance_process_key"),
        _INSTANCES.c.business_key.label("instance_business_key"),
        _CANDIDATES.c.kind.label("candidate_kind"),
        _CANDIDATES.c.value.label("candidate_value"),
    )
    .select_from(
        _TASKS.join(_INSTANCES, _INSTANCES.c.id == _TASKS.c.instance_id).outerjoin(
            _CANDIDATES, _CANDIDATES.c.task_id == _TASKS.c.id
        )
    )
    .where(_TASKS.c.id == bindparam("id"))
    .order_by(_CANDIDATES.c.kind, _CANDIDATES.c.value)
)
# PostgreSQL locks the task row only (not its instance, not the candidates).
_FIND_TASK_FOR_UPDATE = _FIND_TASK.with_for_update(of=_TASKS)

_CLOSE_TASK = (
    update(_TASKS)
    .where(_TASKS.c.id == bindparam("task_id"))
    .values(
        state=bindparam("new_state"), completed_at=bindparam("at"), completed_by=bindparam("by")
    )
)

_OPEN_TASKS_OF = (
    select(_TASKS.c.id, _TASKS.c.element_id)
    .where(
        _TASKS.c.instance_id == bindparam("instance_id"),
        _TASKS.c.state == records.TaskState.OPEN.value,
    )
    .order_by(_TASKS.c.created_at, _TASKS.c.id)
)


_INSERT_TASK = insert(_TASKS)
_INSERT_CANDIDATE = insert(_CANDIDATES)
_INSERT_HISTORY = insert(_HISTORY)

# `InstanceRepository.update` statements by the fields they change: built once each (a step
# changes the same few), since building one costs more than running it.
_INSTANCE_UPDATES: dict[tuple[str, ...], Update] = {}


def _update_instance(fields: tuple[str, ...]) -> Update:
    stmt = _INSTANCE_UPDATES.get(fields)
    if stmt is None:
        values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in fields}
        values["lock_version"] = _INSTANCES.c.lock_version + 1
        stmt = (
            update(_INSTANCES)
            .where(
                _INSTANCES.c.id == bindparam("instance_id"),
                _INSTANCES.c.lock_version == bindparam("expected_lock_version"),
            )
            .values(values)
            .returning(*_INSTANCES.c)
        )
        _INSTANCE_UPDATES[fields] = stmt
    return stmt


def _candidates(kind: str, values: Iterable[str]) -> builtins.list[tuple[str, str]]:
    """(kind, value) pairs, each value once, sorted."""
    return [(kind, value) for value in sorted(set(values))]


def _instance_from(row: Row[Any]) -> records.InstanceRow:
    values = row._mapping
    return records.InstanceRow(**{name: values[name] for name in _INSTANCE_FIELDS})


def _task_from(rows: Sequence[Row[Any]]) -> records.UserTaskRow | None:
    """The task of `_FIND_TASK`'s result rows, or None when there are none."""
    if not rows:
        return None
    first = rows[0]._mapping
    candidates = [(r.candidate_kind, r.candidate_value) for r in rows if r.candidate_kind]
    return records.UserTaskRow(
        id=first["id"],
        instance_id=first["instance_id"],
        element_id=first["element_id"],
        name=first["name"],
        state=first["state"],
        assignee=first["assignee"],
        candidate_groups=tuple(value for kind, value in candidates if kind == _GROUP),
        candidate_users=tuple(value for kind, value in candidates if kind == _USER),
        form_key=first["form_key"],
        form_fields=first["form_fields"],
        documentation=first["documentation"],
        due=first["due"],
        priority=first["priority"],
        created_at=first["created_at"],
        claimed_at=first["claimed_at"],
        completed_at=first["completed_at"],
        completed_by=first["completed_by"],
        properties=first["properties"],
        process_key=first["instance_process_key"],
        business_key=first["instance_business_key"],
    )
