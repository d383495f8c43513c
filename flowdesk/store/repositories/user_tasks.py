"""The repository of user tasks with their candidate groups and users."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, select, union_all, update

from flowdesk import errors
from flowdesk.store import models, records
from flowdesk.store.repositories.base import (
    _IN_BATCH,
    _INSTANCES,
    _TASKS,
    _check_fields,
    _fields,
    _Repository,
    _rowcount,
    _store_errors,
)
from flowdesk.store.repositories.driver_statements import DriverStatement
from flowdesk.store.repositories.user_task_statements import (
    _CLOSE_TASK,
    _FIND_TASK,
    _FIND_TASK_AND_INSTANCE,
    _FIND_TASK_AND_INSTANCE_FOR_UPDATE,
    _FIND_TASK_FOR_UPDATE,
    _GROUP,
    _INSERT_CANDIDATE,
    _INSERT_TASK,
    _LIST_TASKS,
    _OPEN_TASKS_OF,
    _TASK_STATES,
    _USER,
    _candidate_task_ids,
    _candidates,
    _has_candidate,
    _instance_summary,
    _state_is,
    _task_from,
    _task_record,
)


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
        _INSERT_TASK.run_many(self._connection, [values])
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
        return _task_from(_FIND_TASK.rows(self._connection, {"id": id}))

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
        plain = {
            "instance_id": instance_id,
            "assignee": assignee,
            "element_id": element_id,
            "process_key": process_key,
            "business_key": business_key,
        }
        given = {name: value for name, value in plain.items() if value is not None}
        if (
            candidate_group is None
            and candidate_groups is None
            and candidate_user is None
            and limit is None
            and not offset
            and (state is None or state in _TASK_STATES)
        ):
            # The common lists (an instance's open tasks, a user's): one statement per
            # combination of filters, built once and run on the driver.
            rows = _plain_list(tuple(sorted(given)), state).rows(self._connection, given)
            return [_task_record(row) for row in rows]
        where: builtins.list[ColumnElement[bool]] = []
        if state is not None:
            where.append(_state_is(state))
        if instance_id is not None:
            where.append(_TASKS.c.instance_id == instance_id)
        if assignee is not None:
            where.append(_TASKS.c.assignee == assignee)
        if element_id is not None:
            where.append(_TASKS.c.element_id == element_id)
        if process_key is not None:
            where.append(_INSTANCES.c.process_key == process_key)
        if business_key is not None:
            where.append(_INSTANCES.c.business_key == business_key)
        if candidate_group is not None:
            where.append(_has_candidate(_GROUP, [candidate_group]))
        offered: builtins.list[Select[tuple[str]]] = []
        if candidate_user is not None:
            offered.append(_candidate_task_ids(_USER, [candidate_user]))
        if candidate_groups is not None:
            offered.append(_candidate_task_ids(_GROUP, candidate_groups))
        if offered:
            # One index seek per branch, not an OR that a planner may turn into a scan.
            where.append(_TASKS.c.id.in_(union_all(*offered)))
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
                _state_is(records.TaskState.OPEN),
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
        row = _task_from(stmt.rows(self._connection, {"id": id}))
        if row is None:
            raise errors.NotFound("task", id)
        return row

    @_store_errors
    def get_with_instance_for_update(
        self, id: str
    ) -> tuple[records.UserTaskRow, records.InstanceRow]:
        """The task, locked as by `get_for_update`, and its instance without the serialized
        workflow (`workflow_state` None, as `InstanceRepository.summary` gives it), in one
        statement.

        Raises:
            NotFound: No task has this id.
            StoreError: The database failed.
        """
        postgresql = self._is_postgresql()
        stmt = _FIND_TASK_AND_INSTANCE_FOR_UPDATE if postgresql else _FIND_TASK_AND_INSTANCE
        rows = stmt.rows(self._connection, {"id": id})
        if not rows:
            raise errors.NotFound("task", id)
        return _task_record(rows[0]), _instance_summary(rows[0])

    @_store_errors
    def close(self, id: str, *, state: str, at: datetime, by: str | None = None) -> None:
        """Mark a task completed or cancelled, at `at` (by `by`), as one UPDATE.

        For the hot path of a step: `update` would read the task back.

        Raises:
            NotFound: No task has this id.
            StoreError: The database failed.
        """
        params = {"task_id": id, "new_state": state, "at": at, "by": by}
        if _CLOSE_TASK.count(self._connection, params) == 0:
            raise errors.NotFound("task", id)

    @_store_errors
    def open_element_ids(self, instance_id: str) -> dict[str, str]:
        """The open tasks of an instance, oldest first: task id -> element id."""
        rows = _OPEN_TASKS_OF.rows(self._connection, {"instance_id": instance_id})
        return {row["id"]: row["element_id"] for row in rows}

    def _is_postgresql(self) -> bool:
        return self._connection.dialect.name == "postgresql"

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
                    _state_is(records.TaskState.OPEN),
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
                    _state_is(records.TaskState.OPEN),
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
                _INSERT_CANDIDATE.run_many(self._connection, rows)
        return len(held.union(offered))

    def _add_candidates(self, task_id: str, *candidates: tuple[str, str]) -> None:
        """Insert (kind, value) candidates of a task, all in one statement."""
        rows = [{"task_id": task_id, "kind": kind, "value": value} for kind, value in candidates]
        if rows:
            _INSERT_CANDIDATE.run_many(self._connection, rows)

    def _select(
        self, *where: ColumnElement[bool], limit: int | None, offset: int = 0
    ) -> builtins.list[records.UserTaskRow]:
        # Core, not the ORM: building ORM objects cost more than the query (see `base`).
        connection = self._connection
        stmt = (
            _LIST_TASKS.where(*where)
            .order_by(_TASKS.c.created_at, _TASKS.c.id)
            .limit(limit)
            .offset(offset or None)
        )
        return [_task_record(row._mapping) for row in connection.execute(stmt)]


# `list` with equality filters only, by the names of the filters given and the state: each
# built once.
_PLAIN_LISTS: dict[tuple[tuple[str, ...], str | None], DriverStatement] = {}
_PLAIN_COLUMNS = {
    "instance_id": _TASKS.c.instance_id,
    "assignee": _TASKS.c.assignee,
    "element_id": _TASKS.c.element_id,
    "process_key": _INSTANCES.c.process_key,
    "business_key": _INSTANCES.c.business_key,
}


def _plain_list(names: tuple[str, ...], state: str | None) -> DriverStatement:
    """The list of tasks by these filters (bound by name) and in this state (any: None)."""
    found = _PLAIN_LISTS.get((names, state))
    if found is None:
        where = [_PLAIN_COLUMNS[name] == bindparam(name) for name in names]
        if state is not None:
            where.append(_state_is(state))
        stmt = _LIST_TASKS.where(*where).order_by(_TASKS.c.created_at, _TASKS.c.id)
        found = _PLAIN_LISTS[(names, state)] = DriverStatement(stmt)
    return found
