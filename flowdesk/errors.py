"""Every error flowdesk raises, rooted at `FlowdeskError`.

```
FlowdeskError
├── BpmnValidationError      BPMN/DMN rejected at deploy (file, line, element_id)
├── ExpressionError          JUEL/Python that cannot be translated, or is not allowed
│   └── ScriptLimitError     a script or expression went over its CPU-time or memory limit
├── NotFound                 (also a LookupError) definition / instance / task / decision
├── NotAuthorized            the user may not act on this task (user, task_id)
├── FormValidationError      completion data fails the form (errors: field -> message)
├── TaskStateError           task not open: completed, cancelled, or held by another user
├── InstanceStateError       the instance is not in a state that allows the call
├── ExternalTaskLockError    an external task call that its lock refuses (task_id, worker_id)
│   ├── ExternalTaskWorkerMismatch  the task is not locked by this worker (locked_by)
│   └── ExternalTaskLockExpired     extending a lock that already ran out
├── ConcurrencyConflict      lost an optimistic-lock race; retrying is safe
├── CorrelationError         message matched no waiting instance, or several
├── StartEventError          `start` cannot tell which start event of the process to begin at
├── HandlerError             a handler failed (original on __cause__)
├── DecisionError            a DMN decision failed while evaluated (decision_id, element_id)
├── InvalidArgument          (also a ValueError) an argument flowdesk cannot take
│   ├── VariableError        (also a TypeError) a variable value of no Camunda type, or NaN
│   ├── LimitExceeded        a file or variables over the Engine's `InputLimits`
│   └── DiagramError         `Engine.diagram` of a file without a diagram (BPMN DI)
└── StoreError               database failure, naming the database (SQLAlchemy error on __cause__)
```

`BpmnError` is not an error of flowdesk's: a service-task handler raises it to throw a BPMN
error that the model catches with an error boundary or event subprocess.

Messages name the ids needed to act, never process variables (they may hold personal data).
This module imports nothing from flowdesk so that every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class FlowdeskError(Exception):
    """Base class of every error flowdesk raises."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a BPMN or DMN file, located as precisely as the file allows."""

    file: str
    line: int | None
    element_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        element = f" [{self.element_id}]" if self.element_id else ""
        return f"{where}{element}: {self.message}"


class BpmnValidationError(FlowdeskError):
    """A BPMN or DMN file was rejected; `problems` lists every finding, the first is on self."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("BpmnValidationError needs at least one problem")
        self.problems = list(problems)
        first = self.problems[0]
        self.file = first.file
        self.line = first.line
        self.element_id = first.element_id
        text = "\n".join(str(p) for p in self.problems)
        super().__init__(text)


class ExpressionError(FlowdeskError):
    """An expression or script could not be translated, or does what the sandbox forbids."""

    def __init__(self, expression: str, reason: str, *, element_id: str | None = None) -> None:
        where = f" in {element_id!r}" if element_id else ""
        super().__init__(f"expression {expression!r}{where}: {reason}")
        self.expression = expression
        self.reason = reason
        self.element_id = element_id


class ScriptLimitError(ExpressionError):
    """A script or expression went over its `ScriptLimits`; `kind` is "time" or "memory".

    Like any failing script, it makes the step an incident, which `retry` runs again.
    """

    def __init__(
        self, expression: str, reason: str, *, kind: str, element_id: str | None = None
    ) -> None:
        super().__init__(expression, reason, element_id=element_id)
        self.kind = kind


class NotFound(FlowdeskError, LookupError):
    """No definition, instance, task or decision has this key or id."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"no {kind} {ident!r}")
        self.kind = kind
        self.ident = ident


class NotAuthorized(FlowdeskError):
    """The user is neither the assignee nor a candidate of the task, or is excluded from it."""

    def __init__(self, task_id: str, user: str, reason: str | None = None) -> None:
        because = f" ({reason})" if reason else ""
        super().__init__(f"user {user!r} may not act on task {task_id!r}{because}")
        self.task_id = task_id
        self.user = user
        self.reason = reason


class ReadNotAuthorized(FlowdeskError):
    """The engine's read authorizer refuses `user` the instance's `resource` ("instance",
    "history" or "documents"); `reason` is the policy's text. See `flowdesk.authorization`."""

    def __init__(self, instance_id: str, user: str, resource: str, reason: str) -> None:
        super().__init__(
            f"user {user!r} may not read the {resource} of instance {instance_id!r}: {reason}"
        )
        self.instance_id = instance_id
        self.user = user
        self.resource = resource
        self.reason = reason


class FormValidationError(FlowdeskError):
    """Completion data fails the task's form; `errors` maps each field id to what is wrong."""

    def __init__(self, task_id: str, errors: Mapping[str, str]) -> None:
        detail = "; ".join(f"{field}: {message}" for field, message in errors.items())
        super().__init__(f"task {task_id!r}: {detail}")
        self.task_id = task_id
        self.errors = dict(errors)


class TaskStateError(FlowdeskError):
    """The task is not open (completed or cancelled), or another user holds it."""

    def __init__(self, task_id: str, reason: str) -> None:
        super().__init__(f"task {task_id!r}: {reason}")
        self.task_id = task_id
        self.reason = reason


class InstanceStateError(FlowdeskError):
    """The instance's state does not allow the call (e.g. retrying one with no incident)."""

    def __init__(self, instance_id: str, state: str, reason: str) -> None:
        super().__init__(f"instance {instance_id!r} is {state}: {reason}")
        self.instance_id = instance_id
        self.state = state


class ExternalTaskLockError(FlowdeskError):
    """An external-task call that the task's lock refuses; nothing was changed.

    Camunda 7 answers these with a `BadUserRequestException` (HTTP 400 over REST).
    """

    def __init__(self, task_id: str, worker_id: str, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.worker_id = worker_id


class ExternalTaskWorkerMismatch(ExternalTaskLockError):
    """The external task is locked by another worker, or by none (`locked_by` is None)."""

    def __init__(self, task_id: str, worker_id: str, locked_by: str | None, action: str) -> None:
        super().__init__(
            task_id,
            worker_id,
            f"external task {task_id!r} cannot be {action} by worker {worker_id!r}: it is "
            + (f"locked by worker {locked_by!r}" if locked_by else "not locked"),
        )
        self.locked_by = locked_by


class ExternalTaskLockExpired(ExternalTaskLockError):
    """The lock of the external task ran out before the worker extended it."""

    def __init__(self, task_id: str, worker_id: str) -> None:
        super().__init__(
            task_id,
            worker_id,
            f"external task {task_id!r}: cannot extend a lock that expired",
        )


class ConcurrencyConflict(FlowdeskError):
    """Another caller changed the instance first; nothing was saved and retrying is safe."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"instance {instance_id!r} was changed concurrently; retry the call")
        self.instance_id = instance_id


class CorrelationError(FlowdeskError):
    """A message matched no waiting instance or start event, or matched several."""

    def __init__(self, message_name: str, reason: str) -> None:
        super().__init__(f"message {message_name!r}: {reason}")
        self.message_name = message_name
        self.reason = reason


class StartEventError(FlowdeskError):
    """`Engine.start` cannot begin the process: it has no start event Camunda 7 would pick.

    Camunda 7 starts at the process's none (or timer) start event, or at its only start event
    whatever that catches; a process with several start events and none of those kinds can
    only be started by what its start events catch (`correlate`, `signal`).
    """

    def __init__(self, process_key: str, reason: str) -> None:
        super().__init__(f"cannot start process {process_key!r}: {reason}")
        self.process_key = process_key
        self.reason = reason


class HandlerError(FlowdeskError):
    """A registered handler failed; the original exception is on `__cause__`."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"handler {name!r}: {reason}")
        self.name = name


class StoreError(FlowdeskError):
    """The database failed; the SQLAlchemy error is on `__cause__`.

    `database` names the database (a SQLite file's path, or the URL without its password)
    and the message ends with it, or None where it is not known.
    """

    def __init__(self, message: str, *, database: str | None = None) -> None:
        super().__init__(message if database is None else f"{message} (database: {database})")
        self.database = database


class InvalidArgument(FlowdeskError, ValueError):
    """An argument of a public call that flowdesk cannot take; nothing was stored.

    Also a `ValueError`, so code written against the plain Python errors still catches it.
    """


class VariableError(InvalidArgument, TypeError):
    """A variable flowdesk cannot store as one of Camunda 7's types (see docs/variables.md).

    `name` is the variable, with the path into it (`order.lines[3]`); `reason` says what is
    wrong (`NaN is not a Double Camunda can store`, `a set is no Camunda type`). The value itself
    is never in the message: it may hold personal data. Also a `TypeError`, which the
    `instances(variables=...)` filter raised for a value of the wrong type before.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"variable {name!r}: {reason}")
        self.name = name
        self.reason = reason


class LimitExceeded(InvalidArgument):
    """A file or the variables of a call are over the Engine's `InputLimits`.

    `what` names the input (`variables`, `variable 'order'`), `limit` the setting that
    refused it (`max_variables_bytes`) and `size` how big it was (bytes, or nesting depth).
    """

    def __init__(self, what: str, limit: str, size: int, maximum: int) -> None:
        super().__init__(f"{what}: {size} is over the limit {limit}={maximum}")
        self.what = what
        self.limit = limit
        self.size = size
        self.maximum = maximum


class DiagramError(InvalidArgument):
    """A process cannot be drawn: its file has no diagram (BPMN DI) for it, or is no BPMN.

    `process_key` names the process (None when not known); `reason` says what is missing.
    """

    def __init__(self, process_key: str | None, reason: str) -> None:
        what = f"process {process_key!r}" if process_key else "diagram"
        super().__init__(f"{what}: {reason}")
        self.process_key = process_key
        self.reason = reason


class MissingHandlerWarning(UserWarning):
    """A deployed service task has no registered handler: running it will raise an incident."""

    def __init__(self, process_key: str, element_id: str, implementation: str | None) -> None:
        super().__init__(
            f"process {process_key!r}: service task {element_id!r} "
            f"({implementation or 'no implementation'}) has no registered handler"
        )
        self.process_key = process_key
        self.element_id = element_id
        self.implementation = implementation


class MissingListenerWarning(MissingHandlerWarning):
    """A deployed listener's class or delegate expression has no registered listener handler:
    reaching it will raise an incident (a task `complete` listener fails the completion)."""

    def __init__(self, process_key: str, element_id: str, implementation: str, event: str) -> None:
        UserWarning.__init__(
            self,
            f"process {process_key!r}: {event} listener on {element_id!r} "
            f"({implementation}) has no registered handler",
        )
        self.process_key = process_key
        self.element_id = element_id
        self.implementation = implementation
        self.event = event


class IgnoredExtensionWarning(UserWarning):
    """A deployed model uses a Camunda 7 setting that flowdesk accepts but does not carry out.

    Deploy warns once per element and setting (`problem` locates it); the model runs, but
    where Camunda 7 would act on the setting, flowdesk does not, as the message says.
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class MissingCalledProcessWarning(UserWarning):
    """A deployed call activity calls a process that is not deployed (yet).

    Camunda 7 resolves the called process when the call activity runs, so the model deploys;
    an instance that reaches the call before that process is deployed gets an incident, which
    `retry` clears once it is. `problem` has the file, line, call activity and process key.
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class BpmnError(Exception):
    """Raised by a service-task handler to throw a BPMN error the model can catch.

    Any other exception from a handler is a technical failure and becomes an incident.
    """

    def __init__(self, code: str, message: str = "", variables: Mapping[str, object] | None = None):
        super().__init__(message or code)
        self.code = code
        self.variables = dict(variables or {})


class DecisionError(FlowdeskError):
    """A DMN decision failed while it was evaluated (e.g. two rules match a UNIQUE table).

    `decision_id` is the decision, `element_id` the rule, input or output entry at fault when
    one is known. In a business rule task this error becomes the instance's incident.
    """

    def __init__(self, decision_id: str, reason: str, *, element_id: str | None = None) -> None:
        where = f" [{element_id}]" if element_id else ""
        super().__init__(f"decision {decision_id!r}{where}: {reason}")
        self.decision_id = decision_id
        self.element_id = element_id
        self.reason = reason
