"""The user-task repository's Core statements, candidate filters and row conversions."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, insert, literal_column, select, update

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

# The task, its instance's keys and its candidates in one statement: one result row per
# candidate (or one with NULLs for a task without candidates).
_FIND_TASK_SELECT = (
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
_FIND_TASK = DriverStatement(_FIND_TASK_SELECT)
# PostgreSQL locks the task row only (not its instance, not the candidates).
_FIND_TASK_FOR_UPDATE = DriverStatement(_FIND_TASK_SELECT.with_for_update(of=_TASKS))

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


# `UserTaskRepository.list`: the tasks with their instance's keys (filters and paging are
# added per call), then the candidates of the page's tasks in one more statement.
_LIST_TASKS = select(
    _TASKS,
    _INSTANCES.c.process_key.label("instance_process_key"),
    _INSTANCES.c.business_key.label("instance_business_key"),
).select_from(_TASKS.join(_INSTANCES, _INSTANCES.c.id == _TASKS.c.instance_id))

_CANDIDATES_OF = (
    select(_CANDIDATES.c.task_id, _CANDIDATES.c.kind, _CANDIDATES.c.value)
    .where(_CANDIDATES.c.task_id.in_(bindparam("ids", expanding=True)))
    .order_by(_CANDIDATES.c.task_id, _CANDIDATES.c.kind, _CANDIDATES.c.value)
)

_CANDIDATES_OF_ONE = DriverStatement(
    select(_CANDIDATES.c.task_id, _CANDIDATES.c.kind, _CANDIDATES.c.value)
    .where(_CANDIDATES.c.task_id == bindparam("id"))
    .order_by(_CANDIDATES.c.kind, _CANDIDATES.c.value)
)

_INSERT_TASK = DriverStatement(insert(_TASKS))
_INSERT_CANDIDATE = DriverStatement(insert(_CANDIDATES))


def _candidates(kind: str, values: Iterable[str]) -> builtins.list[tuple[str, str]]:
    """(kind, value) pairs, each value once, sorted."""
    return [(kind, value) for value in sorted(set(values))]


def _task_from(rows: Sequence[Mapping[str, Any]]) -> records.UserTaskRow | None:
    """The task of `_FIND_TASK`'s result rows, or None when there are none."""
    if not rows:
        return None
    candidates = [(r["candidate_kind"], r["candidate_value"]) for r in rows if r["candidate_kind"]]
    return _task_record(rows[0], candidates)


def _task_record(
    first: Mapping[Any, Any], candidates: Sequence[tuple[str, str]]
) -> records.UserTaskRow:
    """A task row from its columns (and its instance's keys, labelled as in `_FIND_TASK`)
    and its (kind, value) candidates, sorted."""
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
