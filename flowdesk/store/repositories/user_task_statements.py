"""The user-task repository's Core statements, candidate filters and row conversions."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    bindparam,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from flowdesk.store import records
from flowdesk.store.repositories.base import _CANDIDATES, _INSTANCES, _TASKS
from flowdesk.store.repositories.driver_statements import DriverStatement

_GROUP = "group"
_USER = "user"


def _state_is(state: str) -> ColumnElement[bool]:
    """`user_tasks.state = '<state>'` with the state written into the SQL, not bound.

    SQLite prepares a statement again at every run when a bound value could change its plan,
    and `state = ?` could (the partial index on open tasks, `models.UserTask`): 45 us more
    per run of an instance's open tasks, measured. A literal is planned once. The states are
    `TaskState`'s fixed words; any other value stays bound (it matches no task).
    """
    if state not in _TASK_STATES:
        return _TASKS.c.state == state
    return _TASKS.c.state == literal_column(f"'{state}'")


_TASK_STATES = frozenset(records.TaskState)
"""The states a task row can be in (`_state_is` writes these into the SQL)."""


def _has_candidate(kind: str, values: Collection[str]) -> ColumnElement[bool]:
    """The task names one of these candidates of this kind.

    An uncorrelated `IN`, not `EXISTS`: the database seeks the candidates' (kind, value)
    index once and then each task by its key. SQLite would run a correlated `EXISTS` once per
    task that the other conditions leave.
    """
    return _TASKS.c.id.in_(_candidate_task_ids(kind, values))


def _candidate_task_ids(kind: str, values: Collection[str]) -> Select[tuple[str]]:
    """The ids of the tasks that name one of these candidates of this kind."""
    value = _CANDIDATES.c.value
    chosen = sorted(set(values))
    # An empty IN matches nothing, as an empty `candidate_groups` must.
    matches = value == chosen[0] if len(chosen) == 1 else value.in_(chosen)
    return select(_CANDIDATES.c.task_id).where(_CANDIDATES.c.kind == kind, matches)


# -- Core statements of the hot path (why Core, not the ORM: see `base`) ----------------------


class _CandidatePairs(ColumnElement[Any]):
    """A task's candidates as one JSON array of [kind, value] pairs (NULL or `[]` when it
    has none), read in the task's own result row: a second statement for the candidates
    cost twice what the aggregate does, and a join gave one row per candidate."""

    type = JSON()
    inherit_cache = True


def _pairs_from(aggregate: str, pair: str) -> str:
    c, t = _CANDIDATES.name, _TASKS.name
    return f"(SELECT {aggregate}({pair}({c}.kind, {c}.value)) FROM {c} WHERE {c}.task_id = {t}.id)"


@compiles(_CandidatePairs, "sqlite")
def _candidate_pairs_sqlite(_element: _CandidatePairs, _compiler: SQLCompiler, **_: Any) -> str:
    return _pairs_from("json_group_array", "json_array")


@compiles(_CandidatePairs, "postgresql")
def _candidate_pairs_postgresql(_element: _CandidatePairs, _compiler: SQLCompiler, **_: Any) -> str:
    return _pairs_from("json_agg", "json_build_array")


# The columns of a task's record: its own, its instance's keys and its candidates.
_TASK_COLUMNS = (
    _TASKS,
    _INSTANCES.c.process_key.label("instance_process_key"),
    _INSTANCES.c.business_key.label("instance_business_key"),
    _CandidatePairs().label("candidate_pairs"),
)
_TASKS_WITH_INSTANCES = _TASKS.join(_INSTANCES, _INSTANCES.c.id == _TASKS.c.instance_id)

_FIND_TASK_SELECT = (
    select(*_TASK_COLUMNS).select_from(_TASKS_WITH_INSTANCES).where(_TASKS.c.id == bindparam("id"))
)
_FIND_TASK = DriverStatement(_FIND_TASK_SELECT)
# PostgreSQL locks the task row only (not its instance, not the candidates).
_FIND_TASK_FOR_UPDATE = DriverStatement(_FIND_TASK_SELECT.with_for_update(of=_TASKS))

# The task as above and its instance's row but for the serialized workflow (`summary`), its
# columns labelled `instance_<name>`: a completion reads both, and needs the workflow only
# when the engine does not hold it already.
# (The instance's keys are in `_TASK_COLUMNS` already.)
_SUMMARY_KEYS = tuple(
    column.key
    for column in _INSTANCES.c
    if column.key not in ("workflow_state", "process_key", "business_key")
)
_FIND_TASK_AND_INSTANCE_SELECT = (
    select(*_TASK_COLUMNS, *(_INSTANCES.c[key].label(f"instance_{key}") for key in _SUMMARY_KEYS))
    .select_from(_TASKS_WITH_INSTANCES)
    .where(_TASKS.c.id == bindparam("id"))
)
_FIND_TASK_AND_INSTANCE = DriverStatement(_FIND_TASK_AND_INSTANCE_SELECT)
_FIND_TASK_AND_INSTANCE_FOR_UPDATE = DriverStatement(
    _FIND_TASK_AND_INSTANCE_SELECT.with_for_update(of=_TASKS)
)

_CLOSE_TASK = DriverStatement(
    update(_TASKS)
    .where(_TASKS.c.id == bindparam("task_id"))
    .values(
        state=bindparam("new_state"), completed_at=bindparam("at"), completed_by=bindparam("by")
    )
)

_OPEN_TASKS_OF = DriverStatement(
    select(_TASKS.c.id, _TASKS.c.element_id)
    .where(
        _TASKS.c.instance_id == bindparam("instance_id"),
        _state_is(records.TaskState.OPEN),
    )
    .order_by(_TASKS.c.created_at, _TASKS.c.id)
)


# `UserTaskRepository.list`: the tasks' records (filters and paging are added per call).
_LIST_TASKS = select(*_TASK_COLUMNS).select_from(_TASKS_WITH_INSTANCES)

_INSERT_TASK = DriverStatement(insert(_TASKS))
_INSERT_CANDIDATE = DriverStatement(insert(_CANDIDATES))


def _candidates(kind: str, values: Iterable[str]) -> builtins.list[tuple[str, str]]:
    """(kind, value) pairs, each value once, sorted."""
    return [(kind, value) for value in sorted(set(values))]


def _task_from(rows: Sequence[Mapping[str, Any]]) -> records.UserTaskRow | None:
    """The task of `_FIND_TASK`'s result, or None when there is none."""
    return _task_record(rows[0]) if rows else None


def _instance_summary(values: Mapping[str, Any]) -> records.InstanceRow:
    """The instance of `_FIND_TASK_AND_INSTANCE`'s result row, without its workflow."""
    fields = {key: values[f"instance_{key}"] for key in _SUMMARY_KEYS}
    return records.InstanceRow(
        **fields,
        process_key=values["instance_process_key"],
        business_key=values["instance_business_key"],
        workflow_state=None,
    )


def _task_record(first: Mapping[Any, Any]) -> records.UserTaskRow:
    """A task row from the columns of `_TASK_COLUMNS`."""
    candidates = sorted((kind, value) for kind, value in first["candidate_pairs"] or ())
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
