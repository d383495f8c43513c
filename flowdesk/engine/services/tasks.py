"""The task service: list, claim and complete user tasks, with authorisation and form checks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from flowdesk._records import HistoryEventType, Task
from flowdesk.engine.instances import forms, saving
from flowdesk.engine.instances.execution import (
    EXCLUDED_USERS,
    EngineContext,
    Execution,
    task_record,
)
from flowdesk.engine.instances.task_rows import apply_listener_changes, is_template, listener_task
from flowdesk.engine.instances.variable_types import decode
from flowdesk.engine.services.state_filters import state_filter
from flowdesk.engine.spiff import listeners
from flowdesk.errors import (
    ConcurrencyConflict,
    FormValidationError,
    InvalidArgument,
    NotAuthorized,
    TaskStateError,
)
from flowdesk.store import TaskState, UnitOfWork, UserTaskRow


class TaskService:
    """User tasks: who may see, claim and complete them."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    def tasks(
        self,
        uow: UnitOfWork,
        *,
        instance_id: str | None,
        assignee: str | None,
        candidate_group: str | None,
        candidate_user: str | None,
        key: str | None,
        business_key: str | None,
        state: str | None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Task]:
        # As Camunda's taskCandidateUser: tasks offered to the user or to one of their groups.
        groups = self._ctx.groups_of(candidate_user) if candidate_user is not None else None
        rows = uow.tasks.list(
            state=state_filter(state, TaskState, "task"),
            instance_id=instance_id,
            assignee=assignee,
            candidate_group=candidate_group,
            candidate_user=candidate_user,
            candidate_groups=groups,
            process_key=key,
            business_key=business_key,
            limit=limit,
            offset=offset,
        )
        # Variables only render documentation templates: one query for the instances of the
        # page's templated tasks (none for plain text), and only the variables column, never
        # the serialized workflow.
        variables = uow.instances.variables_of(
            {row.instance_id for row in rows if is_template(row.documentation)}
        )
        return [task_record(row, decode(variables.get(row.instance_id, {}))) for row in rows]

    def task(self, uow: UnitOfWork, task_id: str) -> Task:
        row = uow.tasks.get(task_id)
        return task_record(row, _variables(uow, row))

    def claim(self, uow: UnitOfWork, task_id: str, *, user: str) -> Task:
        row = _open_task(uow, task_id)
        if row.assignee == user:
            return task_record(row, _variables(uow, row))
        if row.assignee is not None:
            raise TaskStateError(task_id, f"it is held by {row.assignee!r}")
        if user in excluded_users(row):
            raise NotAuthorized(task_id, user, f"excluded by {EXCLUDED_USERS}")
        if not _is_candidate(row, user, self._ctx.groups_of(user)):
            raise NotAuthorized(task_id, user)
        # Conditional: a claim or completion committed since the read above must not be
        # overwritten (PostgreSQL runs both at once; last writer would win).
        claimed = uow.tasks.claim(task_id, user=user, at=self._ctx.now())
        if claimed is None:
            now_row = _open_task(uow, task_id)
            if now_row.assignee != user:
                raise TaskStateError(task_id, f"it is held by {now_row.assignee!r}")
            return task_record(now_row, _variables(uow, now_row))
        uow.history.add(
            instance_id=row.instance_id,
            type=HistoryEventType.TASK_CLAIMED,
            at=self._ctx.now(),
            element_id=row.element_id,
            user=user,
            data={"task_id": task_id},
        )
        claimed = self._assignment_listeners(uow, claimed, user)
        return task_record(claimed, _variables(uow, row))

    def unclaim(self, uow: UnitOfWork, task_id: str, *, user: str | None) -> Task:
        """Take the assignee off an open task (Camunda's `setAssignee(taskId, null)`).

        The assignee, a candidate (by name or group) or the system (`user` None) may do it;
        anyone else is `NotAuthorized`. A task nobody holds is left as it is. As in Camunda,
        the assignee's change fires the task's `update` and `assignment` listeners.
        """
        row = _open_task(uow, task_id, lock=True)
        if row.assignee is None:
            return task_record(row, _variables(uow, row))
        if (
            user is not None
            and user != row.assignee
            and not _is_candidate(row, user, self._ctx.groups_of(user))
        ):
            raise NotAuthorized(task_id, user, f"it is held by {row.assignee!r}")
        released = uow.tasks.update(task_id, assignee=None, claimed_at=None)
        uow.history.add(
            instance_id=row.instance_id,
            type=HistoryEventType.TASK_UNCLAIMED,
            at=self._ctx.now(),
            element_id=row.element_id,
            user=user,
            data={"task_id": task_id, "from": row.assignee},
        )
        released = self._assignment_listeners(uow, released, user)
        return task_record(released, _variables(uow, row))

    def _assignment_listeners(
        self, uow: UnitOfWork, row: UserTaskRow, user: str | None
    ) -> UserTaskRow:
        """The assignee changed (a claim, a reassign): Camunda fires the task's `update`, then
        `assignment` listeners. One that fails raises `HandlerError`, and the call is rolled
        back. Returns the row with what the listeners changed."""
        instance = uow.instances.summary(row.instance_id)
        bundle = self._ctx.specs.bundle(
            uow, self._ctx.specs.definition(uow, instance.definition_id)
        )
        events = listeners.task_listener_events(
            [bundle.spec, *bundle.subprocess_specs.values()], row.element_id
        )
        if not events & {"update", "assignment"}:
            return row
        execution = Execution.open(self._ctx, uow, row.instance_id)
        view = listener_task(row)
        for event in ("update", "assignment"):
            execution.run.fire_task_listeners(row.element_id, row.id, event, view, user=user)
        row = apply_listener_changes(uow, row, view)
        saving.save(execution)
        return row

    def complete(
        self, uow: UnitOfWork, task_id: str, data: Mapping[str, Any], *, user: str | None
    ) -> str:
        """Complete an open task and run its instance on; returns the instance's id."""
        # Locked: a concurrent completion of this task waits here and then finds it completed,
        # before any handler runs; a concurrent claim cannot change who may complete it.
        row, instance = uow.tasks.get_with_instance_for_update(task_id)
        _require_open(row)
        if user is not None and user in excluded_users(row):
            raise NotAuthorized(task_id, user, f"excluded by {EXCLUDED_USERS}")
        if user is not None and not may_complete(row, user, self._ctx.groups_of(user)):
            raise NotAuthorized(task_id, user)
        execution = Execution.open(self._ctx, uow, row.instance_id, summary=instance)
        record = task_record(row, execution.run.variables)
        converted, errors = forms.validate(record.form_fields, data)
        if errors:
            raise FormValidationError(task_id, errors)
        handler = self._ctx.registry.user_task_handler(
            process_key=row.process_key, element_id=row.element_id, form_key=row.form_key
        )
        handler.validate(record, converted)
        try:
            completed = execution.complete_task(row, converted, user)
        except LookupError:
            raise TaskStateError(task_id, "the workflow no longer waits for it") from None
        if completed:
            handler.on_complete(record, converted, user)
        saving.save(execution)
        return row.instance_id

    def reassign(
        self, uow: UnitOfWork, from_user: str, to_user: str, *, user: str | None = None
    ) -> int:
        """Hand a leaving user's open tasks to another user; returns how many moved.

        Camunda's `setAssignee(task, to_user)` for each open task `from_user` holds; and, so
        that the leaving user's queue does not go stale, `to_user` takes `from_user`'s place
        among the candidate users of open tasks. Neither the workflow nor any instance
        changes: a task's assignee and candidates live on its row only. No one checks that
        `to_user` may do the work, as in Camunda: deciding who may reassign is the
        application's. Each moved task gets a `task_reassigned` history event by `user`, and
        its `update` and `assignment` task listeners run, as for Camunda's `setAssignee`.

        Raises:
            InvalidArgument: A user name is empty.
            ConcurrencyConflict: On PostgreSQL, a step committed a new task for `from_user`
                while this call ran; the facade runs the call again.
        """
        if not from_user.strip() or not to_user.strip():
            raise InvalidArgument("reassign needs two non-empty user names")
        if from_user == to_user:
            return 0
        open_ = TaskState.OPEN.value
        found = {
            row.id: row
            for row in [
                *uow.tasks.list(state=open_, assignee=from_user),
                *uow.tasks.list(state=open_, candidate_user=from_user),
            ]
        }
        # Locked in id order (two such calls cannot deadlock): a completion of one of them
        # waits for this call, and one that committed before the lock shows as not open.
        locked = {task_id: uow.tasks.get_for_update(task_id) for task_id in sorted(found)}
        moving = [
            row
            for row in (locked[task_id] for task_id in found)
            if row.state == open_
            and (row.assignee == from_user or from_user in row.candidate_users)
        ]
        moved = uow.tasks.reassign(from_user, to_user)
        if moved != len(moving):
            # PostgreSQL only: a step committed a task for from_user after the read above, and
            # it moved without its history event; running the call again gives it one. Which
            # instance made that task is unknown here.
            raise ConcurrencyConflict(f"(one with a new task for {from_user})")
        at = self._ctx.now()
        uow.history.add_many(
            {
                "instance_id": row.instance_id,
                "type": HistoryEventType.TASK_REASSIGNED,
                "at": at,
                "element_id": row.element_id,
                "user": user,
                "data": {"task_id": row.id, "from": from_user, "to": to_user},
            }
            for row in moving
        )
        for row in moving:
            self._assignment_listeners(uow, uow.tasks.get(row.id), user)
        return moved


def may_complete(row: UserTaskRow, user: str, groups: Collection[str]) -> bool:
    """Camunda's rule: the assignee; with none, a candidate user or a candidate group member.

    A task with neither assignee nor candidates is open to everyone.
    """
    if row.assignee is not None:
        return row.assignee == user
    if not row.candidate_users and not row.candidate_groups:
        return True
    return _is_candidate(row, user, groups)


def excluded_users(row: UserTaskRow) -> set[str]:
    """Who the task's `flowdesk.excludedUsers` property keeps from claiming or completing it."""
    return {
        name.strip() for name in row.properties.get(EXCLUDED_USERS, "").split(",") if name.strip()
    }


def _is_candidate(row: UserTaskRow, user: str, groups: Collection[str]) -> bool:
    if not row.candidate_users and not row.candidate_groups:
        return True
    return user in row.candidate_users or bool(set(groups) & set(row.candidate_groups))


def _open_task(uow: UnitOfWork, task_id: str, *, lock: bool = False) -> UserTaskRow:
    row = uow.tasks.get_for_update(task_id) if lock else uow.tasks.get(task_id)
    _require_open(row)
    return row


def _require_open(row: UserTaskRow) -> None:
    if row.state != TaskState.OPEN.value:
        raise TaskStateError(row.id, f"it is {row.state}")


def _variables(uow: UnitOfWork, row: UserTaskRow) -> dict[str, Any]:
    """The variables the task's record needs, as Python values: its instance's, read from
    the instance's row (never its workflow), when its documentation is a template."""
    if not is_template(row.documentation):
        return {}
    variables: dict[str, Any] = decode(uow.instances.summary(row.instance_id).variables)
    return variables
