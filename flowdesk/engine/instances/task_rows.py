"""User-task rows: written from the workflow's open user tasks, and read back as `Task` records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jinja2
import jinja2.sandbox

from flowdesk import handlers
from flowdesk._records import HistoryEventType, Task
from flowdesk.engine.instances import forms
from flowdesk.engine.instances.context import EngineContext
from flowdesk.engine.instances.history_recorder import HistoryRecorder, jsonable
from flowdesk.engine.languages import sandbox, timer_texts
from flowdesk.engine.spiff import listeners
from flowdesk.engine.spiff.workflow import WorkflowRun
from flowdesk.engine.spiff.workflow_records import Incident, OpenUserTask
from flowdesk.engine.validation import resource_assignments
from flowdesk.errors import ExpressionError, FormValidationError, HandlerError
from flowdesk.store import InstanceRow, TaskState, UnitOfWork, UserTaskRow

# A user-task property naming users who may not claim or complete the task, whatever their
# groups (the four-eyes rule: a requester does not approve their own request). An expression.
EXCLUDED_USERS = "flowdesk.excludedUsers"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

VERIFY = False
"""When true, the open rows the workflow's marks give are compared with the rows the store
holds at each save, and differences recorded in `mismatches`; the tests turn it on."""

mismatches: list[str] = []

# What `_new_task_row` gives for a task that a listener's BPMN error took away.
DIVERTED: Literal["diverted"] = "diverted"


class UserTaskRows:
    """The part of an `Execution` that keeps the user-task rows in step with the workflow.

    A user task that appeared gets a row, one that disappeared has its row cancelled, and a
    task whose handler completes it at once (`auto_complete`) is completed here. `instance`
    is the instance row as loaded: only its id, process key and business key are read, which
    an instance keeps for life.
    """

    __slots__ = ("_completed_refs", "_ctx", "_history", "_instance", "_open", "_run", "_uow")

    def __init__(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        instance: InstanceRow,
        run: WorkflowRun,
        history: HistoryRecorder,
    ) -> None:
        self._ctx = ctx
        self._uow = uow
        self._instance = instance
        self._run = run
        self._history = history
        # Tasks completed in this call: their rows are closed, the workflow may not know yet.
        self._completed_refs: set[str] = set()
        # The instance's open rows as the workflow's marks give them before this call acts,
        # kept up to date as rows open and close: task id -> (order, element id). None until
        # read from the table, for a state saved before tasks were marked (see `_open_rows`).
        marked = run.task_rows()
        self._open: dict[str, tuple[int, str]] | None = (
            None if marked is None else {ref: (order, element) for order, ref, element in marked}
        )

    def complete(self, task: UserTaskRow, data: Mapping[str, Any], user: str | None) -> bool:
        """Close the row as completed and run the workflow on; `data` must already be valid.

        The task's `complete` listeners run first; one that fails raises `HandlerError`, and
        the caller's transaction is rolled back (Camunda's way to refuse a completion). One
        that throws a BPMN error does not complete the task: the error is thrown from it, and
        this returns False (the task is cancelled if something catches the error).
        """
        run = self._run
        if run.awaits_user(task.id):
            data = dict(data)
            try:
                run.fire_task_listeners(
                    task.element_id,
                    task.id,
                    "complete",
                    listener_task(task),
                    user=user,
                    overlay=data,
                    may_throw=True,
                )
            except listeners.ListenerBpmnError as thrown:
                run.divert_user_task(task.id, thrown.error)
                return False
        now = self._ctx.now()
        self._uow.tasks.close(task.id, state=TaskState.COMPLETED.value, at=now, by=user)
        self._row_closed(task.id)
        self._completed_refs.add(task.id)
        self._history.record(
            HistoryEventType.TASK_COMPLETED,
            element_id=task.element_id,
            user=user,
            data={"task_id": task.id, "variables": jsonable(data)},
        )
        run.complete_user_task(task.id, data)
        return True

    def sync(self) -> list[UserTaskRow]:
        """Give each new user task its row and cancel the rows of tasks that went; returns
        the rows created."""
        open_rows = self._open_rows()
        known = open_rows.keys() | self._completed_refs
        live_refs, new = (
            self._run.open_user_tasks(known) if self._run.incident is None else (set(), [])
        )
        created: list[UserTaskRow] = []
        for task in new:
            row = self._new_task_row(task)
            if row == DIVERTED:  # a task listener's BPMN error moved the instance on
                return created + self.sync()
            if row is None:
                break
            self._uow.tasks.add(row)
            # Ordered as the store orders open rows: by creation time, then by id.
            self._mark(row.id, (row.created_at - _EPOCH) // _MICROSECOND, row.element_id)
            self._history.record(
                HistoryEventType.TASK_CREATED,
                element_id=row.element_id,
                data={"task_id": row.id, "assignee": row.assignee},
            )
            created.append(row)
        if self._run.incident is None:
            for ref, element_id in open_rows.items():
                if ref not in live_refs:
                    try:
                        view = listener_task(self._uow.tasks.get(ref))
                        self._run.fire_task_listeners(element_id, ref, "delete", view)
                        self._run.end_cancelled_user_task(element_id, ref)
                    except HandlerError as err:  # the row stays open: a retry deletes it
                        self._run.incident = Incident(element_id, ref, str(err))
                        break
                    self._uow.tasks.close(ref, state=TaskState.CANCELLED.value, at=self._ctx.now())
                    self._row_closed(ref)
                    self._history.record(
                        HistoryEventType.TASK_CANCELLED,
                        element_id=element_id,
                        data={"task_id": ref},
                    )
        return created

    def _open_rows(self) -> dict[str, str]:
        """The instance's open rows: task id -> element id, in the store's order (oldest
        first, then by id).

        The workflow's marks give them without a query (`WorkflowRun.task_rows`). A state
        saved before tasks were marked has its rows read once, and its tasks marked.
        """
        if self._open is None:
            stored = self._uow.tasks.open_element_ids(self._instance.id)
            # Numbered in the store's order, before any row created from now on.
            self._open = {}
            for number, (ref, element_id) in enumerate(stored.items()):
                self._mark(ref, number, element_id)
            self._run.marks_all_task_rows()
        by_order = sorted(self._open.items(), key=lambda item: (item[1][0], item[0]))
        rows = {ref: element_id for ref, (_order, element_id) in by_order}
        if VERIFY:
            stored = self._uow.tasks.open_element_ids(self._instance.id)
            if list(stored.items()) != list(rows.items()):
                mismatches.append(f"instance {self._instance.id}: {rows} != {stored}")
        return rows

    def _mark(self, ref: str, order: int, element_id: str) -> None:
        assert self._open is not None
        self._run.mark_task_row(ref, order)
        self._open[ref] = (order, element_id)

    def _row_closed(self, ref: str) -> None:
        self._run.unmark_task_row(ref)
        if self._open is not None:
            self._open.pop(ref, None)

    def _new_task_row(self, task: OpenUserTask) -> UserTaskRow | Literal["diverted"] | None:
        """The row of a new user task; None on an incident, `DIVERTED` when a create or
        assignment listener threw a BPMN error (the task is then left to its catcher)."""
        camunda = task.extensions.get("camunda", {})
        context = {**reserved_names(self._instance), **task.variables}
        beans = self._ctx.registry.beans  # `${userService.findEditor()}` as an assignee
        try:
            name = (
                _text(_evaluate(task.name, context, beans)) or task.element_id
            )  # names may hold ${}
            assignee = _text(_evaluate(camunda.get("assignee"), context, beans))
            owners = task.extensions.get("potential_owners", {})
            groups = _candidates(
                [*owners.get("groups", ()), camunda.get("candidateGroups")], context, beans
            )
            users = _candidates(
                [*owners.get("users", ()), camunda.get("candidateUsers")], context, beans
            )
            due = _due(_evaluate(camunda.get("dueDate"), context, beans), self._ctx.now())
            priority = int(_evaluate(camunda.get("priority"), context, beans) or 50)
            properties = dict(task.extensions.get("properties", {}))
            if EXCLUDED_USERS in properties:  # kept evaluated: who requested is fixed by now
                excluded = _names(_evaluate(properties[EXCLUDED_USERS], context, beans))
                properties[EXCLUDED_USERS] = ",".join(excluded)
        except (ExpressionError, ValueError, TypeError) as err:
            self._run.incident = Incident(task.element_id, task.task_ref, str(err))
            return None
        now = self._ctx.now()
        row = UserTaskRow(
            id=task.task_ref,
            instance_id=self._instance.id,
            element_id=task.element_id,
            name=name,
            state=TaskState.OPEN.value,
            assignee=assignee,
            candidate_groups=groups,
            candidate_users=users,
            form_key=camunda.get("formKey"),
            form_fields=list(task.extensions.get("form_fields", [])),
            documentation=(
                freeze_documentation(task.documentation, context)
                if task.instance_locals
                else task.documentation
            ),
            due=due,
            priority=priority,
            created_at=now,
            properties=properties,
            process_key=self._instance.process_key,
            business_key=self._instance.business_key,
        )
        handler = self._handler(row)
        changes = (
            handler.on_create(task_record(row, self._run.variables))
            if _overrides(handler, "on_create")
            else None
        )
        if changes:
            allowed = {"assignee", "due", "priority", "candidate_groups", "candidate_users"}
            unknown = set(changes) - allowed
            if unknown:
                raise ValueError(
                    f"on_create may change only {sorted(allowed)}, not {sorted(unknown)}"
                )
            updates = dict(changes)
            for key in ("candidate_groups", "candidate_users"):
                if key in updates:
                    updates[key] = tuple(updates[key])
            row = replace(row, **updates)
        # Camunda: the create listeners, then assignment if the task has an assignee by then.
        view = listener_task(row)
        try:
            self._run.fire_task_listeners(row.element_id, row.id, "create", view, may_throw=True)
            if view.assignee is not None:
                self._run.fire_task_listeners(
                    row.element_id, row.id, "assignment", view, may_throw=True
                )
        except HandlerError as err:
            self._run.incident = Incident(task.element_id, task.task_ref, str(err))
            return None
        except listeners.ListenerBpmnError as thrown:
            self._run.divert_user_task(row.id, thrown.error)
            return DIVERTED
        try:
            self._run.schedule_task_timeouts(row.id, context, now)
        except (ExpressionError, ValueError, TypeError) as err:
            self._run.incident = Incident(task.element_id, task.task_ref, str(err))
            return None
        return replace(
            row,
            assignee=view.assignee,
            candidate_groups=tuple(view.candidate_groups),
            candidate_users=tuple(view.candidate_users),
            priority=view.priority,
            due=view.due,
        )

    def fire_task_timeout(self, row: UserTaskRow, listener_id: str) -> bool:
        """Run a due timeout listener of an open task (its job is due); False if it no longer
        applies. What the listener changes on the task is stored; the task stays open.

        Raises:
            HandlerError: The listener failed (the job is retried, then an incident).
        """
        view = listener_task(row)
        if not self._run.fire_task_timeout(row.id, listener_id, view):
            return False
        apply_listener_changes(self._uow, row, view)
        return True

    def _handler(self, row: UserTaskRow) -> handlers.UserTaskHandler:
        return self._ctx.registry.user_task_handler(
            process_key=self._instance.process_key, element_id=row.element_id, form_key=row.form_key
        )

    def auto_complete(self, created: list[UserTaskRow]) -> bool:
        """Complete the new tasks whose handler gives their data at once (`auto_complete`);
        True if any was completed (by nobody: no user acts)."""
        done = False
        for row in created:
            if not self._run.awaits_user(row.id):
                continue  # an earlier completion ended it (a completion condition, say)
            handler = self._handler(row)
            if not _overrides(handler, "auto_complete"):
                continue  # the base class's completes nothing
            record = task_record(row, self._run.variables)
            data = handler.auto_complete(record)
            if data is None:
                continue
            converted, errors = forms.validate(record.form_fields, data)
            if errors:
                raise FormValidationError(row.id, errors)
            handler.validate(record, converted)
            if self.complete(row, converted, None):
                handler.on_complete(record, converted, None)
            done = True
            if self._run.incident is not None:
                break
        return done


def _overrides(handler: handlers.UserTaskHandler, method: str) -> bool:
    """Whether the handler has its own `method` (from its class or set on it): the base
    class's `on_create` and `auto_complete` do nothing, and the task record they would be
    given costs its building (the instance's variables, the form, the documentation) at
    every new task."""
    own = getattr(handler, method)
    return getattr(own, "__func__", own) is not getattr(handlers.UserTaskHandler, method)


def apply_listener_changes(
    uow: UnitOfWork, row: UserTaskRow, view: handlers.ListenerTask
) -> UserTaskRow:
    """Store what task listeners changed on a task that already has its row."""
    changes = {
        key: value
        for key, value in (
            ("assignee", view.assignee),
            ("candidate_groups", tuple(view.candidate_groups)),
            ("candidate_users", tuple(view.candidate_users)),
            ("priority", view.priority),
            ("due", view.due),
        )
        if value != getattr(row, key)
    }
    return uow.tasks.update(row.id, **changes) if changes else row


def reserved_names(instance: InstanceRow) -> dict[str, Any]:
    """The names expressions read for the instance itself: JUEL's
    `execution.processBusinessKey` and `processInstanceId` translate to these."""
    return {"business_key": instance.business_key, "instance_id": instance.id}


def listener_task(row: UserTaskRow) -> handlers.ListenerTask:
    """The `DelegateTask` a task listener sees and changes, from a task row."""
    return handlers.ListenerTask(
        id=row.id,
        name=row.name,
        element_id=row.element_id,
        assignee=row.assignee,
        candidate_groups=tuple(row.candidate_groups),
        candidate_users=tuple(row.candidate_users),
        priority=row.priority,
        due=row.due,
    )


def task_record(row: UserTaskRow, variables: Mapping[str, Any]) -> Task:
    """The public record of a task row; documentation is rendered with the instance variables."""
    return Task(
        id=row.id,
        instance_id=row.instance_id,
        element_id=row.element_id,
        name=row.name,
        assignee=row.assignee,
        candidate_groups=tuple(row.candidate_groups),
        candidate_users=tuple(row.candidate_users),
        form_key=row.form_key,
        form_fields=forms.form_fields(row.form_fields),
        due=row.due,
        created_at=row.created_at,
        documentation=render_documentation(row.documentation, variables),
        priority=row.priority,
        state=row.state,
        process_key=row.process_key,
        business_key=row.business_key,
        claimed_at=row.claimed_at,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
        properties=dict(row.properties),
    )


_JINJA = jinja2.sandbox.SandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined)


def is_template(documentation: str) -> bool:
    """Whether rendering this documentation reads variables (plain text is shown as it is)."""
    return "{{" in documentation or "{%" in documentation


def render_documentation(text: str, variables: Mapping[str, Any]) -> str:
    """Task documentation is a Jinja2 template of the instance's variables (sandboxed)."""
    if not is_template(text):
        return text
    try:
        return _JINJA.from_string(text).render(**variables)
    except jinja2.TemplateError as err:
        return f"{text}\n\n[documentation could not be rendered: {err}]"


def freeze_documentation(text: str, variables: Mapping[str, Any]) -> str:
    """Documentation rendered once, now: for a multi-instance task, whose locals (its element
    variable, `loopCounter`) are gone when the task is read. A failed rendering keeps the
    template, so reading shows the error; braces in the result are escaped for that reading.
    """
    if not is_template(text):
        return text
    try:
        rendered = _JINJA.from_string(text).render(**variables)
    except jinja2.TemplateError:
        return text
    if "{{" in rendered or "{%" in rendered:
        return rendered.replace("{", "{{ '{' }}")
    return rendered


def _evaluate(
    text: str | None, variables: Mapping[str, Any], beans: Mapping[str, Any] | None = None
) -> Any:
    if text is None or text == "":
        return None
    return sandbox.evaluate_value(text, variables, beans=beans)


def _candidates(
    texts: list[str | None], variables: Mapping[str, Any], beans: Mapping[str, Any]
) -> tuple[str, ...]:
    """Candidate users or groups as Camunda evaluates them: each item of each comma-separated
    list on its own (`${a},${b}`), a collection value adding all its members."""
    names: list[str] = []
    for text in texts:
        for item in resource_assignments.split_list(text):
            names.extend(_names(_evaluate(item, variables, beans)))
    return tuple(dict.fromkeys(names))


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _due(value: Any, now: datetime) -> datetime | None:
    """A Camunda due date: a date-time, a date, or (a flowdesk extension) a duration from now."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)
    text = str(value).strip()
    if text.startswith("P"):
        return timer_texts.after_duration(now, text)
    parsed_dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed_dt if parsed_dt.tzinfo else parsed_dt.replace(tzinfo=now.tzinfo)
