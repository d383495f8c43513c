"""Pluggable code for user tasks and service tasks, registered by the embedding application.

User-task handlers are matched by element id, form key and process key; the most specific
registration wins (element id > form key > process key > the default), and among equally
specific ones the latest. Service-task handlers are matched by the name a Camunda model uses
for its implementation: the `camunda:class` (full or simple class name), the name in a
`camunda:delegateExpression` (`${approvalDelegate}` -> `approvalDelegate`), the bean a
`camunda:expression` calls (`${mailer.send(to)}` -> `mailer`), or the external task `camunda:topic`.
Listener handlers (the code behind `camunda:executionListener` and `camunda:taskListener`) are
matched the same way, by the listener's `class` or `delegateExpression`; they receive a
`ListenerCall` (Camunda's DelegateExecution), with a `ListenerTask` (DelegateTask) for task
listeners.

Beans are the Spring beans of a Camunda application: objects registered by name with
`register_bean`, which every JUEL expression of every process may name and whose public
methods it may call (`${approvalService.needsApproval(execution)}`).

Applications may also publish a setup function in the `flowdesk.handlers` entry-point group;
`HandlerRegistry.load_entry_points()` calls each one with the registry.
"""

from __future__ import annotations

import importlib.metadata
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from flowdesk._records import FormField, Task
from flowdesk.authorization import ReadAuthorizer

ENTRY_POINT_GROUP = "flowdesk.handlers"
"""The entry-point group whose functions `HandlerRegistry.load_entry_points` calls with the
registry."""


class UserTaskHandler:
    """Reacts to a user task's life; override the hooks you need (each default does nothing)."""

    def on_create(self, task: Task) -> Mapping[str, Any] | None:
        """Called when the task is created, in the same transaction.

        Returns:
            Changes to the new task, among `assignee`, `due`, `priority`, `candidate_groups`,
            `candidate_users`; or None for none.
        """
        return None

    def auto_complete(self, task: Task) -> Mapping[str, Any] | None:
        """Return completion data to complete the task at once as the system, or None to wait."""
        return None

    def validate(self, task: Task, data: Mapping[str, Any]) -> None:
        """Check completion data beyond the form; raise `FormValidationError` to refuse it."""

    def on_complete(self, task: Task, data: Mapping[str, Any], user: str | None) -> None:
        """Called after the task is completed, in the same transaction."""


class AutoCompleteHandler(UserTaskHandler):
    """Completes every task it handles at once: for simulations and tests.

    The data is each form field's default (or a plausible value of its type when it has none
    and is required), overlaid with `values`, a mapping or a function of the task.
    """

    def __init__(
        self,
        values: Mapping[str, Any] | Callable[[Task], Mapping[str, Any]] | None = None,
    ) -> None:
        self._values = values

    def auto_complete(self, task: Task) -> Mapping[str, Any] | None:
        data = {f.id: _default_value(f, task) for f in task.form_fields if not f.readonly}
        data = {k: v for k, v in data.items() if v is not None}
        extra = self._values(task) if callable(self._values) else self._values
        data.update(extra or {})
        return data


class ConsoleHandler(UserTaskHandler):
    """Prompts for each form field in the terminal when the task is created."""

    def auto_complete(self, task: Task) -> Mapping[str, Any] | None:
        click.echo(f"\n{task.name} ({task.element_id})")
        if task.documentation:
            click.echo(task.documentation)
        data: dict[str, Any] = {}
        for form_field in task.form_fields:
            if form_field.readonly:
                continue
            label = form_field.label
            if form_field.enum_values:
                label += f" [{'/'.join(form_field.enum_values)}]"
            answer = click.prompt(
                label, default=form_field.default or "", show_default=form_field.default is not None
            )
            if answer != "":
                data[form_field.id] = answer
        return data


@dataclass(frozen=True, slots=True)
class DocumentDraft:
    """A document a service-task handler attached; stored with the instance when the call ends."""

    name: str
    content: str
    media_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceCall:
    """What a service-task handler is given: where it runs, the instance's variables and the time.

    `now` is the engine's clock, so deadlines a handler computes follow the clock tests and
    simulations inject.
    """

    instance_id: str
    process_key: str
    business_key: str | None
    element_id: str
    implementation: str
    variables: Mapping[str, Any]
    properties: Mapping[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    documents: list[DocumentDraft] = field(default_factory=list)
    # The element's `camunda:field` values, expressions evaluated for this call.
    fields: Mapping[str, Any] = field(default_factory=dict)

    def attach(self, name: str, content: str, media_type: str = "text/markdown") -> None:
        """Store a document with the instance (see `Engine.documents`) once the task completes.

        A handler that fails afterwards, or whose call is rolled back, stores nothing.
        """
        self.documents.append(DocumentDraft(name, content, media_type))


ServiceHandler = Callable[[ServiceCall], Mapping[str, Any] | None]
"""A service handler: takes the `ServiceCall`, returns the variables to set (or None)."""


class ListenerTask:
    """The user task a task listener runs for: Camunda's `DelegateTask`.

    A listener may change the assignee and the candidates; the task row is stored with the
    changes. Camunda's getters and setters (`getAssignee()`, `setAssignee(u)`,
    `addCandidateGroup(g)`, ...) are there too, for expressions written for Camunda.
    """

    def __init__(
        self,
        *,
        id: str,
        name: str,
        element_id: str,
        assignee: str | None,
        candidate_groups: tuple[str, ...] = (),
        candidate_users: tuple[str, ...] = (),
        priority: int = 50,
        due: datetime | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.element_id = element_id
        self.assignee = assignee
        self.candidate_groups: tuple[str, ...] = tuple(candidate_groups)
        self.candidate_users: tuple[str, ...] = tuple(candidate_users)
        self.priority = priority
        self.due = due
        # Set by the engine: the call this task is part of (variables, event, instance).
        self.execution: ListenerCall | None = None

    @property
    def task_definition_key(self) -> str:
        """The user task's BPMN id (Camunda's `taskDefinitionKey`)."""
        return self.element_id

    def set_assignee(self, user: str | None) -> None:
        """Assign the task to `user`, or unassign it with None."""
        self.assignee = None if user in (None, "") else str(user)

    def add_candidate_group(self, group: str) -> None:
        """Offer the task to `group` too."""
        if group not in self.candidate_groups:
            self.candidate_groups = (*self.candidate_groups, group)

    def add_candidate_user(self, user: str) -> None:
        """Offer the task to `user` too."""
        if user not in self.candidate_users:
            self.candidate_users = (*self.candidate_users, user)

    def delete_candidate_group(self, group: str) -> None:
        """No longer offer the task to `group`."""
        self.candidate_groups = tuple(g for g in self.candidate_groups if g != group)

    def delete_candidate_user(self, user: str) -> None:
        """No longer offer the task to `user`."""
        self.candidate_users = tuple(u for u in self.candidate_users if u != user)

    def get_variable(self, name: str, default: Any = None) -> Any:
        """A variable of the instance (as `ListenerCall.get_variable`)."""
        return self.execution.get_variable(name, default) if self.execution else default

    def set_variable(self, name: str, value: Any) -> None:
        """Set a variable of the instance (as `ListenerCall.set_variable`)."""
        if self.execution is not None:
            self.execution.set_variable(name, value)

    # Camunda's DelegateTask names, for expressions and scripts written for Camunda.
    def getId(self) -> str:
        return self.id

    def getName(self) -> str:
        return self.name

    def getAssignee(self) -> str | None:
        return self.assignee

    def setAssignee(self, user: str | None) -> None:
        self.set_assignee(user)

    def getTaskDefinitionKey(self) -> str:
        return self.element_id

    def getPriority(self) -> int:
        return self.priority

    def setPriority(self, priority: int) -> None:
        self.priority = int(priority)

    def addCandidateGroup(self, group: str) -> None:
        self.add_candidate_group(group)

    def addCandidateUser(self, user: str) -> None:
        self.add_candidate_user(user)

    def deleteCandidateGroup(self, group: str) -> None:
        self.delete_candidate_group(group)

    def deleteCandidateUser(self, user: str) -> None:
        self.delete_candidate_user(user)

    def getVariable(self, name: str) -> Any:
        return self.get_variable(name)

    def setVariable(self, name: str, value: Any) -> None:
        self.set_variable(name, value)

    def getEventName(self) -> str | None:
        return self.execution.event if self.execution else None

    def getProcessInstanceId(self) -> str | None:
        return self.execution.instance_id if self.execution else None

    def getExecution(self) -> ListenerCall | None:
        return self.execution


class ListenerCall:
    """What a listener handler is given: Camunda's `DelegateExecution`, and the task if any.

    Attributes:
        event: `start`, `end` or `take` for execution listeners; `create`, `assignment`,
            `complete`, `delete`, `update` or `timeout` for task listeners.
        instance_id: The running instance's id.
        process_key: Its process key (the BPMN process id).
        business_key: Its business key, if it has one.
        element_id: The element the listener sits on: an activity, event or gateway, the
            process (its key), or for `take` the sequence flow.
        implementation: The listener's class or delegate expression text from the model.
        fields: The listener's `camunda:field` values, expressions evaluated for this call.
        task: The user task, for task listeners; None for execution listeners.
        user: Who made the call that fired the listener (the user completing a task), if known.
        now: The engine's clock.
    """

    def __init__(
        self,
        *,
        event: str,
        instance_id: str,
        process_key: str,
        business_key: str | None,
        element_id: str,
        implementation: str,
        variables: Mapping[str, Any],
        write: Callable[[str, Any], None],
        fields: Mapping[str, Any] | None = None,
        task: ListenerTask | None = None,
        user: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self.event = event
        self.instance_id = instance_id
        self.process_key = process_key
        self.business_key = business_key
        self.element_id = element_id
        self.implementation = implementation
        self.fields: Mapping[str, Any] = dict(fields or {})
        self.task = task
        self.user = user
        self.now = now or datetime.now(UTC)
        self._variables = dict(variables)
        self._write = write
        if task is not None:
            task.execution = self

    @property
    def variables(self) -> Mapping[str, Any]:
        """A copy of the variables the listener sees, with what it set so far."""
        return dict(self._variables)

    def get_variable(self, name: str, default: Any = None) -> Any:
        """A variable's value, or `default` when the instance has no such variable."""
        return self._variables.get(name, default)

    def set_variable(self, name: str, value: Any) -> None:
        """Set a process variable (a local one when the element has an input parameter of
        that name), as Camunda's `execution.setVariable` does."""
        self._variables[name] = value
        self._write(name, value)

    # Camunda's DelegateExecution names, for expressions and scripts written for Camunda.
    def getVariable(self, name: str) -> Any:
        return self.get_variable(name)

    def setVariable(self, name: str, value: Any) -> None:
        self.set_variable(name, value)

    def hasVariable(self, name: str) -> bool:
        return name in self._variables

    def getVariableLocal(self, name: str) -> Any:
        return self.get_variable(name)

    def setVariableLocal(self, name: str, value: Any) -> None:
        self.set_variable(name, value)

    def getVariableNames(self) -> list[str]:
        return list(self._variables)

    def getId(self) -> str:
        return self.instance_id

    def getProcessDefinitionId(self) -> str:
        return self.process_key

    def getVariables(self) -> dict[str, Any]:
        return dict(self._variables)

    def getEventName(self) -> str:
        return self.event

    def getProcessInstanceId(self) -> str:
        return self.instance_id

    def getBusinessKey(self) -> str | None:
        return self.business_key

    def getProcessBusinessKey(self) -> str | None:
        return self.business_key

    def getCurrentActivityId(self) -> str:
        return self.element_id

    def getProcessDefinitionKey(self) -> str:
        return self.process_key


ListenerHandler = Callable[[ListenerCall], Mapping[str, Any] | None]
"""A listener handler: takes the `ListenerCall`, returns the variables to set (like a service
handler), or None."""


@dataclass(frozen=True, slots=True)
class _Registration:
    handler: UserTaskHandler
    element_id: str | None
    form_key: str | None
    process_key: str | None

    def score(self, *, process_key: str, element_id: str, form_key: str | None) -> int:
        """How specifically this registration matches; -1 when it does not match."""
        if self.element_id is not None and self.element_id != element_id:
            return -1
        if self.form_key is not None and self.form_key != form_key:
            return -1
        if self.process_key is not None and self.process_key != process_key:
            return -1
        return (
            (self.element_id is not None) * 4
            + (self.form_key is not None) * 2
            + (self.process_key is not None)
        )


class HandlerRegistry:
    """Where an application plugs in user-task and service-task code."""

    def __init__(self) -> None:
        self._user_tasks: list[_Registration] = []
        self._default: UserTaskHandler = UserTaskHandler()
        self._services: dict[str, ServiceHandler] = {}
        self._listeners: dict[str, ListenerHandler] = {}
        self._beans: dict[str, Any] = {}
        self._read_authorizer: ReadAuthorizer | None = None

    def register_user_task(
        self,
        handler: UserTaskHandler,
        *,
        element_id: str | None = None,
        form_key: str | None = None,
        process_key: str | None = None,
    ) -> None:
        """Use `handler` for user tasks matching every criterion given; none given: the default."""
        if element_id is None and form_key is None and process_key is None:
            self._default = handler
        else:
            self._user_tasks.append(_Registration(handler, element_id, form_key, process_key))

    def user_task_handler(
        self, *, process_key: str, element_id: str, form_key: str | None
    ) -> UserTaskHandler:
        """The most specific handler registered for this task, else the default."""
        best, best_score = self._default, 0
        for registration in self._user_tasks:
            score = registration.score(
                process_key=process_key, element_id=element_id, form_key=form_key
            )
            if score >= max(best_score, 1):
                best, best_score = registration.handler, score
        return best

    def register_service(self, name: str, handler: ServiceHandler) -> None:
        """Run `handler` for service tasks whose implementation is `name` (see module doc)."""
        self._services[name] = handler

    def service(self, implementation: str) -> ServiceHandler | None:
        """The handler for a `camunda:class`, delegate expression, expression or topic."""
        for name in _service_names(implementation):
            if name in self._services:
                return self._services[name]
        return None

    def service_exact(self, name: str) -> ServiceHandler | None:
        """The handler registered under exactly this name."""
        return self._services.get(name)

    @property
    def services(self) -> Mapping[str, ServiceHandler]:
        """Every registered service handler by name."""
        return dict(self._services)

    def register_listener(self, name: str, handler: ListenerHandler) -> None:
        """Run `handler` for execution and task listeners whose `class` or
        `delegateExpression` is `name` (full or simple class name, or the delegate's bean name).
        """
        self._listeners[name] = handler

    def listener(self, implementation: str) -> ListenerHandler | None:
        """The handler for a listener's `camunda:class` or `camunda:delegateExpression` text."""
        for name in _service_names(implementation):
            if name in self._listeners:
                return self._listeners[name]
        return None

    @property
    def listeners(self) -> Mapping[str, ListenerHandler]:
        """Every registered listener handler by name."""
        return dict(self._listeners)

    def register_bean(self, name: str, bean: Any) -> None:
        """Make `bean` available as `name` in every JUEL expression, as a Spring bean is.

        Expressions may call the bean's public methods (`${mailer.send(order)}`) and read its
        public attributes and getters as properties (`${config.limit}` reads `getLimit()` or
        `limit`); names starting with `_` stay out of reach. A process variable of the same
        name wins over the bean. A later registration under the same name replaces the earlier.

        Raises:
            ValueError: `name` is not an identifier an expression can write, or starts with `_`.
        """
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"bean name {name!r} must be an identifier not starting with '_'")
        self._beans[name] = bean

    @property
    def beans(self) -> Mapping[str, Any]:
        """Every registered bean by name."""
        return dict(self._beans)

    def register_read_authorizer(self, authorizer: ReadAuthorizer | None) -> None:
        """Make `authorizer` the read policy of every engine built on this registry that is
        given none of its own (`Engine(read_authorizer=...)`); None removes it.

        It is called with a `flowdesk.authorization.ReadRequest` and returns None to allow the
        read or the reason it refuses it (see `flowdesk.authorization`). A later registration
        replaces the earlier.
        """
        self._read_authorizer = authorizer

    @property
    def read_authorizer(self) -> ReadAuthorizer | None:
        """The read policy registered with `register_read_authorizer`, if any."""
        return self._read_authorizer

    def load_entry_points(self) -> int:
        """Call every setup function of the `flowdesk.handlers` entry-point group with self."""
        count = 0
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            setup = entry_point.load()
            setup(self)
            count += 1
        return count


_EXPRESSION_NAME = re.compile(r"^[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)")


def _service_names(implementation: str) -> list[str]:
    """Names under which a handler may be registered for this implementation text."""
    text = implementation.strip()
    names = [text]
    match = _EXPRESSION_NAME.match(text)
    if match:
        names.append(match.group(1))
    elif "." in text:
        names.append(text.rsplit(".", 1)[1])
    return names


def _default_value(form_field: FormField, task: Task) -> Any:
    if form_field.default not in (None, ""):
        return form_field.default
    if not form_field.required:
        return None
    if form_field.enum_values:
        return form_field.enum_values[0]
    return {"long": 0, "boolean": False, "date": task.created_at.date().isoformat()}.get(
        form_field.type, "auto"
    )
