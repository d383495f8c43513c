"""Timer start events: one job per deployed process version, which starts its instances.

In Camunda 7 a timer start event is not something an instance waits for: deploying the process
schedules a job of the definition, each time the job fires it starts an instance, a cycle is
scheduled again, and deploying a new version of the process replaces the old version's jobs.
flowdesk does the same. The job row has no instance (`instance_id=None`, `definition_id` set);
its `payload` keeps the timer's name and, for a cycle, where the cycle stands (see
`timer_texts.CycleState`), because no workflow holds that state between two instances.

A `${...}` text of a timer start event is evaluated once, at deploy, without variables (no
instance exists yet to give any).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from flowdesk.engine.languages import expressions, sandbox, timer_texts
from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.spiff import retry_cycles
from flowdesk.errors import BpmnValidationError, ExpressionError, Problem
from flowdesk.store import DefinitionRow, JobRow, JobState, JobType, UnitOfWork

_TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")


@dataclass(frozen=True, slots=True)
class TimerStart:
    """A timer start event of a process, as the BPMN file gives it."""

    element_id: str
    name: str
    kind: str  # "timeDate" | "timeDuration" | "timeCycle"
    text: str
    line: int | None


def schedule(
    uow: UnitOfWork,
    definition: DefinitionRow,
    tree: Any,
    *,
    previous: DefinitionRow | None,
    now: datetime,
) -> None:
    """Give each timer start event of a newly deployed version its job.

    The previous version's timer start jobs are deleted, as Camunda does.

    Raises:
        BpmnValidationError: A timer text cannot be scheduled (an expression that needs
            variables, a cycle with no time to fire).
    """
    if previous is not None:
        for job in uow.jobs.list(definition_id=previous.id):
            if job.instance_id is None:
                uow.jobs.delete(job.id)
    for start in timer_start_events(tree, definition.key):
        try:
            due, cycle = _first_due(start, now)
        except (ValueError, ExpressionError) as err:
            raise BpmnValidationError(
                [
                    Problem(
                        definition.resource_name,
                        start.line,
                        start.element_id,
                        f"{start.kind} of timer start event {start.element_id!r} cannot be "
                        f"scheduled: {err}",
                    )
                ]
            ) from err
        if due is None:
            continue  # a cycle with no repetitions, or a cron text that never matches again
        payload: dict[str, Any] = {"name": start.name}
        if cycle is not None:
            payload["cycle"] = dict(cycle)
        uow.jobs.add(
            JobRow(
                id=str(uuid.uuid4()),
                instance_id=None,
                definition_id=definition.id,
                element_id=start.element_id,
                task_ref=start.element_id,
                type=JobType.TIMER,
                due_at=due,
                state=JobState.WAITING.value,
                attempts=0,
                retries_left=retry_cycles.DEFAULT.retries,
                created_at=now,
                payload=payload,
            )
        )


def reschedule(uow: UnitOfWork, job: JobRow, now: datetime) -> datetime | None:
    """After a timer start job fired at `now`: its next due time, or None when it is done.

    A cycle moves on (the job keeps its id); a date or duration fires once, so its job goes.
    """
    cycle = job.payload.get("cycle")
    if cycle is None:
        uow.jobs.delete(job.id)
        return None
    state = timer_texts.next_cycle(timer_texts.cycle_state(cycle), now)
    if state["next"] is None:
        uow.jobs.delete(job.id)
        return None
    due = timer_texts.parse_due(state["next"])
    uow.jobs.update(
        job.id,
        due_at=due,
        payload={**job.payload, "cycle": dict(state)},
        locked_by=None,
        lock_expires_at=None,
    )
    return due


def timer_start_events(tree: Any, process_id: str) -> list[TimerStart]:
    """The timer start events of one process (not those of its event sub-processes)."""
    found = []
    # Processes are children of the definitions: walking the whole tree for each process
    # made a deployment with many processes quadratic in its size.
    for process in tree.getroot().iterchildren(f"{BPMN}process"):
        if process.get("id") != process_id:
            continue
        for start in process.findall(f"{BPMN}startEvent"):
            for definition in start.findall(f"{BPMN}timerEventDefinition"):
                for child in definition:
                    if not isinstance(child.tag, str):
                        continue
                    kind = etree.QName(child).localname
                    if kind in _TIMER_TAGS:
                        element_id = str(start.get("id"))
                        found.append(
                            TimerStart(
                                element_id=element_id,
                                name=str(start.get("name") or element_id),
                                kind=kind,
                                text=timer_texts.timer_literal(child.text or ""),
                                line=start.sourceline,
                            )
                        )
    return found


def _first_due(
    start: TimerStart, now: datetime
) -> tuple[datetime | None, timer_texts.CycleState | None]:
    value: Any = start.text
    if expressions.is_juel(start.text):
        value = sandbox.evaluate_value(start.text, {})
    if start.kind == "timeDate":
        return timer_texts.parse_due(timer_texts.due_text(value)), None
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    if start.kind == "timeDuration":
        return timer_texts.after_duration(now, value), None
    cycle = timer_texts.first_cycle(value, now)
    return (timer_texts.parse_due(cycle["next"]) if cycle["next"] else None), cycle
