"""The plain data a `WorkflowRun` takes and hands back: no SpiffWorkflow object in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SpecBundle:
    """A parsed process and every process it may call, cached per deployed version."""

    spec: Any
    subprocess_specs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenUserTask:
    """A user task waiting for a person, as the engine first sees it."""

    task_ref: str
    element_id: str
    name: str
    documentation: str
    extensions: dict[str, Any]
    variables: dict[str, Any]
    # The multi-instance locals among `variables` (loopCounter, element variable, nrOf*).
    instance_locals: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Incident:
    element_id: str
    task_ref: str
    message: str


@dataclass(frozen=True, slots=True)
class CompletedActivity:
    element_id: str
    name: str
    kind: str  # the Spiff spec class, e.g. "ExclusiveGateway"
    next_elements: tuple[str, ...] = ()  # for gateways: where the token went
    decision: tuple[str, str, Any] | None = None  # business rule task: decision, variable, value


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call activity that wants its process started."""

    task_ref: str
    element_id: str
    called_element: str
    extensions: dict[str, Any]
    variables: dict[str, Any]  # what the activity sees: scope, input parameters, MI locals


@dataclass
class StepLog:
    """What happened during the call, for the history table."""

    completed: list[CompletedActivity] = field(default_factory=list)
