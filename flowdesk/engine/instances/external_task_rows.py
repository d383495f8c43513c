"""External-task rows: one for each activity of an instance that waits for an external worker.

The workflow is the truth about what waits (`external_work`); each save brings the rows in
step with it. A task whose activity went without a worker (an interrupting boundary event, an
event sub-process, the instance ended) loses its row and the history says so, as Camunda
deletes the external task of a cancelled activity. A task with no retries left (0) keeps its
instance in incident, with the worker's error message, until its retries are set again.
"""

from __future__ import annotations

import functools
import uuid

from lxml import etree

from flowdesk._records import HistoryEventType
from flowdesk.engine.instances.context import EngineContext
from flowdesk.engine.instances.history_recorder import HistoryRecorder
from flowdesk.engine.languages.bpmn_namespaces import BPMN_NS, CAMUNDA_NS
from flowdesk.engine.spiff import external_work
from flowdesk.engine.spiff.workflow import WorkflowRun
from flowdesk.engine.spiff.workflow_records import Incident
from flowdesk.errors import ExpressionError
from flowdesk.store import DefinitionRow, ExternalTaskRow, InstanceRow, UnitOfWork

# What a task with no retries left gets when `Engine.retry` runs its instance again: Camunda
# Cockpit's "retry" of a failed external task sets its retries to 1.
RETRIES_ON_RETRY = 1


class ExternalTaskRows:
    """The part of an `Execution` that keeps external-task rows in step with the workflow.

    `instance` is the instance row as loaded: only its id, process key and business key are
    read, which an instance keeps for life; `is_new` says it was started in this call.
    """

    __slots__ = ("_ctx", "_definition", "_history", "_instance", "_is_new", "_run", "_uow")

    def __init__(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        instance: InstanceRow,
        definition: DefinitionRow,
        run: WorkflowRun,
        history: HistoryRecorder,
        *,
        is_new: bool,
    ) -> None:
        self._ctx = ctx
        self._uow = uow
        self._instance = instance
        self._definition = definition
        self._run = run
        self._history = history
        self._is_new = is_new

    def sync(self) -> None:
        """One row per activity that waits for an external worker (see the module docstring)."""
        if not self._ctx.specs.waits(self._uow, self._definition).external_tasks:
            return  # nothing in this version is an external task
        wanted = {request.task_ref: request for request in self._run.external_requests()}
        existing = (
            [] if self._is_new else self._uow.external_tasks.list(instance_id=self._instance.id)
        )
        now = self._ctx.now()
        failed: list[ExternalTaskRow] = []
        for row in existing:
            if wanted.pop(row.task_ref, None) is None:
                self._uow.external_tasks.delete(row.id)
                self._history.record(
                    HistoryEventType.EXTERNAL_TASK_CANCELLED,
                    element_id=row.element_id,
                    data={"task_id": row.id, "topic": row.topic},
                )
            elif row.retries is not None and row.retries <= 0:
                if self._run.retried:
                    self._uow.external_tasks.update(row.id, retries=RETRIES_ON_RETRY)
                else:
                    failed.append(row)
        for request in wanted.values():
            priority = request.priority
            if priority is None:
                try:
                    priority = self._process_priority(request.element_id)
                except ExpressionError as err:
                    # No row yet: `retry` evaluates it again once the cause is fixed.
                    if self._run.incident is None:
                        self._run.incident = Incident(
                            request.element_id, request.task_ref, str(err)
                        )
                    continue
            task_id = str(uuid.uuid4())
            self._uow.external_tasks.add(
                ExternalTaskRow(
                    id=task_id,
                    instance_id=self._instance.id,
                    definition_id=self._definition.id,
                    process_key=self._instance.process_key,
                    business_key=self._instance.business_key,
                    element_id=request.element_id,
                    task_ref=request.task_ref,
                    topic=request.topic,
                    priority=priority,
                    created_at=now,
                    properties=dict(request.properties),
                )
            )
            self._history.record(
                HistoryEventType.EXTERNAL_TASK_CREATED,
                element_id=request.element_id,
                data={"task_id": task_id, "topic": request.topic},
            )
        if failed and self._run.incident is None:
            row = failed[0]
            message = row.error_message or f"external task {row.id!r} has no retries left"
            self._run.incident = Incident(row.element_id, row.task_ref, message)

    def _process_priority(self, element_id: str) -> int:
        """The `camunda:taskPriority` of the process around the element, else 0.

        Raises:
            ExpressionError: The priority expression fails, or gives no integer.
        """
        text = process_task_priority(self._definition.xml, element_id)
        if text is None:
            return external_work.DEFAULT_PRIORITY
        return external_work.evaluate_priority(text, self._run.variables, element_id)


@functools.lru_cache(maxsize=256)
def process_task_priority(xml: str, element_id: str) -> str | None:
    """The `camunda:taskPriority` text of the `bpmn:process` that holds `element_id`.

    Spiff keeps no attribute of the process element, so it is read from the deployed XML
    (once per version and element: a deployed version never changes).
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(xml.encode("utf-8"), parser)
    for element in root.iter(f"{{{BPMN_NS}}}*"):
        if element.get("id") != element_id:
            continue
        for ancestor in element.iterancestors(f"{{{BPMN_NS}}}process"):
            return ancestor.get(f"{{{CAMUNDA_NS}}}taskPriority")
    return None
