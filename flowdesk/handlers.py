"""Pluggable code for user tasks and service tasks, registered by the embedding application.

User-task handlers are matched by element id, form key and process key; the most specific
registration wins (element id > form key > process key > the default), and among equally
specific ones the latest. Service-task handlers are matched by the name a Camunda model uses
for its implementation: the `camunda:class` (full or simple class name), the name in a
`camunda:delegateExpression` (`${approvalDelegate}` -> `approvalDelegate`), the bean a
`camunda:expression` calls (`${mailer.send(to)}` -> `mailer`), or the external task `camunda:topic`.

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

ENTRY_POINT_GROUP = "flowdesk.handlers"


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

    def attach(self, name: str, content: str, media_type: str = "text/markdown") -> None:
        """Store a document with the instance (see `Engine.documents`) once the task completes.

        A handler that fails afterwards, or whose call is rolled back, stores nothing.
        """
        self.documents.append(DocumentDraft(name, content, media_type))


ServiceHandler = Callable[[ServiceCall], Mapping[str, Any] | None]


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
        self._beans: dict[str, Any] = {}

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
